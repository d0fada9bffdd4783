# SoLa stage 1 alone on HACS-Segments I3D features, the authors' released setting: 2048-d I3D
# features, one <youtube_id>.npy per video at native length (no resize), W = 23, AdamW 1e-4,
# batch 256, 150 epochs.
#   python tools/convert_features.py hacs data/hacs/training_duration.pkl \
#       data/hacs/hacs_train_lengths.json        # the durations pickle -> ANet-style JSON
#   python tools/train.py configs/sola_pretrain_hacs.py
# The pickle maps '<id>.npy' to the number of feature rows; the JSON keys are the ids, with
# duration_second = duration_frame = feature_frame = that length (annotations empty: stage 1
# uses none).
_base_ = ['_base_/schedules/sola_stage1.py', '_base_/default_runtime.py']
data_root = 'data/hacs/'
feature_dir = data_root + 'i3d_features/'
ann_file_train = data_root + 'hacs_train_lengths.json'
feat_dim = 2048

model = dict(
    type='SoLaPretrainer',
    neck=dict(type='SoLa', in_channels=feat_dim, hidden_channels=512, kernel_size1=5,
              dilation1=1, kernel_size2=1, dilation2=1),
    projector_hidden=512,
    loss=dict(type='SimilarityMatchingLoss', num_positions=8, step=2, step_start=4, coef=16.0))
train_dataloader = dict(
    batch_size=256, num_workers=2, persistent_workers=True,
    sampler=dict(type='SimilarityWindowSampler', shuffle=True),
    dataset=dict(type='SimilarityWindowDataset', ann_file=ann_file_train,
                 data_prefix=dict(feature=feature_dir), feature_ext='.npy', feat_dim=feat_dim,
                 temporal_scale=None, window=23))
val_dataloader = None
val_cfg = None
val_evaluator = None
test_dataloader = None
test_cfg = None
test_evaluator = None
default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=2), logger=dict(interval=10))
