# Baseline G-TAD on the synthetic demo data (python tools/make_demo_data.py --out data/demo_anet):
# configs/gtad_anet.py with demo paths and small sizes.
_base_ = ['../gtad_anet.py', '../_base_/datasets/anet_demo.py']

train_dataloader = {{_base_.demo_train_dataloader}}
val_dataloader = {{_base_.demo_val_dataloader}}
test_dataloader = val_dataloader
val_evaluator = {{_base_.demo_evaluator}}
test_evaluator = val_evaluator
model = dict(localizer=dict(feat_dim={{_base_.demo_feat_dim}},
                            temporal_dim={{_base_.demo_temporal_scale}},
                            max_duration={{_base_.demo_temporal_scale}},
                            h_dim_1d=64, h_dim_2d=32, h_dim_3d=64))
train_cfg = {{_base_.demo_schedule.train_cfg}}
param_scheduler = {{_base_.demo_schedule.param_scheduler}}
default_hooks = {{_base_.demo_schedule.default_hooks}}
