# SoLa + BMN on the THUMOS-layout demo: stage 1 (short, on the converted demo features) + stage 2.
#   python tools/convert_features.py streams data/demo_thumos/features_concat \
#       --stream flow=data/demo_thumos/features/flow --stream rgb=data/demo_thumos/features/rgb \
#       --videos data/demo_thumos/val_Annotation.csv \
#       --lengths-json data/demo_thumos/thumos_val_lengths.json
_base_ = ['bmn_thumos_demo.py', '../_base_/sola.py']
model = dict(neck=dict(type='SoLa', in_channels={{_base_.demo_feat_dim}}, hidden_channels=64,
                       frozen=True))
sola_stage1 = dict(config='{{ fileDirname }}/../sola_pretrain_thumos.py', inherit=False,
                   cfg_options={{_base_.demo_stage1_options}})
# the neck sees the native-length video, the model cuts windows after it (_base_/sola.py)
train_dataloader = dict(dataset={{_base_.sola_window_data}})
val_dataloader = dict(dataset={{_base_.sola_window_data}})
test_dataloader = dict(dataset={{_base_.sola_window_data}})
