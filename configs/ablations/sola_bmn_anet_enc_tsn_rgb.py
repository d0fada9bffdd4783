# Ablation (encoder): TSN (CUHK), RGB stream only (the first 200 of the 400 csv_mean_100 channels) features, 200 channels,
# one file per video in data/ActivityNet/activitynet_feature_cuhk/csv_mean_100_rgb/ (resized to 100 snippets by the pipeline).
# Baseline for the same encoder: --cfg-options model.neck=None custom_hooks=[]
_base_ = ['../sola_bmn_anet.py']

data_root = 'data/ActivityNet/'
feature_dir = data_root + 'activitynet_feature_cuhk/csv_mean_100_rgb/'
feature_ext = '.csv'
feat_dim = 200
temporal_scale = 100
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
train_dataloader = dict(dataset=dict(data_prefix=dict(feature=feature_dir), feature_ext=feature_ext,
                                     pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(data_prefix=dict(feature=feature_dir), feature_ext=feature_ext,
                                   pipeline=val_pipeline))
test_dataloader = val_dataloader
model = dict(neck=dict(in_channels=feat_dim, hidden_channels=512),
             localizer=dict(feat_dim=feat_dim))
