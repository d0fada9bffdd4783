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
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(_delete_=True, type='SimilarityWindowDataset', ann_file={{_base_.ann_file_train}},
                 data_prefix=dict(feature={{_base_.feature_dir}}),
                 feature_ext={{_base_.feature_ext}}, feat_dim={{_base_.feat_dim}},
                 temporal_scale={{_base_.temporal_scale}}, window=23))
val_dataloader = None
val_cfg = None
val_evaluator = None
test_dataloader = None
test_cfg = None
test_evaluator = None
default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=2), logger=dict(interval=10))
