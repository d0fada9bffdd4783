# Runtime shared by every sola_mm config (mmengine Runner).
default_scope = 'mmaction'
custom_imports = dict(imports=['sola_mm'], allow_failed_imports=False)

default_hooks = dict(
    runtime_info=dict(type='RuntimeInfoHook'),
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20, ignore_last=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3, save_last=True),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    sync_buffers=dict(type='SyncBuffersHook'),
    sola_stage1=dict(type='SoLaStage1Hook'),  # SoLa stage 1 (nothing without a SoLa neck)
    rng_state=dict(type='RNGStateHook'),  # checkpoints the RNG streams: exact --resume
    protocol=dict(type='ProtocolHook'),  # logs checkpoint rule, global batch and lr; flags changes
    data_check=dict(type='DataCheckHook'))  # every feature file of every split, before training

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))  # tools/train.py switches to gloo on CPU-only machines

# Multi-process training keeps the recipe: train_dataloader.batch_size is the global batch, split
# over the processes ('split'); or 'scale_lr' (batch per process, lr x world size by mmengine's
# auto_scale_lr); or 'per_process' (MMAction2's behaviour: the recipe changes). tools/train.py
# applies it (sola_mm.engine.launch.apply_batch_policy), for stage 1 and stage 2.
batch_policy = 'split'

log_processor = dict(type='LogProcessor', window_size=20, by_epoch=True)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='ActionVisualizer', vis_backends=vis_backends)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0, deterministic=False)
