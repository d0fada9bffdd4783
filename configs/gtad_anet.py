# Baseline: G-TAD on ActivityNet-1.3 TSN features (no neck), official `anet` settings.
_base_ = ['_base_/models/gtad_anet.py', '_base_/datasets/anet_feature.py',
          '_base_/schedules/gtad_anet.py', '_base_/default_runtime.py']
train_dataloader = dict(batch_size=16)
default_hooks = dict(checkpoint=dict(save_best='auto'))
