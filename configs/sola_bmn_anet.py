# SoLa + BMN on ActivityNet-1.3: stage 1 (Similarity Matching) then BMN on the frozen SoLa output.
_base_ = ['bmn_anet.py', '_base_/sola.py']
model = dict(neck={{_base_.sola_neck}})
# the neck sees the native-length video, the model resizes after it (_base_/sola.py)
train_dataloader = dict(dataset={{_base_.sola_data}})
val_dataloader = dict(dataset={{_base_.sola_data}})
test_dataloader = dict(dataset={{_base_.sola_data}})
