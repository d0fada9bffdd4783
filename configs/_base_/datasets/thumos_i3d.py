# THUMOS-14 I3D features as ActionFormer reads them (official thumos_i3d.yaml `dataset`): one
# <video>.npy of [T, 2048] per video (rgb + flow I3D, one row every 4 frames, 16-frame clips),
# whole videos (ThumosVideoDataset), the official thumos14.json annotations ({"database": ...},
# train = Validation subset, test = Test subset). Training: seconds -> grid with the official
# offset, random truncation to max_seq_len / crop to 90-100 % (ActionFormerTruncate).
data_root = 'data/thumos14/'
ann_file = data_root + 'annotations/thumos14.json'
feature_dir = data_root + 'i3d_features/'
gt_file = data_root + 'thumos_gt.json'       # official-layout GT for the metric (test subset)
feat_dim = 2048
feat_stride = 4
num_frames = 16
max_seq_len = 2304
meta_keys = ('video_name', 'fps', 'duration', 'duration_second', 'feat_stride', 'feat_num_frames',
             'feat_offset', 'annotations')
train_pipeline = [
    dict(type='LoadTALFeature', feat_dim=feat_dim),
    dict(type='ActionFormerGrid', feat_stride=feat_stride, num_frames=num_frames,
         classes='thumos14'),
    dict(type='ActionFormerTruncate', max_seq_len=max_seq_len, trunc_thresh=0.5,
         crop_ratio=[0.9, 1.0]),
    dict(type='PackLocalizationInputs', keys=('gt_segments', 'gt_labels'), meta_keys=meta_keys),
]
test_pipeline = [
    dict(type='LoadTALFeature', feat_dim=feat_dim),
    dict(type='ActionFormerGrid', feat_stride=feat_stride, num_frames=num_frames,
         classes='thumos14'),
    dict(type='PackLocalizationInputs', keys=('gt_segments', 'gt_labels'), meta_keys=meta_keys),
]
video_data = dict(type='ThumosVideoDataset', ann_file=ann_file,
                  data_prefix=dict(feature=feature_dir), snippet_stride=feat_stride,
                  feat_dim=feat_dim)
train_dataloader = dict(
    batch_size=2, num_workers=4, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(subset='Validation', pipeline=train_pipeline, **video_data))
val_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(subset='Test', pipeline=test_pipeline, test_mode=True, **video_data))
test_dataloader = val_dataloader
# predictions carry their class: mAP at tIoU 0.3:0.7 on the test subset
val_evaluator = dict(type='TALDetectionMetric', ann_file=gt_file, subset='test',
                     tiou_thresholds=[0.3, 0.4, 0.5, 0.6, 0.7])
test_evaluator = val_evaluator
