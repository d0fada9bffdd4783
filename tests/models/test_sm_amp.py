"""Similarity Matching under mixed precision (tools/train.py --amp on stage 1).

CUDA's autocast refuses ``F.binary_cross_entropy`` outright ("unsafe to autocast"), so the loss
must run it with autocast off; the test reproduces that refusal on CPU. 16-bit maps must be
upcast: in float16/bfloat16 the clamp 1 - 1e-5 rounds to 1 and the BCE saturates at 100.
"""
import pytest
import torch
import torch.nn.functional as F

import sola_mm  # noqa: F401
from mmaction.registry import MODELS
from sola_mm.models.losses.similarity_matching import SimilarityMatchingLoss


def _autocast_on() -> bool:
    try:
        return torch.is_autocast_enabled('cpu') or torch.is_autocast_enabled('cuda')
    except TypeError:  # older torch
        return torch.is_autocast_enabled() or torch.is_autocast_cpu_enabled()


@pytest.fixture
def cuda_like_bce_ban(monkeypatch):
    real = F.binary_cross_entropy

    def banned(*args, **kwargs):
        if _autocast_on():
            raise RuntimeError('torch.nn.functional.binary_cross_entropy and torch.nn.BCELoss '
                               'are unsafe to autocast.')
        return real(*args, **kwargs)

    monkeypatch.setattr(F, 'binary_cross_entropy', banned)


def test_stage1_loss_runs_under_autocast(cuda_like_bce_ban):
    torch.manual_seed(0)
    model = MODELS.build(dict(type='SoLaPretrainer', projector_hidden=16,
                              neck=dict(type='SoLa', in_channels=32, hidden_channels=16)))
    x = torch.randn(2, 32, 23)
    ref = model(x, mode='loss')['loss_sm']
    with torch.autocast('cpu', dtype=torch.bfloat16):
        loss = model(x, mode='loss')['loss_sm']
    assert loss.dtype == torch.float32
    assert torch.isfinite(loss) and abs(loss.item() - ref.item()) < 2e-2
    loss.backward()
    assert model.neck.conv1.weight.grad is not None or model.projector.fc1.weight.grad is not None


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_16bit_inputs_keep_the_clamp(dtype):
    loss_module = SimilarityMatchingLoss(num_positions=4, step=1, step_start=0)
    z = torch.ones(1, 4, 8)
    gz = torch.ones(1, 4, 8)  # cos == 1 everywhere: every entry is clamped to 1 - 1e-5
    ref = loss_module.maps(z, gz)
    out = loss_module.maps(z.to(dtype), gz.to(dtype))
    assert out['prob'].dtype == torch.float32
    assert float(out['prob'].max()) == pytest.approx(1 - 1e-5, abs=1e-7)
    assert float(out['loss']) == pytest.approx(float(ref['loss']), rel=1e-3)
