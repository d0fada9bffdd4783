# Baseline: G-TAD on THUMOS-14 two-stream features (official `master` settings: feat_dim 2048
# (flow 1024 + rgb 1024), T = 256 snippets of 5 frames, D = 64, widths 256/128/512, 2-D kernel 3,
# soft-NMS sigma 0.46, top 200, proposals of >= 300 frames zeroed).
_base_ = ['_base_/datasets/thumos_feature.py', '_base_/default_runtime.py']
model = dict(
    type='NeckLocalizer',
    localizer=dict(type='GTAD', variant='thumos', feat_dim={{_base_.feat_dim}},
                   temporal_dim={{_base_.window_size}}, max_duration=64, h_dim_1d=256,
                   h_dim_2d=128, h_dim_3d=512, kernel_2d=3, soft_nms_sigma=0.46,
                   max_proposals=200, max_proposal_frames=300))
# Schedule: Adam 4e-3, wd 1e-4 (assumed from the official opts; not checked against an oracle).
max_epochs = 5
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_begin=1, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(optimizer=dict(type='Adam', lr=0.004, weight_decay=0.0001))
param_scheduler = [dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True,
                        milestones=[5], gamma=0.1)]
default_hooks = dict(checkpoint=dict(save_best='auto'))
