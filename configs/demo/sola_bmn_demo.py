# SoLa + BMN on the synthetic demo data: stage 1 (short) + stage 2 + evaluation in one command.
_base_ = ['bmn_demo.py', '../_base_/sola.py']
model = dict(neck={{_base_.demo_sola_neck}})
sola_stage1 = dict(cfg_options={{_base_.demo_stage1_options}})
# the neck sees the native-length video, the model resizes after it (_base_/sola.py)
train_dataloader = dict(dataset={{_base_.sola_data}})
val_dataloader = dict(dataset={{_base_.sola_data}})
test_dataloader = dict(dataset={{_base_.sola_data}})
