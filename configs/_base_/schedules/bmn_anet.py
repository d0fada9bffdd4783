# MMAction2's BMN ActivityNet schedule: Adam 1e-3, wd 1e-4, 9 epochs, step at 7.
max_epochs = 9
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_begin=1, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(optimizer=dict(type='Adam', lr=0.001, weight_decay=0.0001))
param_scheduler = [dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True,
                        milestones=[7], gamma=0.1)]
# the reference batch is 2 GPUs x 8 videos
auto_scale_lr = dict(enable=False, base_batch_size=16)
