# SoLa stage 1 on THUMOS-14 training features (the stage-1 recipe of sola_{gtad,bmn}_thumos.py).
# SimilarityWindowDataset reads one .npy per video at the snippet rate plus an ActivityNet-style
# lengths JSON; make both once from the two-stream files:
#   python tools/convert_features.py streams data/thumos14/features_concat \
#       --stream flow=data/thumos14/features/flow_val.h5 --stream rgb=data/thumos14/features/rgb_val.h5 \
#       --key '{video}' --stride 5 --length-mismatch truncate --videos data/thumos14/val_Annotation.csv \
#       --lengths-json data/thumos14/thumos_val_lengths.json
_base_ = ['sola_pretrain_hacs.py']
data_root = 'data/thumos14/'
model = dict(neck=dict(in_channels=2048))
train_dataloader = dict(num_workers=2,
                        dataset=dict(ann_file=data_root + 'thumos_val_lengths.json',
                                     data_prefix=dict(feature=data_root + 'features_concat/')))
# no HACS probe here: stage 1 keeps the last checkpoint
val_dataloader = None
val_cfg = None
val_evaluator = None
default_hooks = dict(checkpoint=dict(save_best=None))
