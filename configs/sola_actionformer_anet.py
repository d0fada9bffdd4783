# SoLa + ActionFormer on ActivityNet-1.3 TSP features: stage 1 (Similarity Matching) then
# ActionFormer on the frozen SoLa output, then evaluation:
#   python tools/train.py configs/sola_actionformer_anet.py
# SoLa runs on each whole video before any resize: the pipeline keeps the raw length
# (ActionFormerGrid(resize_features=False), no ActionFormerTruncate) and ActionFormer resizes to
# 192 and crops (same rule and draws) after the neck (resize_to, train_crop).
_base_ = ['actionformer_anet.py']
model = dict(
    neck=dict(type='SoLa', in_channels=512, hidden_channels=512, kernel_size1=5, dilation1=1,
              kernel_size2=1, dilation2=1, frozen=True),
    localizer=dict(resize_to=192, train_crop=dict(trunc_thresh=0.5, crop_ratio=[0.9, 1.0])))
raw_grid = dict(type='ActionFormerGrid', feat_stride=16, num_frames=16, default_fps=15,
                max_seq_len=192, force_upsampling=True, num_classes=1, remove_duplicates=True,
                resize_features=False)
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadTALFeature', feat_dim=512), dict(raw_grid, outside_trunc_thresh=0.5),
    {{_base_.pack}}]))
val_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadTALFeature', feat_dim=512), raw_grid, {{_base_.pack}}]))
test_dataloader = val_dataloader
sola_stage1 = dict(config='{{ fileDirname }}/sola_pretrain_anet.py', checkpoint=None,
                   work_subdir='sola_stage1', inherit=True, cfg_options=dict())
custom_hooks = [dict(type='EMAHook', momentum=0.001, update_buffers=False,
                     priority='ABOVE_NORMAL'),
                dict(type='SoLaStage1Hook')]
