# Baseline BMN on the synthetic THUMOS-layout demo (python tools/make_demo_data.py --layout thumos):
# configs/bmn_thumos.py with the demo data (see _base_/datasets/thumos_demo.py) and a small model.
_base_ = ['../bmn_thumos.py', '../_base_/datasets/thumos_demo.py']
train_dataloader = {{_base_.demo_train_dataloader}}
val_dataloader = {{_base_.demo_val_dataloader}}
test_dataloader = {{_base_.demo_val_dataloader}}
val_evaluator = {{_base_.demo_evaluator}}
test_evaluator = {{_base_.demo_evaluator}}
model = dict(localizer=dict(temporal_dim={{_base_.demo_window_size}},
                            feat_dim={{_base_.demo_feat_dim}}, num_samples=8, hidden_dim_1d=64,
                            hidden_dim_2d=32, hidden_dim_3d=64))
max_epochs = {{_base_.demo_max_epochs}}
train_cfg = {{_base_.demo_schedule.train_cfg}}
param_scheduler = {{_base_.demo_schedule.param_scheduler}}
default_hooks = dict(logger=dict(interval=5), checkpoint=dict(save_best=None, max_keep_ckpts=1))
