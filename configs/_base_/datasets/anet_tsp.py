# ActivityNet-1.3 TSP features as ActionFormer reads them (official anet_tsp.yaml `dataset`): one
# v_<id>.npy of [T, 512] per video (16-frame clips every 16 frames at 15 fps), resized to 192 with
# the official stride/offset rule, the official duplicate filter and (training) the end-of-video
# filter, crop to 90-100 %, class-agnostic (num_classes 1). Annotations in MMAction2's layout
# (anet_anno_{train,val}.json); the video classifier (CUHK) is fused by the metric:
# score = sqrt(class x detection), top-2 classes, 200 detections per video, blocked layout.
data_root = 'data/ActivityNet/'
feature_dir = data_root + 'tsp_features/'
ann_file_train = data_root + 'anet_anno_train.json'
ann_file_val = data_root + 'anet_anno_val.json'
classifier_file = data_root + 'cuhk_val_simp_share.json'
feat_dim = 512
max_seq_len = 192
meta_keys = ('video_name', 'fps', 'duration', 'duration_second', 'feat_stride', 'feat_num_frames',
             'feat_offset', 'annotations')
grid = dict(type='ActionFormerGrid', feat_stride=16, num_frames=16, default_fps=15,
            max_seq_len=max_seq_len, force_upsampling=True, num_classes=1,
            remove_duplicates=True)
pack = dict(type='PackLocalizationInputs', keys=('gt_segments', 'gt_labels'), meta_keys=meta_keys)
train_pipeline = [
    dict(type='LoadTALFeature', feat_dim=feat_dim),
    dict(grid, outside_trunc_thresh=0.5),
    dict(type='ActionFormerTruncate', max_seq_len=max_seq_len, trunc_thresh=0.5,
         crop_ratio=[0.9, 1.0]),
    pack,
]
test_pipeline = [dict(type='LoadTALFeature', feat_dim=feat_dim), grid, pack]
video_data = dict(type='ANetFeatureDataset', data_prefix=dict(feature=feature_dir),
                  feature_ext='.npy', feat_dim=feat_dim, temporal_scale=None)
train_dataloader = dict(
    batch_size=16, num_workers=4, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(ann_file=ann_file_train, pipeline=train_pipeline, **video_data))
val_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(ann_file=ann_file_val, pipeline=test_pipeline, test_mode=True, **video_data))
test_dataloader = val_dataloader
val_evaluator = dict(type='TALDetectionMetric', ann_file=ann_file_val, subset='validation',
                     classifier_file=classifier_file, top_k_classes=2, fusion_top_k=200,
                     fusion_layout='blocked', fusion_score='sqrt', classifier_tie_break='last')
test_evaluator = val_evaluator
