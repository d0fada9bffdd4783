# Official G-TAD ActivityNet schedule (`anet` branch opts): Adam lr 4e-3, weight decay 1e-4,
# batch 16, 10 epochs, lr x0.1 after epoch 5 (StepLR step_size 5), no gradient clipping.
max_epochs = 10
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_begin=1, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(optimizer=dict(type='Adam', lr=0.004, weight_decay=0.0001))
param_scheduler = [dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True,
                        milestones=[5], gamma=0.1)]
# the reference batch is 16 videos (one process)
auto_scale_lr = dict(enable=False, base_batch_size=16)
