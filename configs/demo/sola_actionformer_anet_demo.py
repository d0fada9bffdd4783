# SoLa + ActionFormer on the ActivityNet-layout demo: stage 1 (short) + ActionFormer + evaluation.
# As configs/sola_actionformer_anet.py, SoLa runs on the raw-length videos and ActionFormer
# resizes (64) and crops after it.
#   python tools/make_demo_data.py --out data/demo_anet
#   python tools/train.py configs/demo/sola_actionformer_anet_demo.py --work-dir work_dirs/af_sola
_base_ = ['actionformer_anet_demo.py']
# the neck and stage-1 options of configs/_base_/datasets/anet_demo.py (demo_sola_neck,
# demo_stage1_options; not a second base here: both define demo_root / demo_data)
model = dict(neck=dict(type='SoLa', in_channels=128, hidden_channels=64, frozen=True),
             localizer=dict(resize_to=64, train_crop=dict(trunc_thresh=0.5,
                                                          crop_ratio=[0.9, 1.0])))
raw_grid = dict(type='ActionFormerGrid', feat_stride=16, num_frames=16, default_fps=30,
                max_seq_len=64, force_upsampling=True, num_classes=1, remove_duplicates=True,
                resize_features=False)
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadTALFeature', feat_dim=128), dict(raw_grid, outside_trunc_thresh=0.5),
    {{_base_.demo_pack}}]))
val_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadTALFeature', feat_dim=128), raw_grid, {{_base_.demo_pack}}]))
test_dataloader = val_dataloader
sola_stage1 = dict(config='{{ fileDirname }}/../sola_pretrain_anet.py', checkpoint=None,
                   work_subdir='sola_stage1', inherit=True,
                   cfg_options={
                       'train_cfg.max_epochs': 400, 'train_cfg.val_interval': 50,
                       'train_dataloader.batch_size': 32, 'train_dataloader.num_workers': 0,
                       'train_dataloader.persistent_workers': False,
                       'default_hooks.checkpoint.interval': 50,
                       'default_hooks.logger.interval': 20})
custom_hooks = [dict(type='EMAHook', momentum=0.05, update_buffers=False,
                     priority='ABOVE_NORMAL'),
                dict(type='SoLaStage1Hook')]
