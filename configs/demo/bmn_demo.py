# Baseline BMN on the synthetic demo data (tools/make_demo_data.py): the real config with
# demo paths and small sizes.
_base_ = ['../bmn_anet.py']

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
model = dict(localizer=dict(temporal_dim=temporal_scale, feat_dim=feat_dim, num_samples=16,
                            hidden_dim_1d=128, hidden_dim_2d=64, hidden_dim_3d=128))
max_epochs = 6
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True,
                        milestones=[5], gamma=0.1)]
default_hooks = dict(logger=dict(interval=5), checkpoint=dict(save_best=None, max_keep_ckpts=1))
