# Similarity Matching schedule from the authors' code: AdamW lr 1e-4 (PyTorch defaults otherwise,
# weight decay 0.01 on every parameter), batch 256 windows, 150 epochs, no lr schedule.
max_epochs = 150
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=10)
optim_wrapper = dict(optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), eps=1e-8,
                                    weight_decay=0.01))
param_scheduler = []
