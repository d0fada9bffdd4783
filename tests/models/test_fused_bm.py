"""The fused boundary-matching layer of BatchedBMN against MMAction2's BMN: same sampling matrix
(bit for bit), same outputs and gradients (float64, 1e-10; float32 within 1e-5), same loss on a
demo batch, same checkpoints."""
import pytest
import torch
from mmaction.models.localizers import BMN
from mmaction.registry import DATASETS, MODELS
from mmengine.dataset import pseudo_collate

import sola_mm  # noqa: F401
from sola_mm.models.localizers.fused_bm import bm_sample_mask, bm_sampling_entries

# the demo config's proportions (tiny_anet: 32 channels, 16 snippets)
CFG = dict(temporal_dim=16, boundary_ratio=0.5, num_samples=8, num_samples_per_bin=3,
           feat_dim=32, hidden_dim_1d=16, hidden_dim_2d=8, hidden_dim_3d=24, soft_nms_alpha=0.4,
           soft_nms_low_threshold=0.5, soft_nms_high_threshold=0.9, post_process_top_k=100)


def _pair(dtype=torch.float64, seed=0, **overrides):
    cfg = dict(CFG, **overrides)
    torch.manual_seed(seed)
    reference = BMN(**cfg).to(dtype)
    fused = MODELS.build(dict(type='BatchedBMN', **cfg)).to(dtype)
    assert fused.fused_bm
    fused.load_state_dict(reference.state_dict())
    return reference, fused


@pytest.mark.parametrize('tscale,samples,per_bin,ratio',
                         [(16, 8, 3, 0.5), (23, 5, 4, 0.3), (12, 32, 3, 0.5), (9, 4, 1, 0.0)])
def test_sampling_matrix_is_mmaction2s_bit_for_bit(tscale, samples, per_bin, ratio):
    reference = BMN(**dict(CFG, temporal_dim=tscale, num_samples=samples,
                           num_samples_per_bin=per_bin, boundary_ratio=ratio))
    entries = bm_sampling_entries(tscale, samples, per_bin, ratio)
    assert torch.equal(bm_sample_mask(tscale, samples, entries), reference.sample_mask.data)
    unfused = MODELS.build(dict(type='BatchedBMN', fused_bm=False, **dict(
        CFG, temporal_dim=tscale, num_samples=samples, num_samples_per_bin=per_bin,
        boundary_ratio=ratio)))
    assert torch.equal(unfused.sample_mask.data, reference.sample_mask.data)


def _demo_batch(paths, batch=4, subset='train'):
    pipeline = [dict(type='LoadTALFeature', feat_dim=32, temporal_scale=16),
                dict(type='GenerateLocalizationLabels'),
                dict(type='PackLocalizationInputs', keys=('gt_bbox', ),
                     meta_keys=('video_name', 'duration_second', 'duration_frame',
                                'feature_frame'))]
    dataset = DATASETS.build(dict(type='ANetFeatureDataset', ann_file=paths[subset],
                                  data_prefix=dict(feature=paths['features']),
                                  feature_ext='.npy', pipeline=pipeline))
    data = pseudo_collate([dataset[i] for i in range(batch)])
    return torch.stack(data['inputs']), data['data_samples']


def test_float64_outputs_loss_and_every_gradient_equal_bmn(tiny_anet):
    reference, fused = _pair(torch.float64)
    feats, samples = _demo_batch(tiny_anet)
    feats = feats.double()
    results = []
    for model in (reference, fused):
        model.zero_grad(set_to_none=True)
        x = feats.clone().requires_grad_(True)
        outputs = model._forward(x)
        torch.manual_seed(7)  # BMNLoss samples its pem_reg cells at random
        loss = model.loss(x, samples)['loss']
        loss.backward()
        grads = {name: p.grad for name, p in model.named_parameters() if p.requires_grad}
        results.append((outputs, loss, grads, x.grad))
    (out_r, loss_r, grads_r, xg_r), (out_f, loss_f, grads_f, xg_f) = results
    for a, b in zip(out_r, out_f):
        assert a.shape == b.shape
        torch.testing.assert_close(b, a, rtol=0, atol=1e-10)
    assert loss_r.dtype == torch.float64 and abs(loss_r.item() - loss_f.item()) < 1e-10
    assert set(grads_r) == set(grads_f) and len(grads_r) == 24
    for name in grads_r:
        assert grads_r[name].abs().max() > 0, name  # every parameter takes part
        torch.testing.assert_close(grads_f[name], grads_r[name], rtol=0, atol=1e-10, msg=name)
    torch.testing.assert_close(xg_f, xg_r, rtol=0, atol=1e-10)


def test_float64_gradient_of_every_output_cell():
    """A random cotangent on all three outputs, invalid cells (s + d >= T) included."""
    reference, fused = _pair(torch.float64, seed=3, temporal_dim=11, num_samples=5,
                             boundary_ratio=0.25)
    x = torch.randn(3, 32, 11, dtype=torch.float64)
    cot = [torch.randn(3, 2, 11, 11, dtype=torch.float64), torch.randn(3, 11, dtype=torch.float64),
           torch.randn(3, 11, dtype=torch.float64)]
    grads = []
    for model in (reference, fused):
        xi = x.clone().requires_grad_(True)
        outputs = model._forward(xi)
        torch.autograd.backward(outputs, cot)
        grads.append([xi.grad] + [p.grad for p in model.parameters() if p.requires_grad])
    for a, b in zip(*grads):
        torch.testing.assert_close(b, a, rtol=0, atol=1e-10)


def test_float32_within_stated_tolerance():
    reference, fused = _pair(torch.float32, seed=1, temporal_dim=32, num_samples=16,
                             hidden_dim_1d=64, hidden_dim_3d=128, hidden_dim_2d=32)
    x = torch.randn(2, 32, 32)
    with torch.no_grad():
        for a, b in zip(reference._forward(x), fused._forward(x)):
            torch.testing.assert_close(b, a, rtol=0, atol=1e-5)


def test_checkpoints_leave_out_the_mask_and_load_both_ways():
    reference, fused = _pair(torch.float32)
    ours = fused.state_dict()
    assert set(ours) == set(reference.state_dict()) - {'sample_mask'}
    # an MMAction2 checkpoint (with the key) loads strictly; a wrong-shaped mask is a clear error
    fused.load_state_dict(reference.state_dict())
    bad = dict(reference.state_dict(), sample_mask=torch.zeros(3, 3))
    with pytest.raises(RuntimeError, match=r'sample_mask has shape \[3, 3\].*temporal_dim=16'):
        fused.load_state_dict(bad)
    # ours loads into MMAction2's BMN with strict=False (mmengine's load_checkpoint default) ...
    fresh = BMN(**CFG)
    missing, unexpected = fresh.load_state_dict(ours, strict=False)
    assert missing == ['sample_mask'] and not unexpected
    x = torch.randn(2, 32, 16)
    with torch.no_grad():
        for a, b in zip(fresh._forward(x), fused._forward(x)):
            torch.testing.assert_close(b, a, rtol=0, atol=1e-5)
    # ... and strictly when written with sample_mask_in_state_dict=True
    keeping = MODELS.build(dict(type='BatchedBMN', sample_mask_in_state_dict=True, **CFG))
    keeping.load_state_dict(ours)
    full = keeping.state_dict()
    assert torch.equal(full['sample_mask'], fresh.sample_mask.data)
    BMN(**CFG).load_state_dict(full)
    # MMAction2's order (fused_bm=False) loads our key-less checkpoint too
    MODELS.build(dict(type='BatchedBMN', fused_bm=False, **CFG)).load_state_dict(ours)


def test_predict_unchanged_by_fusion_on_the_demo(tiny_anet):
    """The demo's validation videos: same proposal segments in the same order, scores within
    float32 rounding (MMAction2's order: fused_bm=False)."""
    reference, fused = _pair(torch.float32, seed=2)
    unfused = MODELS.build(dict(type='BatchedBMN', fused_bm=False, **CFG)).eval()
    unfused.load_state_dict(reference.state_dict())
    fused.eval()
    feats, samples = _demo_batch(tiny_anet, batch=8, subset='val')
    with torch.no_grad():
        ours, theirs = fused.predict(feats, samples), unfused.predict(feats, samples)
    assert [p['video_name'] for p in ours] == [s.metainfo['video_name'] for s in samples]
    for mine, ref in zip(ours, theirs):
        assert len(mine['proposal_list']) == len(ref['proposal_list']) > 1
        for p, q in zip(mine['proposal_list'], ref['proposal_list']):
            assert p['segment'] == q['segment']
            assert abs(p['score'] - q['score']) < 1e-5


def test_bf16_autocast_runs_the_sparse_products_in_float32():
    """MKL has no bf16 CSR kernel: under CPU autocast the fixed sparse products run in float32
    (BMN's fused layer and G-TAD's SGAlign), the rest in bf16; gradients reach every weight."""
    from sola_mm.models.localizers.gtad import GTAD
    torch.manual_seed(0)
    gtad = GTAD(feat_dim=16, temporal_dim=12, max_duration=12, h_dim_1d=16, h_dim_2d=8,
                h_dim_3d=16, inner_bins=4, context_bins=2, gcnext_groups=4)
    _, bmn = _pair(torch.float32)
    for model, channels, length in ((bmn, 32, 16), (gtad, 16, 12)):
        x = torch.randn(2, channels, length)
        reference = model._forward(x)
        with torch.autocast('cpu', dtype=torch.bfloat16):
            outputs = model._forward(x)
        sum(o.float().sum() for o in outputs).backward()
        for a, b in zip(reference, outputs):
            torch.testing.assert_close(b.float(), a, rtol=0, atol=3e-2)
        assert all(p.grad is not None and torch.isfinite(p.grad).all()
                   for p in model.parameters() if p.requires_grad)
