# SoLa on top of any localizer config (used as a second _base_ next to the baseline):
#   _base_ = ['bmn_anet.py', '_base_/sola.py']
#   model = dict(neck={{_base_.sola_neck}})
# The neck is frozen; its weights come from Similarity Matching (stage 1). SoLaStage1Hook runs
# stage 1 before stage 2 trains when `checkpoint` is None, or reuses a finished stage 1 found in
# <work_dir>/<work_subdir>. The hook is `default_hooks.sola_stage1` of _base_/default_runtime.py
# (a dict merged key by key; it does nothing without a SoLa neck), not an entry of `custom_hooks`
# (a list that a config or --cfg-options replaces whole), so a config that sets its own custom
# hooks keeps stage 1. Should the hook or `sola_stage1` be removed anyway, the model refuses to
# train a frozen neck that holds no stage-1 weights (NeckLocalizer): a SoLa config never silently
# trains the baseline.
sola_neck = dict(type='SoLa', in_channels=400, hidden_channels=512, kernel_size1=5, dilation1=1,
                 kernel_size2=1, dilation2=1, frozen=True)
sola_stage1 = dict(
    config='{{ fileDirname }}/../sola_pretrain_anet.py',  # the stage-1 recipe
    checkpoint=None,            # a finished stage-1 checkpoint: skip stage 1 and load it
    work_subdir='sola_stage1',  # stage 1 runs (and resumes) in <work_dir>/sola_stage1
    inherit=True,               # stage 1 takes the neck and the training features from this config
    cfg_options=dict())         # overrides for the stage-1 config (e.g. train_cfg.max_epochs)
# SoLa sees each video whole, at its native length, as the authors' process_feature: the datasets
# hand over the native-length features and the model resizes to temporal_scale (ANet, HACS) or
# cuts the THUMOS window after the neck (docs/protocol.md, "Order"). The SoLa configs set these on
# their train/val/test datasets; `neck_context` real snippets on each side of a THUMOS window cover
# the neck's receptive field (checked by NeckLocalizer; None: the whole video).
sola_data = dict(neck_input='native')
sola_window_data = dict(neck_input='native', neck_context=16)
