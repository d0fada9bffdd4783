# Baseline ActionFormer on the synthetic THUMOS-layout demo (python tools/make_demo_data.py
# --layout thumos): configs/actionformer_thumos.py on the demo's whole videos (64 channels, one
# snippet centred every 5 frames: feat_stride 5, num_frames 0, so no offset), a small model (4 levels, window 5,
# 32-d, max_seq_len 256) and a short schedule (1 warm-up + 19 cosine epochs, lr 3e-3, EMA momentum
# 0.05 instead of 0.001: 80 iterations are too few for a 0.999 average). The demo features
# are read from one .npy per video, the layout of the real I3D files; make them once:
#   python tools/convert_features.py streams data/demo_thumos/features_concat \
#       --stream flow=data/demo_thumos/features/flow --stream rgb=data/demo_thumos/features/rgb \
#       --videos data/demo_thumos/val_Annotation.csv \
#       --lengths-json data/demo_thumos/thumos_val_lengths.json
#   python tools/convert_features.py streams data/demo_thumos/features_concat \
#       --stream flow=data/demo_thumos/features/flow --stream rgb=data/demo_thumos/features/rgb \
#       --videos data/demo_thumos/test_Annotation.csv
_base_ = ['../actionformer_thumos.py', '../_base_/schedules/actionformer_demo.py']
demo_root = 'data/demo_thumos/'
demo_feat_dim = 64
demo_max_seq_len = 256
demo_meta_keys = ('video_name', 'fps', 'duration', 'duration_second', 'feat_stride',
                  'feat_num_frames', 'feat_offset', 'annotations')
demo_grid = dict(type='ActionFormerGrid', feat_stride=5, num_frames=0, classes='thumos14')
demo_pack = dict(type='PackLocalizationInputs', keys=('gt_segments', 'gt_labels'),
                 meta_keys=demo_meta_keys)
demo_data = dict(type='ThumosVideoDataset', data_prefix=dict(feature=demo_root + 'features_concat/'),
                 snippet_stride=5, feat_dim=demo_feat_dim, subset=None)
train_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    dataset=dict(_delete_=True, ann_file=demo_root + 'val_Annotation.csv',
                 video_info_file=demo_root + 'thumos14_val_groundtruth.csv',
                 pipeline=[dict(type='LoadTALFeature', feat_dim=demo_feat_dim), demo_grid,
                           dict(type='ActionFormerTruncate', max_seq_len=demo_max_seq_len,
                                trunc_thresh=0.5, crop_ratio=[0.9, 1.0]), demo_pack],
                 **demo_data))
val_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(_delete_=True, ann_file=demo_root + 'test_Annotation.csv',
                 video_info_file=demo_root + 'thumos14_test_groundtruth.csv', test_mode=True,
                 pipeline=[dict(type='LoadTALFeature', feat_dim=demo_feat_dim), demo_grid,
                           demo_pack], **demo_data))
test_dataloader = val_dataloader
# the model may predict any of the 20 THUMOS classes; the demo's GT has a few of them
val_evaluator = dict(ann_file=demo_root + 'thumos_gt.json', unknown_label='ignore')
test_evaluator = val_evaluator
model = dict(localizer=dict(
    input_dim=demo_feat_dim, max_seq_len=demo_max_seq_len, backbone_arch=(2, 2, 3),
    n_mha_win_size=5, embd_dim=32, fpn_dim=32, head_dim=32,
    regression_range=[(0, 4), (4, 8), (8, 16), (16, 10000)]))
train_cfg = {{_base_.demo_af_schedule.train_cfg}}
optim_wrapper = {{_base_.demo_af_schedule.optim_wrapper}}
custom_hooks = {{_base_.demo_af_schedule.custom_hooks}}
param_scheduler = {{_base_.demo_af_schedule.param_scheduler}}
default_hooks = {{_base_.demo_af_schedule.default_hooks}}
