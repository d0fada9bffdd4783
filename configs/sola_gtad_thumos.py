# SoLa + G-TAD on THUMOS-14: stage 1 (Similarity Matching on the training features) then G-TAD on
# the frozen SoLa output.
_base_ = ['gtad_thumos.py', '_base_/sola.py']
model = dict(neck=dict(type='SoLa', in_channels=2048, hidden_channels=512, kernel_size1=5,
                       dilation1=1, kernel_size2=1, dilation2=1, frozen=True))
# THUMOS windows are not a SimilarityWindowDataset input: stage 1 runs its own recipe on the
# converted features (see sola_pretrain_thumos.py) instead of inheriting the stage-2 data.
sola_stage1 = dict(config='{{ fileDirname }}/sola_pretrain_thumos.py', inherit=False)
# the neck sees the native-length video, the model cuts windows after it (_base_/sola.py)
train_dataloader = dict(dataset={{_base_.sola_window_data}})
val_dataloader = dict(dataset={{_base_.sola_window_data}})
test_dataloader = dict(dataset={{_base_.sola_window_data}})
