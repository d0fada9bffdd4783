"""ActionFormer's training step through mmengine against the official one (fixtures
tests/data/actionformer/*.npz): the decay / no-decay AdamW groups of
``DecayGroupsOptimWrapperConstructor``, gradient clipping in ``OptimWrapper``, the warm-up +
cosine schedule of ``ZeroStartLinearLR`` + ``CosineAnnealingLR``, and mmengine's
``ExponentialMovingAverage`` (what ``EMAHook`` runs) against ``ModelEma``: losses, normaliser,
raw gradients and parameters of three steps, the lr of every iteration, the EMA weights.
"""
import numpy as np
import pytest
import torch
from mmengine.model import ExponentialMovingAverage
from mmengine.registry import PARAM_SCHEDULERS

from mmaction.registry import OPTIM_WRAPPER_CONSTRUCTORS
from sola_mm.engine.optim_constructor import decay_groups
from tests.models.actionformer_oracle import batch, build, load

ATOL = 1e-12


@pytest.fixture(scope='module', params=['thumos', 'anet'])
def oracle(request):
    data, cfg = load(request.param)
    return request.param, dict(data), cfg


def _wrapper(model, cfg):
    opt = cfg['official_cfg']['opt']
    clip = cfg['official_cfg']['train_cfg']['clip_grad_l2norm']
    wrapper_cfg = dict(optimizer=dict(type='AdamW', lr=opt['learning_rate'],
                                      weight_decay=opt['weight_decay']))
    if clip > 0:
        wrapper_cfg['clip_grad'] = dict(max_norm=clip)
    return OPTIM_WRAPPER_CONSTRUCTORS.build(
        dict(type='DecayGroupsOptimWrapperConstructor', optim_wrapper_cfg=wrapper_cfg))(model)


def _schedule_cfg(cfg):
    """The configs' epoch-based schedule (configs/actionformer_*.py use the same two entries)."""
    opt = cfg['official_cfg']['opt']
    warm, total = opt['warmup_epochs'], opt['warmup_epochs'] + opt['epochs']
    return [dict(type='ZeroStartLinearLR', begin=0, end=warm, by_epoch=True,
                 convert_to_iter_based=True),
            dict(type='CosineAnnealingLR', begin=warm, end=total, T_max=total - warm,
                 eta_min=1e-8, by_epoch=True, convert_to_iter_based=True)]


def _schedulers(wrapper, cfg):
    iters = cfg['num_iters_per_epoch']
    return [PARAM_SCHEDULERS.build(s, default_args=dict(optimizer=wrapper, epoch_length=iters))
            for s in _schedule_cfg(cfg)]


def test_parameter_groups(oracle):
    name, d, cfg = oracle
    model = build(d, cfg)
    decay, no_decay = decay_groups(model)
    assert decay == sorted(cfg['param_groups']['decay'])
    assert no_decay == sorted(cfg['param_groups']['no_decay'])
    wrapper = _wrapper(model, cfg)
    groups = wrapper.optimizer.param_groups
    assert [g['weight_decay'] for g in groups] == [cfg['official_cfg']['opt']['weight_decay'], 0]
    named = dict(model.named_parameters())
    assert [id(p) for p in groups[0]['params']] == [id(named[n]) for n in decay]


def test_schedule_equals_official(oracle):
    name, d, cfg = oracle
    model = build(d, cfg)
    wrapper = _wrapper(model, cfg)
    scheds = _schedulers(wrapper, cfg)
    sched_lr = d['sched_lr']
    M = len(sched_lr) - 1
    lrs = []
    for _ in range(M):  # the iterations a run trains (0 .. M - 1)
        lrs.append([g['lr'] for g in wrapper.optimizer.param_groups])
        for s in scheds:
            s.step()
    np.testing.assert_allclose(lrs, sched_lr[:M], rtol=1e-12, atol=0)
    assert lrs[0] == [0.0, 0.0]
    # iteration M (never trained) also matches with the cosine run one step further
    opt = cfg['official_cfg']['opt']
    iters = cfg['num_iters_per_epoch']
    W = opt['warmup_epochs'] * iters
    wrapper = _wrapper(build(d, cfg), cfg)
    scheds = [PARAM_SCHEDULERS.build(dict(type='ZeroStartLinearLR', begin=0, end=W,
                                          by_epoch=False), default_args=dict(optimizer=wrapper)),
              PARAM_SCHEDULERS.build(dict(type='CosineAnnealingLR', begin=W, end=M + 1,
                                          T_max=M - W, eta_min=1e-8, by_epoch=False),
                                     default_args=dict(optimizer=wrapper))]
    for _ in range(M):
        for s in scheds:
            s.step()
    np.testing.assert_allclose([g['lr'] for g in wrapper.optimizer.param_groups], sched_lr[M],
                               rtol=1e-12, atol=0)


def test_three_training_steps_and_ema(oracle):
    name, d, cfg = oracle
    model = build(d, cfg)
    model.train()
    feats, samples = batch(d, cfg)
    wrapper = _wrapper(model, cfg)
    scheds = _schedulers(wrapper, cfg)
    ema = ExponentialMovingAverage(model, momentum=1 - 0.999)  # EMAHook(momentum=0.001)
    grad_keys = ['grad/', 'grad_step2/', 'grad_step3/']
    for step in range(cfg['n_steps']):
        np.testing.assert_allclose([g['lr'] for g in wrapper.optimizer.param_groups],
                                   d['lr'][step], rtol=1e-12, atol=0)
        losses = model(feats, samples, mode='loss')
        total = losses['loss_cls'] + losses['loss_reg']
        assert float(model.loss_normalizer) == pytest.approx(d['loss_normalizer'][step + 1],
                                                             rel=1e-15)
        np.testing.assert_allclose(float(total.detach()), d['losses_per_step'][step][2],
                                   rtol=0, atol=ATOL)
        wrapper.backward(total)
        norm_sq = 0.0
        for n, p in model.named_parameters():
            np.testing.assert_allclose(p.grad.numpy(), d[grad_keys[step] + n], rtol=0,
                                       atol=ATOL, err_msg=f'step {step + 1} {n}')
            norm_sq += float((p.grad ** 2).sum())
        np.testing.assert_allclose(norm_sq ** 0.5, d['grad_norm'][step], rtol=1e-12)
        wrapper.step()
        wrapper.zero_grad()
        for s in scheds:
            s.step()
        ema.update_parameters(model)
        if step == 0:  # lr_0 = 0: the parameters are still sd/
            for n, p in model.named_parameters():
                np.testing.assert_allclose(p.detach().numpy(), d[f'sd/{n}'], rtol=0, atol=0)
        else:
            for n, p in model.named_parameters():
                np.testing.assert_allclose(p.detach().numpy(), d[f'step{step + 1}/{n}'],
                                           rtol=0, atol=ATOL, err_msg=f'step {step + 1} {n}')
    for n, p in ema.module.named_parameters():
        np.testing.assert_allclose(p.detach().numpy(), d[f'ema/{n}'], rtol=0, atol=ATOL,
                                   err_msg=n)


def test_constructor_rejects_unknown_parameters():
    model = torch.nn.Module()
    model.odd = torch.nn.Parameter(torch.zeros(2))
    with pytest.raises(ValueError, match='odd'):
        decay_groups(model)
