# Baseline BMN on the synthetic THUMOS-layout demo (python tools/make_demo_data.py --layout thumos):
# per-video flow/rgb .npy folders at the snippet rate (32 + 32 channels), windows of 32 snippets.
_base_ = ['../bmn_thumos.py']
data_root = 'data/demo_thumos/'
feat_dim = 64
window_size = 32
streams = dict(flow=data_root + 'features/flow/', rgb=data_root + 'features/rgb/')
window_meta_keys = ('video_name', 'window_start_snippet', 'window_snippets', 'snippet_stride',
                    'fps', 'num_frames', 'duration_second', 'gt_frames', 'gt_labels',
                    'annotations')
pipeline = [dict(type='LoadTALFeature', feat_dim=feat_dim),
            dict(type='PackLocalizationInputs', keys=('gt_bbox', ), meta_keys=window_meta_keys)]
data = dict(streams=streams, feature_key=None, feature_stride=1, feat_dim=feat_dim,
            window_size=window_size, window_stride=16, pipeline=pipeline)
train_dataloader = dict(batch_size=8, num_workers=0, persistent_workers=False,
                        dataset=dict(ann_file=data_root + 'val_Annotation.csv',
                                     video_info_file=data_root + 'thumos14_val_groundtruth.csv',
                                     **data))
val_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False,
                      dataset=dict(ann_file=data_root + 'test_Annotation.csv',
                                   video_info_file=data_root + 'thumos14_test_groundtruth.csv',
                                   **data))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'thumos_gt.json',
                     classifier_file=data_root + 'uNet_test.npy')
test_evaluator = val_evaluator
model = dict(localizer=dict(temporal_dim=window_size, feat_dim=feat_dim, num_samples=8,
                            hidden_dim_1d=64, hidden_dim_2d=32, hidden_dim_3d=64))
max_epochs = 4
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True,
                        milestones=[3], gamma=0.1)]
default_hooks = dict(logger=dict(interval=5), checkpoint=dict(save_best=None, max_keep_ckpts=1))
