# SoLa + BMN on the THUMOS-layout demo: stage 1 (short, on the converted demo features) + stage 2.
#   python tools/convert_features.py streams data/demo_thumos/features_concat \
#       --stream flow=data/demo_thumos/features/flow --stream rgb=data/demo_thumos/features/rgb \
#       --videos data/demo_thumos/val_Annotation.csv \
#       --lengths-json data/demo_thumos/thumos_val_lengths.json
_base_ = ['bmn_thumos_demo.py', '../_base_/sola.py']
model = dict(neck=dict(type='SoLa', in_channels=64, hidden_channels=64, frozen=True))
sola_stage1 = dict(config='{{ fileDirname }}/../sola_pretrain_thumos.py', inherit=False,
                   cfg_options={
                       'model.neck.in_channels': 64,
                       'model.neck.hidden_channels': 64,
                       'train_dataloader.dataset.ann_file':
                       'data/demo_thumos/thumos_val_lengths.json',
                       'train_dataloader.dataset.data_prefix.feature':
                       'data/demo_thumos/features_concat/',
                       'train_dataloader.dataset.feat_dim': 64,
                       'train_cfg.max_epochs': 20,
                       'train_dataloader.batch_size': 32,
                       'train_dataloader.num_workers': 0,
                       'train_dataloader.persistent_workers': False,
                       'default_hooks.checkpoint.interval': 10,
                   })
