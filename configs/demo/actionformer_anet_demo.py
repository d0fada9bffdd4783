# Baseline ActionFormer on the synthetic ActivityNet-layout demo (python tools/make_demo_data.py
# --out data/demo_anet): configs/actionformer_anet.py on the demo's 128-d features (16-frame
# snippets at 30 fps) resized to 64, a small model (4 levels, windows 5 / global, 32-d, abs PE)
# and a short schedule (1 warm-up + 19 cosine epochs, lr 3e-3, EMA momentum 0.05).
#   python tools/train.py configs/demo/actionformer_anet_demo.py --work-dir work_dirs/af_anet
_base_ = ['../actionformer_anet.py', '../_base_/schedules/actionformer_demo.py']
demo_root = 'data/demo_anet/'
demo_feat_dim = 128
demo_max_seq_len = 64
demo_grid = dict(type='ActionFormerGrid', feat_stride=16, num_frames=16, default_fps=30,
                 max_seq_len=demo_max_seq_len, force_upsampling=True, num_classes=1,
                 remove_duplicates=True)
demo_pack = dict(type='PackLocalizationInputs', keys=('gt_segments', 'gt_labels'),
                 meta_keys=('video_name', 'fps', 'duration', 'duration_second', 'feat_stride',
                            'feat_num_frames', 'feat_offset', 'annotations'))
demo_data = dict(data_prefix=dict(feature=demo_root + 'features/'), feat_dim=demo_feat_dim)
train_dataloader = dict(
    batch_size=8, num_workers=0, persistent_workers=False,
    dataset=dict(ann_file=demo_root + 'anet_anno_train.json', pipeline=[
        dict(type='LoadTALFeature', feat_dim=demo_feat_dim),
        dict(demo_grid, outside_trunc_thresh=0.5),
        dict(type='ActionFormerTruncate', max_seq_len=demo_max_seq_len, trunc_thresh=0.5,
             crop_ratio=[0.9, 1.0]), demo_pack], **demo_data))
val_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(ann_file=demo_root + 'anet_anno_val.json', pipeline=[
        dict(type='LoadTALFeature', feat_dim=demo_feat_dim), demo_grid, demo_pack],
        **demo_data))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=demo_root + 'anet_anno_val.json',
                     classifier_file=demo_root + 'cuhk_val_simp_share.json')
test_evaluator = val_evaluator
model = dict(localizer=dict(
    input_dim=demo_feat_dim, max_seq_len=demo_max_seq_len, backbone_arch=(2, 2, 3),
    n_mha_win_size=[5, 5, 5, -1], embd_dim=32, fpn_dim=32, head_dim=32,
    regression_range=[(0, 4), (4, 8), (8, 16), (16, 10000)]))
train_cfg = {{_base_.demo_af_schedule.train_cfg}}
optim_wrapper = {{_base_.demo_af_schedule.optim_wrapper}}
custom_hooks = {{_base_.demo_af_schedule.custom_hooks}}
param_scheduler = {{_base_.demo_af_schedule.param_scheduler}}
default_hooks = {{_base_.demo_af_schedule.default_hooks}}
