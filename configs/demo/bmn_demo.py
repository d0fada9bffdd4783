# Baseline BMN on the synthetic demo data (tools/make_demo_data.py): the real config with
# demo paths and small sizes.
_base_ = ['../bmn_anet.py']

data_root = 'data/demo_anet/'
feature_dir = data_root + 'features/'
feat_dim = 128
temporal_scale = 32
train_pipeline = [
    dict(type='LoadTALFeature', feat_dim=feat_dim, temporal_scale=temporal_scale),
    dict(type='GenerateLocalizationLabels'),
    dict(type='PackLocalizationInputs', keys=('gt_bbox', ), meta_keys=('video_name', )),
]
val_pipeline = [
    dict(type='LoadTALFeature', feat_dim=feat_dim, temporal_scale=temporal_scale),
    dict(type='GenerateLocalizationLabels'),
    dict(type='PackLocalizationInputs', keys=('gt_bbox', ),
         meta_keys=('video_name', 'duration_second', 'duration_frame', 'feature_frame',
                    'annotations')),
]
train_dataloader = dict(
    batch_size=8, num_workers=0, persistent_workers=False,
    dataset=dict(ann_file=data_root + 'anet_anno_train.json', data_prefix=dict(feature=feature_dir),
                 feature_ext='.npy', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=0, persistent_workers=False,
    dataset=dict(ann_file=data_root + 'anet_anno_val.json', data_prefix=dict(feature=feature_dir),
                 feature_ext='.npy', pipeline=val_pipeline))
test_dataloader = val_dataloader
model = dict(localizer=dict(temporal_dim=temporal_scale, feat_dim=feat_dim, num_samples=16,
                            hidden_dim_1d=128, hidden_dim_2d=64, hidden_dim_3d=128))
max_epochs = 6
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True,
                        milestones=[5], gamma=0.1)]
default_hooks = dict(logger=dict(interval=5), checkpoint=dict(save_best=None, max_keep_ckpts=1))
