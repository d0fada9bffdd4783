# Baseline BMN on the synthetic demo data (tools/make_demo_data.py): configs/bmn_anet.py with
# demo paths and small sizes.
_base_ = ['../bmn_anet.py', '../_base_/datasets/anet_demo.py']

train_dataloader = {{_base_.demo_train_dataloader}}
val_dataloader = {{_base_.demo_val_dataloader}}
test_dataloader = val_dataloader
val_evaluator = {{_base_.demo_evaluator}}
test_evaluator = val_evaluator
model = dict(localizer=dict(temporal_dim={{_base_.demo_temporal_scale}},
                            feat_dim={{_base_.demo_feat_dim}}, num_samples=16,
                            hidden_dim_1d=128, hidden_dim_2d=64, hidden_dim_3d=128))
train_cfg = {{_base_.demo_schedule.train_cfg}}
param_scheduler = {{_base_.demo_schedule.param_scheduler}}
default_hooks = {{_base_.demo_schedule.default_hooks}}
