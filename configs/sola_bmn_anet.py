# SoLa + BMN on ActivityNet-1.3: stage 1 (Similarity Matching) then BMN on the frozen SoLa output.
_base_ = ['bmn_anet.py', '_base_/sola.py']
model = dict(neck={{_base_.sola_neck}})
