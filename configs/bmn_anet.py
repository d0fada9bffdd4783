# Baseline: BMN on ActivityNet-1.3 TSN features (no neck).
_base_ = ['_base_/models/bmn.py', '_base_/datasets/anet_feature.py',
          '_base_/schedules/bmn_anet.py', '_base_/default_runtime.py']
default_hooks = dict(checkpoint=dict(save_best='auto'))
