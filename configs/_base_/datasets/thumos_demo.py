# Data of the synthetic THUMOS-layout demo (python tools/make_demo_data.py --layout thumos), for the
# configs/demo/*thumos_demo.py configs: per-video flow/rgb .npy folders at the snippet rate
# (32 + 32 channels), windows of 32 snippets at stride 16, 5 frames per snippet. The names are
# prefixed with demo_ so that this file can sit next to a full THUMOS config in `_base_` and the
# demo configs pick the pieces they replace ({{_base_.demo_...}}).
demo_root = 'data/demo_thumos/'
demo_feat_dim = 64
demo_window_size = 32
demo_meta_keys = ('video_name', 'window_start_snippet', 'window_snippets', 'snippet_stride', 'fps',
                  'num_frames', 'duration_second', 'gt_frames', 'gt_labels', 'annotations')
demo_pipeline = [dict(type='LoadTALFeature', feat_dim=demo_feat_dim),
                 dict(type='PackLocalizationInputs', keys=('gt_bbox', ), meta_keys=demo_meta_keys)]
demo_data = dict(streams=dict(flow=demo_root + 'features/flow/', rgb=demo_root + 'features/rgb/'),
                 feature_key=None, feature_stride=1, snippet_stride=5, feat_dim=demo_feat_dim,
                 window_size=demo_window_size, window_stride=16, pipeline=demo_pipeline)
demo_train_dataloader = dict(
    batch_size=8, num_workers=0, persistent_workers=False,
    dataset=dict(ann_file=demo_root + 'val_Annotation.csv',
                 video_info_file=demo_root + 'thumos14_val_groundtruth.csv', **demo_data))
demo_val_dataloader = dict(
    batch_size=8, num_workers=0, persistent_workers=False,
    dataset=dict(ann_file=demo_root + 'test_Annotation.csv',
                 video_info_file=demo_root + 'thumos14_test_groundtruth.csv', **demo_data))
demo_evaluator = dict(ann_file=demo_root + 'thumos_gt.json',
                      classifier_file=demo_root + 'uNet_test.npy')
# small G-TAD for 32-snippet windows (D = 16: proposals up to 80 frames)
demo_gtad = dict(feat_dim=demo_feat_dim, temporal_dim=demo_window_size, max_duration=16,
                 h_dim_1d=32, h_dim_2d=16, h_dim_3d=32)
demo_max_epochs = 4
demo_schedule = dict(
    train_cfg=dict(max_epochs=demo_max_epochs, val_interval=demo_max_epochs),
    optim_wrapper=dict(optimizer=dict(type='Adam', lr=0.001, weight_decay=0.0001)),
    param_scheduler=[dict(type='MultiStepLR', begin=0, end=demo_max_epochs, by_epoch=True,
                          milestones=[3], gamma=0.1)])
# SoLa stage 1 on the converted demo features (tools/convert_features.py streams, see the configs)
demo_stage1_options = {
    'model.neck.in_channels': demo_feat_dim,
    'model.neck.hidden_channels': 64,
    'train_dataloader.dataset.ann_file': demo_root + 'thumos_val_lengths.json',
    'train_dataloader.dataset.data_prefix.feature': demo_root + 'features_concat/',
    'train_dataloader.dataset.feat_dim': demo_feat_dim,
    'train_cfg.max_epochs': 20,
    'train_dataloader.batch_size': 32,
    'train_dataloader.num_workers': 0,
    'train_dataloader.persistent_workers': False,
    'default_hooks.checkpoint.interval': 10,
}
