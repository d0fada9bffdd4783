# Baseline G-TAD on the synthetic demo data (python tools/make_demo_data.py --out data/demo_anet):
# configs/gtad_anet.py with demo paths and small sizes.
_base_ = ['../gtad_anet.py']

data_root = 'data/demo_anet/'
feature_dir = data_root + 'features/'
feat_dim = 128
temporal_scale = 32
demo_data = dict(data_prefix=dict(feature=feature_dir), feature_ext='.npy', feat_dim=feat_dim,
                 temporal_scale=temporal_scale)
train_dataloader = dict(
    batch_size=8, num_workers=0, persistent_workers=False,
    dataset=dict(ann_file=data_root + 'anet_anno_train.json', **demo_data))
val_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(ann_file=data_root + 'anet_anno_val.json', **demo_data))
test_dataloader = val_dataloader
# the demo's CUHK-like classifier file (sola_mm/datasets/demo_data.py)
val_evaluator = dict(ann_file=data_root + 'anet_anno_val.json',
                     classifier_file=data_root + 'cuhk_val_simp_share.json')
test_evaluator = val_evaluator
model = dict(localizer=dict(feat_dim=feat_dim, temporal_dim=temporal_scale,
                            max_duration=temporal_scale, h_dim_1d=64, h_dim_2d=32, h_dim_3d=64))
max_epochs = 6
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True,
                        milestones=[5], gamma=0.1)]
default_hooks = dict(logger=dict(interval=5), checkpoint=dict(save_best=None, max_keep_ckpts=1))
