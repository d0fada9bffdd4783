# Baseline: ActionFormer on THUMOS-14 I3D features with the official thumos_i3d.yaml settings
# (over the defaults of libs/core/config.py): 6 levels (arch 2/2/5), local attention window 19,
# 512-d embedding / FPN / heads, 4 heads, max_seq_len 2304, centre sampling radius 1.5, focal +
# DIoU (weight 1), loss normaliser EMA from 100, drop-path 0.1; AdamW lr 1e-4, weight decay 0.05
# (no decay on biases, norms, scales), batch 2, gradient clip 1.0, 5 warm-up + 30 cosine epochs
# stepped per iteration, model EMA 0.999 (evaluated); multiclass Soft-NMS sigma 0.5, top 2000
# candidates per level, 200 per video.
_base_ = ['_base_/datasets/thumos_i3d.py', '_base_/schedules/actionformer.py',
          '_base_/default_runtime.py']
model = dict(
    type='NeckLocalizer',
    localizer=dict(
        type='ActionFormer', input_dim={{_base_.feat_dim}}, num_classes=20,
        max_seq_len={{_base_.max_seq_len}}, max_buffer_len_factor=6.0, backbone_arch=(2, 2, 5),
        scale_factor=2, n_head=4, n_mha_win_size=19, embd_kernel_size=3, embd_dim=512,
        embd_with_ln=True, fpn_dim=512, fpn_with_ln=True, head_dim=512, head_kernel_size=3,
        head_num_layers=3, head_with_ln=True, use_abs_pe=False,
        regression_range=[(0, 4), (4, 8), (8, 16), (16, 32), (32, 64), (64, 10000)],
        train_cfg=dict(center_sample='radius', center_sample_radius=1.5, loss_weight=1.0,
                       cls_prior_prob=0.01, init_loss_norm=100, droppath=0.1,
                       label_smoothing=0.0, head_empty_cls=[]),
        test_cfg=dict(pre_nms_thresh=0.001, pre_nms_topk=2000, iou_threshold=0.1,
                      min_score=0.001, max_seg_num=200, nms_method='soft', nms_sigma=0.5,
                      duration_thresh=0.05, multiclass_nms=True, voting_thresh=0.7),
        class_names='thumos14'))
warmup_epochs = 5
max_epochs = warmup_epochs + 30
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_begin=max_epochs,
                 val_interval=1)
optim_wrapper = dict(optimizer=dict(lr=1e-4))
param_scheduler = [
    dict(type='ZeroStartLinearLR', begin=0, end=warmup_epochs, by_epoch=True,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', begin=warmup_epochs, end=max_epochs,
         T_max=max_epochs - warmup_epochs, eta_min=1e-8, by_epoch=True,
         convert_to_iter_based=True)]
auto_scale_lr = dict(enable=False, base_batch_size=2)
default_hooks = dict(checkpoint=dict(interval=5, save_best=None))
