# Baseline: BMN on ActivityNet-1.3 TSN features (no neck).
_base_ = ['_base_/models/bmn.py', '_base_/datasets/anet_feature.py',
          '_base_/schedules/bmn_anet.py', '_base_/default_runtime.py']
# MMAction2's BMN ActivityNet config drops the last incomplete training batch
train_dataloader = dict(drop_last=True)
# Checkpoint rule of MMAction2's BMN recipe: the last epoch of the fixed schedule (no selection on
# ANet val, the reported set); best on a metric: default_hooks.checkpoint.save_best=mAP_avg.
default_hooks = dict(checkpoint=dict(save_best=None))
