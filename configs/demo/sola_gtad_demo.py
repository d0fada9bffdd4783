# SoLa + G-TAD on the synthetic demo data: stage 1 (short) + G-TAD + evaluation in one command.
#   python tools/make_demo_data.py --out data/demo_anet
#   python tools/train.py configs/demo/sola_gtad_demo.py --work-dir work_dirs/gtad_demo
_base_ = ['gtad_demo.py', '../_base_/sola.py']
model = dict(neck=dict(type='SoLa', in_channels=128, hidden_channels=64, frozen=True))
sola_stage1 = dict(cfg_options={
    'train_cfg.max_epochs': 40,
    'train_dataloader.batch_size': 32,
    'train_dataloader.num_workers': 0,
    'train_dataloader.persistent_workers': False,
    'default_hooks.checkpoint.interval': 10,
    'default_hooks.logger.interval': 5,
})
