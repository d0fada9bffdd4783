# Baseline: G-TAD on THUMOS-14 two-stream features, official `master` settings: feat_dim 2048
# (flow 1024 + rgb 1024), windows of T = 256 snippets of 5 frames, D = 64, widths 256/128/512,
# SGAlign 16 inner + 16 context bins, 3x3 2-D head, loss TEM + reg + 10 cls (pem_cls counts +10),
# soft-NMS sigma 0.46 (divides IoU^2), top 200, proposals of >= 300 frames zeroed.
_base_ = ['_base_/datasets/thumos_feature.py', '_base_/default_runtime.py']
model = dict(
    type='NeckLocalizer',
    localizer=dict(type='GTAD', variant='thumos', feat_dim={{_base_.feat_dim}},
                   temporal_dim={{_base_.window_size}}, max_duration=64, h_dim_1d=256,
                   h_dim_2d=128, h_dim_3d=512, inner_bins=16, context_bins=16, kernel_2d=3,
                   loss_weights=dict(tem=1., pem_reg=1., pem_cls=10.), pem_cls_count_offset=10.,
                   soft_nms_sigma=0.46, max_proposals=200, max_proposal_frames=300,
                   fused_sgalign=True))
# Official schedule (`master` gtad_train.py / opts): Adam lr 4e-5, weight decay 1e-4, batch 8,
# gradient-norm clip 1, 10 epochs, lr x0.1 after epoch 5.
# G-TAD's last window (master dataset.py): one more window ending at the video end only when the
# regular ones leave more than int(T / skip) snippets (51 at T = 256) uncovered
train_dataloader = dict(batch_size=8, dataset=dict(tail_min_snippets='gtad'))
val_dataloader = dict(dataset=dict(tail_min_snippets='gtad'))
test_dataloader = dict(dataset=dict(tail_min_snippets='gtad'))
max_epochs = 10
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_begin=1, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(optimizer=dict(type='Adam', lr=4e-5, weight_decay=0.0001),
                     clip_grad=dict(max_norm=1, norm_type=2))
param_scheduler = [dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True,
                        milestones=[5], gamma=0.1)]
auto_scale_lr = dict(enable=False, base_batch_size=8)
# Checkpoint rule of the official THUMOS recipe: the last epoch of the fixed schedule (THUMOS14
# test is the reported set); best on a metric: default_hooks.checkpoint.save_best=mAP_avg.
default_hooks = dict(checkpoint=dict(save_best=None))
