# Short ActionFormer schedule of the demo configs (configs/demo/*actionformer*_demo.py): 1 warm-up
# + 19 cosine epochs, lr 3e-3, EMA momentum 0.05 (80-300 iterations are too few for 0.999). Names
# prefixed demo_af_ so that this file sits next to a full config in `_base_`.
demo_af_warmup_epochs = 1
demo_af_max_epochs = 20
demo_af_schedule = dict(
    train_cfg=dict(max_epochs=demo_af_max_epochs, val_begin=demo_af_max_epochs),
    optim_wrapper=dict(optimizer=dict(lr=3e-3)),
    custom_hooks=[dict(type='EMAHook', momentum=0.05, update_buffers=False,
                       priority='ABOVE_NORMAL')],
    param_scheduler=[
        dict(type='ZeroStartLinearLR', begin=0, end=demo_af_warmup_epochs, by_epoch=True,
             convert_to_iter_based=True),
        dict(type='CosineAnnealingLR', begin=demo_af_warmup_epochs, end=demo_af_max_epochs,
             T_max=demo_af_max_epochs - demo_af_warmup_epochs, eta_min=1e-8, by_epoch=True,
             convert_to_iter_based=True)],
    default_hooks=dict(logger=dict(interval=5),
                       checkpoint=dict(interval=demo_af_max_epochs, max_keep_ckpts=1)))
