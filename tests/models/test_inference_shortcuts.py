"""Test-time shortcut of the fused heads: the 2-D head one chunk of videos at a time (with the
permuted head weight computed once per batch). It must give the whole-batch numbers, use the
current weights, and stay out of training."""
import pytest
import torch
from mmaction.registry import MODELS

import sola_mm  # noqa: F401
from sola_mm.models.localizers.gtad import GTAD
from sola_mm.models.ops.inference_chunks import per_chunk

GTAD_SMALL = dict(feat_dim=16, temporal_dim=12, max_duration=12, h_dim_1d=16, h_dim_2d=8,
                  h_dim_3d=24, inner_bins=4, context_bins=2)
BMN_SMALL = dict(type='BatchedBMN', temporal_dim=12, boundary_ratio=0.5, num_samples=4,
                 num_samples_per_bin=3, feat_dim=16, hidden_dim_1d=8, hidden_dim_2d=8,
                 hidden_dim_3d=12, soft_nms_alpha=0.4, soft_nms_low_threshold=0.5,
                 soft_nms_high_threshold=0.9, post_process_top_k=100)


def _models(kind):
    models = []
    for chunk in (1, 2, None):
        torch.manual_seed(0)
        if kind == 'gtad':
            model = GTAD(**GTAD_SMALL, head_chunk_size=chunk)
        else:
            model = MODELS.build(dict(BMN_SMALL, head_chunk_size=chunk))
        models.append(model.double().eval())
    return models


@pytest.mark.parametrize('kind', ['gtad', 'bmn'])
def test_chunked_head_equals_the_whole_batch(kind):
    models = _models(kind)
    x = torch.randn(5, 16, 12, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        outputs = [model._forward(x) for model in models]
    for out in outputs[:2]:
        for got, want in zip(out, outputs[2]):
            torch.testing.assert_close(got, want, rtol=0, atol=1e-12)


def test_chunking_stays_out_of_training():
    calls = []

    def head(part):
        calls.append(part.shape[0])
        return part * 2

    x = torch.ones(4, 3, requires_grad=True)
    per_chunk(head, x, 1).sum().backward()  # gradients on: one call
    assert calls == [4] and torch.equal(x.grad, torch.full((4, 3), 2.))
    with torch.no_grad():
        out = per_chunk(lambda part: (head(part), part[:, :1]), x, 3)
    assert calls == [4, 3, 1] and out[0].shape == (4, 3) and out[1].shape == (4, 1)
    with pytest.raises(ValueError, match='head_chunk_size must be >= 1'):
        GTAD(**GTAD_SMALL, head_chunk_size=0)


def test_gtad_eval_after_training_uses_the_trained_weights():
    torch.manual_seed(0)
    model = GTAD(**GTAD_SMALL).double()
    x = torch.randn(2, 16, 12, dtype=torch.float64)
    with torch.no_grad():
        before = model._forward(x)[0]
    model._forward(x)[0].sum().backward()
    with torch.no_grad():
        for p in model.parameters():
            if p.grad is not None:
                p.sub_(0.1 * p.grad)
        after = model._forward(x)[0]
        fresh = GTAD(**GTAD_SMALL, head_chunk_size=None).double()
        fresh.load_state_dict(model.state_dict())
        torch.testing.assert_close(after, fresh._forward(x)[0], rtol=0, atol=1e-12)
    assert not torch.allclose(before, after)


@pytest.mark.parametrize('kind', ['gtad', 'bmn'])
def test_test_time_path_equals_the_training_path(kind):
    """Without gradients the projection writes straight into its output (no concatenation) and
    the head runs per video; with gradients everything runs as one autograd graph."""
    model = _models(kind)[0]
    x = torch.randn(3, 16, 12, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        fast = model._forward(x)
    slow = model._forward(x)
    assert slow[0].requires_grad
    for got, want in zip(fast, slow):
        torch.testing.assert_close(got, want.detach(), rtol=0, atol=1e-12)
