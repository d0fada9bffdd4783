# Baseline: ActionFormer on ActivityNet-1.3 TSP features with the official anet_tsp.yaml settings
# (over the defaults of libs/core/config.py): 6 levels (arch 2/2/5), windows 7 and global on the
# last level, 256-d, 4 heads, absolute position encoding, max_seq_len 192, 1 class, radius 1.5,
# loss weight 2, label smoothing 0.1, loss normaliser EMA from 200, drop-path 0.1; AdamW lr 1e-3,
# weight decay 0.05, batch 16, gradient clip 1.0, 5 warm-up + 10 cosine epochs per iteration,
# model EMA 0.999; class-agnostic Soft-NMS sigma 0.75 with score voting 0.9, 100 per video, then
# the CUHK classifier fusion in the metric; mAP at tIoU 0.5:0.05:0.95.
_base_ = ['_base_/datasets/anet_tsp.py', '_base_/schedules/actionformer.py',
          '_base_/default_runtime.py']
model = dict(type='NeckLocalizer', localizer=dict(
    type='ActionFormer', input_dim={{_base_.feat_dim}}, num_classes=1,
    max_seq_len={{_base_.max_seq_len}}, max_buffer_len_factor=1.0, backbone_arch=(2, 2, 5),
    scale_factor=2, n_head=4, n_mha_win_size=[7, 7, 7, 7, 7, -1], embd_kernel_size=3,
    embd_dim=256, embd_with_ln=True, fpn_dim=256, fpn_with_ln=True, head_dim=256,
    head_kernel_size=3, head_num_layers=3, head_with_ln=True, use_abs_pe=True,
    regression_range=[(0, 4), (4, 8), (8, 16), (16, 32), (32, 64), (64, 10000)],
    train_cfg=dict(center_sample='radius', center_sample_radius=1.5, loss_weight=2.0,
                   cls_prior_prob=0.01, init_loss_norm=200, droppath=0.1,
                   label_smoothing=0.1, head_empty_cls=[]),
    test_cfg=dict(pre_nms_thresh=0.001, pre_nms_topk=2000, iou_threshold=0.1, min_score=0.001,
                  max_seg_num=100, nms_method='soft', nms_sigma=0.75, duration_thresh=0.001,
                  multiclass_nms=False, voting_thresh=0.9)))
warmup_epochs = 5
max_epochs = warmup_epochs + 10
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_begin=max_epochs,
                 val_interval=1)
optim_wrapper = dict(optimizer=dict(lr=1e-3))
param_scheduler = [
    dict(type='ZeroStartLinearLR', begin=0, end=warmup_epochs, by_epoch=True,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', begin=warmup_epochs, end=max_epochs,
         T_max=max_epochs - warmup_epochs, eta_min=1e-8, by_epoch=True,
         convert_to_iter_based=True)]
auto_scale_lr = dict(enable=False, base_batch_size=16)
default_hooks = dict(checkpoint=dict(interval=5, save_best=None))
