# SoLa + G-TAD on the THUMOS-layout demo: configs/sola_gtad_thumos.py with the demo data, a small
# model and a short stage 1. Stage 1 reads one concatenated .npy per video plus a lengths JSON;
# make them once:
#   python tools/convert_features.py streams data/demo_thumos/features_concat \
#       --stream flow=data/demo_thumos/features/flow --stream rgb=data/demo_thumos/features/rgb \
#       --videos data/demo_thumos/val_Annotation.csv \
#       --lengths-json data/demo_thumos/thumos_val_lengths.json
_base_ = ['../sola_gtad_thumos.py', '../_base_/datasets/thumos_demo.py']
train_dataloader = {{_base_.demo_train_dataloader}}
val_dataloader = {{_base_.demo_val_dataloader}}
test_dataloader = {{_base_.demo_val_dataloader}}
val_evaluator = {{_base_.demo_evaluator}}
test_evaluator = {{_base_.demo_evaluator}}
model = dict(localizer={{_base_.demo_gtad}},
             neck=dict(in_channels={{_base_.demo_feat_dim}}, hidden_channels=64))
max_epochs = {{_base_.demo_max_epochs}}
train_cfg = {{_base_.demo_schedule.train_cfg}}
optim_wrapper = {{_base_.demo_schedule.optim_wrapper}}
param_scheduler = {{_base_.demo_schedule.param_scheduler}}
default_hooks = dict(logger=dict(interval=5), checkpoint=dict(save_best=None, max_keep_ckpts=1))
sola_stage1 = dict(cfg_options={{_base_.demo_stage1_options}})
