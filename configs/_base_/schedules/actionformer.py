# ActionFormer's optimisation (official train.py / libs/utils/train_utils.py): AdamW with the
# official decay / no-decay groups (no decay on biases, norms, scales), gradient-norm clip 1.0,
# model EMA (ModelEma, decay 0.999) updated after every step and used for validation / test. The
# configs add the lr, the epochs and the per-iteration warm-up + cosine schedule:
#   ZeroStartLinearLR over the warm-up epochs (lr_k = k lr / (W - 1), lr_0 = 0), then
#   CosineAnnealingLR down to 1e-8 (official LinearWarmupCosineAnnealingLR).
optim_wrapper = dict(constructor='DecayGroupsOptimWrapperConstructor',
                     optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.05),
                     clip_grad=dict(max_norm=1.0, norm_type=2))
custom_hooks = [dict(type='EMAHook', momentum=0.001, update_buffers=False,
                     priority='ABOVE_NORMAL')]
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
