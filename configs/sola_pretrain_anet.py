# SoLa stage 1 alone: Similarity Matching on unlabeled ActivityNet-1.3 features.
#   python tools/train.py configs/sola_pretrain_anet.py
# The stage-2 SoLa configs run this recipe automatically (SoLaStage1Hook), with their own neck
# and features.
_base_ = ['_base_/datasets/anet_feature.py', '_base_/schedules/sola_stage1.py',
          '_base_/default_runtime.py']

model = dict(
    type='SoLaPretrainer',
    neck=dict(type='SoLa', in_channels=400, hidden_channels=512, kernel_size1=5, dilation1=1,
              kernel_size2=1, dilation2=1),
    projector_hidden=512,
    loss=dict(type='SimilarityMatchingLoss', num_positions=8, step=2, step_start=4, coef=16.0))

train_dataloader = dict(
    batch_size=256, num_workers=2, persistent_workers=True,
    sampler=dict(type='SimilarityWindowSampler', shuffle=True),  # new windows every epoch
    dataset=dict(_delete_=True, type='SimilarityWindowDataset', ann_file={{_base_.ann_file_train}},
                 data_prefix=dict(feature={{_base_.feature_dir}}),
                 feature_ext={{_base_.feature_ext}}, feat_dim={{_base_.feat_dim}},
                 temporal_scale={{_base_.temporal_scale}}, window=23))
# Checkpoint choice (paper): every 10 epochs (train_cfg.val_interval) a linear probe is fitted on
# the SoLa output of the train videos and scored on the val videos (whole videos, no windowing);
# CheckpointHook keeps the best by `probe/score` and SoLaStage1Hook hands that one to stage 2.
val_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(_delete_=True, type='LinearProbeDataset', train_ann_file={{_base_.ann_file_train}},
                 ann_file={{_base_.ann_file_val}}, data_prefix=dict(feature={{_base_.feature_dir}}),
                 feature_ext={{_base_.feature_ext}}, feat_dim={{_base_.feat_dim}},
                 temporal_scale={{_base_.temporal_scale}}))
val_cfg = dict(type='ValLoop')
val_evaluator = dict(_delete_=True, type='LinearProbeMetric', prefix='probe', boundary_k=2,
                     epochs=16, lr=0.01, momentum=0.9, batch_size=256, score_epochs=(5, 14),
                     sampling='chunk', chunk_size=100,
                     seed=0, compare_raw=True, per_class=False)
test_dataloader = None
test_cfg = None
test_evaluator = None
default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=2, save_best='probe/score',
                                     rule='greater'),
                     logger=dict(interval=10))
