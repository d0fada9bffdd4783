# SoLa stage 1 alone on HACS-Segments I3D features, the authors' released setting: 2048-d I3D
# features, one <youtube_id>.npy per video at native length (no resize), W = 23, AdamW 1e-4,
# batch 256, 150 epochs; every 10 epochs the authors' linear probe on their released subsets
# (3770 training / 594 validation videos) picks the checkpoint handed to stage 2.
#   python tools/convert_features.py hacs data/hacs/training_duration.pkl \
#       data/hacs/hacs_training.json --segments data/hacs/HACS_segments_v1.1.1.json
#   python tools/convert_features.py hacs data/hacs/validation_duration.pkl \
#       data/hacs/hacs_validation.json --segments data/hacs/HACS_segments_v1.1.1.json
#   python tools/train.py configs/sola_pretrain_hacs.py
# Layout as the authors' HACS_DATA: data/hacs/{training,validation}/<id>.npy. The pickles map
# '<id>.npy' to the number of feature rows; the JSON keys are the ids, with duration_frame =
# feature_frame = that length and, from the HACS-Segments JSON, duration_second and segments (the
# probe's action/background labels; stage 1 uses none). Windows are read from memory-mapped .npy
# files (cache='mmap'): the whole training set (about 86 GiB as float32) is never held in RAM.
_base_ = ['_base_/schedules/sola_stage1.py', '_base_/default_runtime.py']
data_root = 'data/hacs/'
feature_dir = data_root + 'training/'
feature_dir_val = data_root + 'validation/'
ann_file_train = data_root + 'hacs_training.json'
ann_file_val = data_root + 'hacs_validation.json'
probe_lists = '{{ fileDirname }}/_base_/datasets/hacs_probe/'  # shipped copies of the authors' lists
feat_dim = 2048

model = dict(
    type='SoLaPretrainer',
    neck=dict(type='SoLa', in_channels=feat_dim, hidden_channels=512, kernel_size1=5,
              dilation1=1, kernel_size2=1, dilation2=1),
    projector_hidden=512,
    loss=dict(type='SimilarityMatchingLoss', num_positions=8, step=2, step_start=4, coef=16.0))
# each window is one file read (~0.7 ms, tools/benchmark_stage1_memory.py): 8 workers keep a GPU
# fed (the authors use 16)
train_dataloader = dict(
    batch_size=256, num_workers=8, persistent_workers=True,
    sampler=dict(type='SimilarityWindowSampler', shuffle=True),
    dataset=dict(type='SimilarityWindowDataset', ann_file=ann_file_train,
                 data_prefix=dict(feature=feature_dir), feature_ext='.npy', feat_dim=feat_dim,
                 temporal_scale=None, window=23, cache='mmap'))
# The authors' linear probe (make_evaluation_db + linear_probing), every 10 epochs: SoLa applied to
# each listed video at native length, one random snippet per 100-snippet chunk, SGD 0.01, 16
# epochs, mean val accuracy of epochs 6-15. The best checkpoint by probe/score goes to stage 2.
val_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='LinearProbeDataset', train_ann_file=ann_file_train, ann_file=ann_file_val,
                 train_data_prefix=dict(feature=feature_dir),
                 data_prefix=dict(feature=feature_dir_val),
                 train_video_list=probe_lists + 'training_subset_list.txt',
                 video_list=probe_lists + 'validation_subset_list.txt',
                 feature_ext='.npy', feat_dim=feat_dim, temporal_scale=None))
val_cfg = dict(type='ValLoop')
val_evaluator = dict(type='LinearProbeMetric', prefix='probe', boundary_k=2, epochs=16, lr=0.01,
                     momentum=0.9, batch_size=256, score_epochs=(5, 14), sampling='chunk',
                     chunk_size=100, seed=0, compare_raw=True, per_class=False)
test_dataloader = None
test_cfg = None
test_evaluator = None
default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=2, save_best='probe/score',
                                     rule='greater'),
                     logger=dict(interval=10))
