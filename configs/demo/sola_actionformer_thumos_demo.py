# SoLa + ActionFormer on the THUMOS-layout demo: configs/sola_actionformer_thumos.py with the demo
# data and model of actionformer_thumos_demo.py (make the per-video features as said there) and
# a short stage 1 on them:
#   python tools/train.py configs/demo/sola_actionformer_thumos_demo.py --work-dir work_dirs/af
_base_ = ['actionformer_thumos_demo.py']
model = dict(neck=dict(type='SoLa', in_channels=64, hidden_channels=64, kernel_size1=5,
                       dilation1=1, kernel_size2=1, dilation2=1, frozen=True))
sola_stage1 = dict(
    config='{{ fileDirname }}/../sola_pretrain_thumos.py', checkpoint=None,
    work_subdir='sola_stage1', inherit=False,
    cfg_options=dict(
        model=dict(neck=dict(in_channels=64, hidden_channels=64)),
        train_dataloader=dict(batch_size=32, num_workers=0, persistent_workers=False,
                              dataset=dict(ann_file='data/demo_thumos/thumos_val_lengths.json',
                                           data_prefix=dict(
                                               feature='data/demo_thumos/features_concat/'),
                                           feat_dim=64)),
        train_cfg=dict(max_epochs=20), default_hooks=dict(checkpoint=dict(interval=10))))
custom_hooks = [dict(type='EMAHook', momentum=0.05, update_buffers=False,
                     priority='ABOVE_NORMAL'),
                dict(type='SoLaStage1Hook')]
