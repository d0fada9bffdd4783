"""The fused SGAlign + first head conv path equals the plain (official order) path, never builds the
``[B, C * (Ri + Rc), D, T]`` SGAlign tensor, and G-TAD trains behind a frozen SoLa neck."""
import numpy as np
import pytest
import torch
from mmengine.structures import InstanceData
from torch.utils._python_dispatch import TorchDispatchMode

from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample

VARIANTS = {
    'anet': dict(variant='anet', feat_dim=12, temporal_dim=10, max_duration=10, inner_bins=32,
                 context_bins=4, kernel_2d=1),
    'thumos': dict(variant='thumos', feat_dim=12, temporal_dim=14, max_duration=6, inner_bins=16,
                   context_bins=16, kernel_2d=3, loss_weights=dict(tem=1., pem_reg=1., pem_cls=10.),
                   pem_cls_count_offset=10., label_style='anet'),
}
WIDTHS = dict(h_dim_1d=16, h_dim_2d=8, h_dim_3d=16)


def gtad_cfg(variant, **kwargs):
    return dict(dict(type='GTAD', **VARIANTS[variant], **WIDTHS), **kwargs)


def samples(n, temporal_dim):
    out = []
    for i in range(n):
        sample = ActionDataSample()
        # grid-aligned GT so that every loss bucket is populated
        g = torch.tensor([[2 / temporal_dim, 7 / temporal_dim], [0.75, 0.95]])[:1 + i % 2]
        sample.gt_instances = InstanceData(gt_bbox=g.double())
        sample.set_metainfo(dict(video_name=f'v_{i}', duration_second=30.0))
        out.append(sample)
    return out


def run_step(model, x, data_samples, seed=0):
    """One loss + backward; returns (conf_map, start, end, total, input grad, param grads)."""
    x = x.clone().requires_grad_(True)
    model.zero_grad()
    outputs = model(x)
    torch.manual_seed(seed)
    np.random.seed(seed)  # pem_reg's draws
    losses = model(x, data_samples, mode='loss')
    total = sum(losses.values())
    total.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    return outputs, total.detach(), x.grad, grads


@pytest.mark.parametrize('variant', ['anet', 'thumos'])
@pytest.mark.parametrize('dtype,tol', [(torch.float64, 1e-12), (torch.float32, 2e-5)])
def test_fused_equals_plain(variant, dtype, tol):
    torch.manual_seed(0)
    plain = MODELS.build(gtad_cfg(variant, fused_sgalign=False)).to(dtype)
    fused = MODELS.build(gtad_cfg(variant, fused_sgalign=True)).to(dtype)
    fused.load_state_dict(plain.state_dict())
    T = VARIANTS[variant]['temporal_dim']
    x = torch.randn(3, 12, T, dtype=dtype)
    data = samples(3, T)
    out_p, loss_p, gx_p, grads_p = run_step(plain, x, data)
    out_f, loss_f, gx_f, grads_f = run_step(fused, x, data)
    for a, b in zip(out_p, out_f):
        torch.testing.assert_close(a, b, rtol=0, atol=tol)
    torch.testing.assert_close(loss_p, loss_f, rtol=0, atol=tol)
    torch.testing.assert_close(gx_p, gx_f, rtol=0, atol=tol)
    assert grads_p.keys() == grads_f.keys()
    for name in grads_p:
        scale = max(1.0, grads_p[name].abs().max().item())
        torch.testing.assert_close(grads_p[name], grads_f[name], rtol=0, atol=tol * scale,
                                   msg=name)
    # the comparison is not vacuous: the head's first conv does get a gradient
    assert grads_f['localization.0.weight'].abs().max() > 0


class LargestTensor(TorchDispatchMode):
    """Records the largest tensor any op returns (forward and backward)."""

    def __init__(self):
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in (out if isinstance(out, (tuple, list)) else (out, )):
            if isinstance(t, torch.Tensor) and t.layout == torch.strided:
                self.largest = max(self.largest, t.numel())
        return out


@pytest.mark.parametrize('fused', [False, True])
def test_fused_path_never_builds_the_sgalign_tensor(fused):
    torch.manual_seed(0)
    B, T = 2, 16
    model = MODELS.build(gtad_cfg('anet', fused_sgalign=fused, temporal_dim=T, max_duration=T))
    x = torch.randn(B, 12, T)
    model(x)  # builds and caches the interpolation matrices outside the tracked step
    sgalign_numel = B * WIDTHS['h_dim_1d'] * 36 * T * T
    with LargestTensor() as mode:
        sum(model(x, samples(B, T), mode='loss').values()).backward()
    if fused:
        # the largest tensors are the per-bin projections Z [B, h3d, Ri + Rc, T] and the
        # [B, h3d, D, T] maps, both a small fraction of the SGAlign tensor
        h3d = WIDTHS['h_dim_3d']
        assert mode.largest == max(B * h3d * 36 * T, B * h3d * T * T)
        assert mode.largest * 16 <= sgalign_numel
    else:
        assert mode.largest >= sgalign_numel


def neck_localizer(frozen):
    model = MODELS.build(dict(
        type='NeckLocalizer', localizer=gtad_cfg('anet'),
        neck=dict(type='SoLa', in_channels=12, hidden_channels=8, alpha_init=0.4,
                  frozen=frozen)))
    # as if stage 1 had handed over these weights (a frozen neck without them refuses to train)
    model.neck.load_state_dict(model.neck.state_dict())
    return model


def test_gradients_flow_through_gtad_and_stop_at_frozen_neck():
    torch.manual_seed(0)
    model = neck_localizer(frozen=True)
    model.train()
    assert not model.neck.training and model.localizer.training
    assert all(not p.requires_grad for p in model.neck.parameters())
    x = list(torch.randn(3, 12, 10).unbind(0))
    feats = model.extract_feat(x)
    assert not feats.requires_grad  # the frozen neck runs under no_grad
    losses = model(x, samples(3, 10), mode='loss')
    assert set(losses) == {'loss_tem', 'loss_pem_reg', 'loss_pem_cls'}
    sum(losses.values()).backward()
    assert all(p.grad is None for p in model.neck.parameters())
    for name, param in model.localizer.named_parameters():
        assert param.grad is not None, name
        assert torch.isfinite(param.grad).all(), name
    # every part of G-TAD is reached: input conv, the four GCNeXt blocks, both curves, the head
    for name in ('backbone1.0.weight', 'backbone1.2.sconvs.0.weight',
                 'backbone2.0.tconvs.4.weight', 'regu_s.1.weight', 'regu_e.0.sconvs.4.bias',
                 'localization.0.weight', 'localization.8.bias'):
        assert model.localizer.get_parameter(name).grad.abs().sum() > 0, name
    # the optimizer sees no neck parameter (frozen = not trainable)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and not any(n.startswith('neck.') for n in trainable)


def test_trainable_neck_gets_gradient_through_gtad():
    torch.manual_seed(0)
    model = neck_localizer(frozen=False)
    model.train()
    sum(model(list(torch.randn(2, 12, 10).unbind(0)), samples(2, 10), mode='loss').values()
        ).backward()
    assert model.neck.conv1.weight.grad is not None
    assert model.neck.conv1.weight.grad.abs().sum() > 0


def test_neck_localizer_predict_batches_and_checks_widths():
    model = neck_localizer(frozen=True).eval()
    with torch.no_grad():
        out = model(list(torch.randn(3, 12, 10).unbind(0)), samples(3, 10), mode='predict')
    assert [o['video_name'] for o in out] == ['v_0', 'v_1', 'v_2']
    with pytest.raises(ValueError, match='in_channels=16.*feat_dim=12'):
        MODELS.build(dict(type='NeckLocalizer', localizer=gtad_cfg('anet'),
                          neck=dict(type='SoLa', in_channels=16, hidden_channels=8)))


@pytest.mark.parametrize('fused', [False, True])
def test_training_step_is_deterministic(fused):
    """Fixed interpolation matrices, no atomics: two identical steps agree bit for bit."""
    torch.manual_seed(0)
    model = MODELS.build(gtad_cfg('thumos', fused_sgalign=fused))
    x = torch.randn(2, 12, 14)
    first = run_step(model, x, samples(2, 14))
    second = run_step(model, x, samples(2, 14))
    for a, b in zip(first[0], second[0]):
        assert torch.equal(a, b)
    assert torch.equal(first[2], second[2])
    assert all(torch.equal(first[3][k], second[3][k]) for k in first[3])
