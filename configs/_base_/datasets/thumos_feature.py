# THUMOS-14 two-stream features in G-TAD's layout, as sliding windows (ThumosWindowDataset).
# Training: the 200 validation videos (val_Annotation.csv); testing: the 213 annotated test videos
# (test_Annotation.csv; fps / frame counts from thumos14_test_groundtruth.csv). G-TAD reads
# flow_{val,test}.h5 and rgb_{val,test}.h5 (one HDF5 dataset per video), takes every 5th row
# ([::skip_videoframes]) and concatenates flow then rgb: 1024 + 1024 = 2048 channels.
# Per-video folders work the same: streams=dict(flow='.../flow/', rgb='.../rgb/') and
# feature_key=None (files <video>.npy, memory-mapped).
dataset_type = 'ThumosWindowDataset'
data_root = 'data/thumos14/'
ann_file_train = data_root + 'val_Annotation.csv'
ann_file_test = data_root + 'test_Annotation.csv'
video_info_train = None  # fps estimated from startFrame / start; frame count from the features
video_info_test = data_root + 'thumos14_test_groundtruth.csv'
gt_file = data_root + 'thumos_gt.json'              # official-layout GT for the metric
classifier_file = data_root + 'uNet_test.npy'       # UntrimmedNet video scores (top-2 fusion)
streams_train = dict(flow=data_root + 'features/flow_val.h5', rgb=data_root + 'features/rgb_val.h5')
streams_test = dict(flow=data_root + 'features/flow_test.h5',
                    rgb=data_root + 'features/rgb_test.h5')
feature_key = '{video}'
# flow and rgb files of unequal length are trimmed to the shorter (G-TAD `master` dataset.py:
# num_snippet = min over the streams, after [::skip]), with a warning per video; 'error' refuses.
length_mismatch = 'truncate'
feature_stride = 5       # rows stored per frame -> one snippet every 5 frames
snippet_stride = 5       # frames per snippet (G-TAD skip_videoframes)
feat_dim = 2048
window_size = 256        # T (num_videoframes)
window_stride = 128      # T / 2
excluded_test_videos = ['video_test_0000270', 'video_test_0001292', 'video_test_0001496']

window_meta_keys = ('video_name', 'window_start_snippet', 'window_snippets', 'snippet_stride',
                    'fps', 'num_frames', 'duration_second', 'gt_frames', 'gt_labels',
                    'annotations')
train_pipeline = [
    dict(type='LoadTALFeature', feat_dim=feat_dim),
    dict(type='PackLocalizationInputs', keys=('gt_bbox', ), meta_keys=window_meta_keys),
]
test_pipeline = train_pipeline
val_pipeline = test_pipeline

train_dataloader = dict(
    batch_size=16, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, ann_file=ann_file_train, streams=streams_train,
                 feature_key=feature_key, feature_stride=feature_stride,
                 snippet_stride=snippet_stride, window_size=window_size,
                 window_stride=window_stride, ioa_threshold=0.9, feat_dim=feat_dim,
                 length_mismatch=length_mismatch,
                 video_info_file=video_info_train, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, ann_file=ann_file_test, streams=streams_test,
                 feature_key=feature_key, feature_stride=feature_stride,
                 snippet_stride=snippet_stride, window_size=window_size,
                 window_stride=window_stride, feat_dim=feat_dim, video_info_file=video_info_test,
                 length_mismatch=length_mismatch,
                 pipeline=val_pipeline, test_mode=True))
test_dataloader = val_dataloader

# Windows of one video are merged by the metric (concatenate, soft-NMS sigma 0.46, proposals of
# >= 300 frames zeroed, top 200, clipped to the video), then each of the top 200 proposals gets the
# top-2 UntrimmedNet classes, interleaved, rounded as G-TAD writes them; mAP at tIoU 0.3:0.7 on the
# 'test' subset of thumos_gt.json (the 3 excluded test videos are not in it, so predictions on
# them count as false positives, as in G-TAD).
val_evaluator = dict(type='TALDetectionMetric', ann_file=gt_file, subset='test',
                     classifier_file=classifier_file, tiou_thresholds=[0.3, 0.4, 0.5, 0.6, 0.7],
                     merge_cfg=dict(sigma=0.46, top_k=200, max_length=300., style='gtad',
                                    clip=True),
                     top_k_classes=2, fusion_top_k=200, fusion_layout='interleaved',
                     thumos_rounding=True)
test_evaluator = val_evaluator
