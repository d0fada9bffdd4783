# Baseline: BMN on THUMOS-14 sliding windows (same windows as G-TAD: T = 256, stride 128, 5-frame
# snippets, 2048-d flow+rgb). WindowBMN = MMAction2's BMN whose predictions are video seconds.
_base_ = ['_base_/models/bmn.py', '_base_/datasets/thumos_feature.py',
          '_base_/schedules/bmn_anet.py', '_base_/default_runtime.py']
custom_imports = dict(imports=['sola_mm', 'sola_mm.models.localizers.window_bmn'],
                      allow_failed_imports=False)
model = dict(localizer=dict(type='WindowBMN', temporal_dim={{_base_.window_size}},
                            feat_dim={{_base_.feat_dim}}, post_process_top_k=200))
# MMAction2's BMN schedule (Adam 1e-3, wd 1e-4, step at epoch 7) over 10 epochs
max_epochs = 10
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True,
                        milestones=[7], gamma=0.1)]
# Checkpoint rule: the last epoch of the fixed schedule (THUMOS14 test is the reported set).
default_hooks = dict(checkpoint=dict(save_best=None))
