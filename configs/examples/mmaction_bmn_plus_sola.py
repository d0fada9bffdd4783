# SoLa added to MMAction2's own BMN config by config alone (what a user of MMAction2 writes in their
# project): import sola_mm, wrap the localizer in NeckLocalizer, put the frozen SoLa neck before it.
# SoLaStage1Hook runs Similarity Matching first (or loads `sola_stage1.checkpoint` when set).
_base_ = ['mmaction::localization/bmn/bmn_2xb8-400x100-9e_activitynet-feature.py']
custom_imports = dict(imports=['sola_mm'], allow_failed_imports=False)

model = dict(_delete_=True, type='NeckLocalizer', localizer={{_base_.model}},
             neck=dict(type='SoLa', in_channels=400, hidden_channels=512, frozen=True))
sola_stage1 = dict(config='{{ fileDirname }}/../sola_pretrain_anet.py', checkpoint=None,
                   work_subdir='sola_stage1', inherit=True, cfg_options=dict())
# merged into MMAction2's hooks; data_check: sola_mm's data check (every feature file of every
# split, all problems in one table) before stage 1
default_hooks = dict(sola_stage1=dict(type='SoLaStage1Hook'),
                     data_check=dict(type='DataCheckHook'))
