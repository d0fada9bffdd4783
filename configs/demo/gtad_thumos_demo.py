# Baseline G-TAD on the synthetic THUMOS-layout demo (python tools/make_demo_data.py --layout
# thumos): configs/gtad_thumos.py with the demo data and a small model (see thumos_demo.py).
_base_ = ['../gtad_thumos.py', '../_base_/datasets/thumos_demo.py']
train_dataloader = {{_base_.demo_train_dataloader}}
val_dataloader = {{_base_.demo_val_dataloader}}
test_dataloader = {{_base_.demo_val_dataloader}}
val_evaluator = {{_base_.demo_evaluator}}
test_evaluator = {{_base_.demo_evaluator}}
model = dict(localizer={{_base_.demo_gtad}})
max_epochs = {{_base_.demo_max_epochs}}
train_cfg = {{_base_.demo_schedule.train_cfg}}
optim_wrapper = {{_base_.demo_schedule.optim_wrapper}}
param_scheduler = {{_base_.demo_schedule.param_scheduler}}
default_hooks = dict(logger=dict(interval=5), checkpoint=dict(save_best=None, max_keep_ckpts=1))
