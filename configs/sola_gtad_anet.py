# SoLa + G-TAD on ActivityNet-1.3: stage 1 (Similarity Matching) then G-TAD on the frozen SoLa
# output, then evaluation, in one command: python tools/train.py configs/sola_gtad_anet.py
_base_ = ['gtad_anet.py', '_base_/sola.py']
model = dict(neck={{_base_.sola_neck}})
# the neck sees the native-length video, the model resizes after it (_base_/sola.py)
train_dataloader = dict(dataset={{_base_.sola_data}})
val_dataloader = dict(dataset={{_base_.sola_data}})
test_dataloader = dict(dataset={{_base_.sola_data}})
