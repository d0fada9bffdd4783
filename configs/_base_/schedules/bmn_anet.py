# MMAction2's BMN ActivityNet schedule (bmn_2xb8-400x100-9e_activitynet-feature.py): Adam 1e-3,
# wd 1e-4, gradient-norm clip 40, 9 epochs, step at 7 (configs/bmn_anet.py adds its drop_last=True).
# Deliberate differences from that config: docs/evaluation.md, "BMN on ActivityNet".
max_epochs = 9
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_begin=1, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(optimizer=dict(type='Adam', lr=0.001, weight_decay=0.0001),
                     clip_grad=dict(max_norm=40, norm_type=2))
param_scheduler = [dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True,
                        milestones=[7], gamma=0.1)]
# the reference batch is 2 GPUs x 8 videos
auto_scale_lr = dict(enable=False, base_batch_size=16)
