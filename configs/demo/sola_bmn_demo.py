# SoLa + BMN on the synthetic demo data: stage 1 (short) + stage 2 + evaluation in one command.
_base_ = ['bmn_demo.py', '../_base_/sola.py']
model = dict(neck=dict(type='SoLa', in_channels=128, hidden_channels=64, frozen=True))
sola_stage1 = dict(cfg_options={
    'train_cfg.max_epochs': 40,
    'train_dataloader.batch_size': 32,
    'train_dataloader.num_workers': 0,
    'train_dataloader.persistent_workers': False,
    'default_hooks.checkpoint.interval': 10,
    'default_hooks.logger.interval': 5,
})
