# SoLa + ActionFormer on THUMOS-14 I3D features: stage 1 (Similarity Matching on the training
# videos' I3D features) then ActionFormer on the frozen SoLa output (the neck runs on each whole
# video, before any truncation), then evaluation, in one command:
#   python tools/train.py configs/sola_actionformer_thumos.py
# Stage 1 reads the same per-video .npy files plus a lengths JSON; make it once:
#   python tools/convert_features.py lengths data/thumos14/i3d_features \
#       data/thumos14/thumos_i3d_lengths.json
# (_base_/sola.py is not a second base here: both would set custom_hooks.)
_base_ = ['actionformer_thumos.py']
model = dict(neck=dict(type='SoLa', in_channels=2048, hidden_channels=512, kernel_size1=5,
                       dilation1=1, kernel_size2=1, dilation2=1, frozen=True))
sola_stage1 = dict(
    config='{{ fileDirname }}/sola_pretrain_thumos.py', checkpoint=None,
    work_subdir='sola_stage1', inherit=False,
    cfg_options=dict(train_dataloader=dict(dataset=dict(
        ann_file='data/thumos14/thumos_i3d_lengths.json',
        data_prefix=dict(feature='data/thumos14/i3d_features/')))))
custom_hooks = [dict(type='EMAHook', momentum=0.001, update_buffers=False,
                     priority='ABOVE_NORMAL'),
                dict(type='SoLaStage1Hook')]
