# Baseline: G-TAD on ActivityNet-1.3 TSN features (no neck), official `anet` settings.
_base_ = ['_base_/models/gtad_anet.py', '_base_/datasets/anet_feature.py',
          '_base_/schedules/gtad_anet.py', '_base_/default_runtime.py']
train_dataloader = dict(batch_size=16)
# Checkpoint rule of the official gtad_train.py: the epoch with the lowest validation loss (the
# model reports it in val_step). "Best on metric" (selected on ANet val, the reported set) stays
# reachable: --cfg-options default_hooks.checkpoint.save_best=mAP_avg (logged as such).
model = dict(val_loss=True)
default_hooks = dict(checkpoint=dict(save_best='val_loss', rule='less'))
