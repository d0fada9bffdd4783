# Data of the synthetic ActivityNet-layout demo (python tools/make_demo_data.py --out data/demo_anet),
# for configs/demo/*_demo.py: 128-channel .npy features rescaled to 32 snippets, the demo's
# CUHK-like classifier file, a 6-epoch schedule and a short stage 1. The names are prefixed with
# demo_ so that this file can sit next to a full ActivityNet config in `_base_` and the demo
# configs pick the pieces they replace ({{_base_.demo_...}}).
demo_root = 'data/demo_anet/'
demo_feat_dim = 128
demo_temporal_scale = 32
demo_data = dict(data_prefix=dict(feature=demo_root + 'features/'), feature_ext='.npy',
                 feat_dim=demo_feat_dim, temporal_scale=demo_temporal_scale)
demo_train_dataloader = dict(
    batch_size=8, num_workers=0, persistent_workers=False,
    dataset=dict(ann_file=demo_root + 'anet_anno_train.json', **demo_data))
demo_val_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(ann_file=demo_root + 'anet_anno_val.json', **demo_data))
demo_evaluator = dict(ann_file=demo_root + 'anet_anno_val.json',
                      classifier_file=demo_root + 'cuhk_val_simp_share.json')
demo_max_epochs = 6
demo_schedule = dict(
    train_cfg=dict(max_epochs=demo_max_epochs, val_interval=demo_max_epochs),
    param_scheduler=[dict(type='MultiStepLR', begin=0, end=demo_max_epochs, by_epoch=True,
                          milestones=[5], gamma=0.1)],
    default_hooks=dict(logger=dict(interval=5), checkpoint=dict(save_best=None, max_keep_ckpts=1)))
# SoLa: a small neck; Similarity Matching with the paper's optimiser (AdamW 1e-4) needs about as
# many steps as on ANet-1.3 (150 epochs x 40 batches) to move the neck: 400 epochs x 4 batches here,
# the linear probe every 50 epochs picks the checkpoint
demo_sola_neck = dict(type='SoLa', in_channels=demo_feat_dim, hidden_channels=64, frozen=True)
demo_stage1_options = {
    'train_cfg.max_epochs': 400,
    'train_cfg.val_interval': 50,
    'train_dataloader.batch_size': 32,
    'train_dataloader.num_workers': 0,
    'train_dataloader.persistent_workers': False,
    'default_hooks.checkpoint.interval': 50,
    'default_hooks.logger.interval': 20,
    # 40 x 100 snippets hold too few 100-snippet chunks for the authors' sampled probe (38 train
    # draws per epoch barely move it): the demo probes every snippet
    'val_evaluator.sampling': 'all',
}
