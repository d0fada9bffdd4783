# ActivityNet-1.3 features in MMAction2's layout: one file per video (csv_mean_100: header + 100
# rows x 400 TSN channels) and anet_anno_{train,val}.json keyed by v_<id>.
# feat_dim / temporal_scale sit on the datasets (LoadTALFeature reads them from there).
dataset_type = 'ANetFeatureDataset'
data_root = 'data/ActivityNet/'
feature_dir = data_root + 'activitynet_feature_cuhk/csv_mean_100/'
feature_ext = '.csv'
ann_file_train = data_root + 'anet_anno_train.json'
ann_file_val = data_root + 'anet_anno_val.json'
ann_file_test = data_root + 'anet_anno_val.json'
classifier_file = data_root + 'cuhk_val_simp_share.json'
feat_dim = 400
temporal_scale = 100

train_pipeline = [
    dict(type='LoadTALFeature'),
    dict(type='GenerateLocalizationLabels'),
    dict(type='PackLocalizationInputs', keys=('gt_bbox', ), meta_keys=('video_name', )),
]
val_pipeline = [
    dict(type='LoadTALFeature'),
    dict(type='GenerateLocalizationLabels'),
    dict(type='PackLocalizationInputs', keys=('gt_bbox', ),
         meta_keys=('video_name', 'duration_second', 'duration_frame', 'feature_frame',
                    'annotations')),
]
test_pipeline = val_pipeline

train_dataloader = dict(
    batch_size=16, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, ann_file=ann_file_train, data_prefix=dict(feature=feature_dir),
                 feature_ext=feature_ext, feat_dim=feat_dim,
                 temporal_scale=temporal_scale, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, ann_file=ann_file_val, data_prefix=dict(feature=feature_dir),
                 feature_ext=feature_ext, feat_dim=feat_dim,
                 temporal_scale=temporal_scale, pipeline=val_pipeline, test_mode=True))
test_dataloader = val_dataloader

# Detection mAP at tIoU 0.5:0.05:0.95 (official ActivityNet semantics): each of the top-100
# proposals gets the top-2 CUHK video classes (score = proposal x class); plus AR@AN / AUC of the
# proposals. tools/test.py writes detections.json / proposals.json (submission format) to work_dir.
val_evaluator = dict(type='TALDetectionMetric', ann_file=ann_file_val, subset='validation',
                     classifier_file=classifier_file, top_k_classes=2, fusion_top_k=100,
                     proposal_metrics=True, proposal_topk=(1, 5, 10, 100))
test_evaluator = dict(type='TALDetectionMetric', ann_file=ann_file_test, subset='validation',
                      classifier_file=classifier_file, top_k_classes=2, fusion_top_k=100,
                      proposal_metrics=True, proposal_topk=(1, 5, 10, 100))
