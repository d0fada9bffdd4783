# SoLa + G-TAD on the synthetic demo data: stage 1 (short) + G-TAD + evaluation in one command.
#   python tools/make_demo_data.py --out data/demo_anet
#   python tools/train.py configs/demo/sola_gtad_demo.py --work-dir work_dirs/gtad_demo
_base_ = ['gtad_demo.py', '../_base_/sola.py']
model = dict(neck={{_base_.demo_sola_neck}})
sola_stage1 = dict(cfg_options={{_base_.demo_stage1_options}})
# the neck sees the native-length video, the model resizes after it (_base_/sola.py)
train_dataloader = dict(dataset={{_base_.sola_data}})
val_dataloader = dict(dataset={{_base_.sola_data}})
test_dataloader = dict(dataset={{_base_.sola_data}})
