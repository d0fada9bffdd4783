"""Parity of SoLa stage 1 (neck + Similarity Matching + AdamW) with the authors' code.

The fixtures in tests/data/sola (see its README) hold what the official training loop computed on
stored weights and inputs. The registered ``SoLa`` neck and ``SoLaPretrainer`` are built from the
registry, the weights are loaded, and every array is compared: float64 to 1e-12 absolute + 1e-10
relative (the deltas stored as float32 to 3e-11), float32 to the tolerances below.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Dict

import numpy as np
import pytest
import torch
from mmengine.optim import OptimWrapper

import sola_mm  # noqa: F401  (registers the modules)
from mmaction.registry import MODELS
from sola_mm.models.losses.similarity_matching import (
    gather_positions, predicted_map, similarity_map, similarity_matching_loss, target_map)
from sola_mm.models.necks.sola import SoLa
from sola_mm.models.self_supervised.sola_pretrainer import SoLaPretrainer

DATA = Path(__file__).resolve().parents[1] / 'data' / 'sola'

F64 = dict(atol=1e-12, rtol=1e-10)
F64_DELTA = dict(atol=3e-11, rtol=0)
# float32 run against the official float32 run (same weights and inputs). Measured worst cases
# (torch 2.13 CPU): `out`, `z`, `gz`, `loss` bit-identical; `cos` 9e-8, `prob`/`probs`/`losses`
# 6e-8, `full_out` 2.4e-7 (|values| up to 3.9); gradients 5.6e-9; AdamW m/v 9e-10; parameters after
# 1-3 steps and their deltas 6.7e-8 (Adam divides gradients of ~1e-8 by sqrt(v): float32 noise on
# them is amplified, see the fixture README). Tolerances: about 10x the measured values.
F32 = dict(atol=1e-6, rtol=1e-5)
F32_GRAD = dict(atol=5e-8, rtol=1e-5)
F32_DELTA = dict(atol=5e-7, rtol=0)

PARAM_MAP = {  # fixture name -> SoLaPretrainer parameter name
    'sola.conv1.weight': 'neck.conv1.weight', 'sola.conv1.bias': 'neck.conv1.bias',
    'sola.conv2.weight': 'neck.conv2.weight', 'sola.conv2.bias': 'neck.conv2.bias',
    'sola.conv_out.weight': 'neck.conv_out.weight', 'sola.conv_out.bias': 'neck.conv_out.bias',
    'sola.alpha': 'neck.alpha',
    'proj.fc1.weight': 'projector.fc1.weight', 'proj.fc1.bias': 'projector.fc1.bias',
    'proj.fc2.weight': 'projector.fc2.weight', 'proj.fc2.bias': 'projector.fc2.bias',
}


def load_fixture(name: str) -> Dict[str, np.ndarray]:
    with np.load(DATA / name) as data:
        arrays = {k: data[k] for k in data.files}
    arrays['cfg'] = json.loads(str(arrays.pop('config')[0]))
    return arrays


@pytest.fixture(scope='module')
def small() -> Dict[str, np.ndarray]:
    return load_fixture('small.npz')


@pytest.fixture(scope='module')
def small32() -> Dict[str, np.ndarray]:
    return load_fixture('small_fp32.npz')


def model_cfg(cfg: dict) -> dict:
    """SoLaPretrainer config equivalent to the official yaml of a fixture."""
    return dict(
        type='SoLaPretrainer',
        neck=dict(type='SoLa', in_channels=cfg['in_feature_dim'],
                  hidden_channels=cfg['network_hidden_unit'],
                  kernel_size1=cfg['kernel_size1'], dilation1=cfg['dilation1'],
                  kernel_size2=cfg['kernel_size2'], dilation2=cfg['dilation2']),
        projector_hidden=cfg['dissim_proj_hidden_unit'],
        loss=dict(type='SimilarityMatchingLoss', num_positions=cfg['tsm_size'], step=cfg['step'],
                  step_start=cfg['step_start'], coef=cfg['oracle_coef']))


def build_model(fx: dict, dtype: torch.dtype) -> SoLaPretrainer:
    model = MODELS.build(model_cfg(fx['cfg'])).to(dtype)
    state = {ours: torch.from_numpy(fx[theirs]).to(dtype) for theirs, ours in PARAM_MAP.items()}
    model.load_state_dict(state, strict=True)
    return model


def to_ct(x: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    """Fixture [B, T, C] -> model input [B, C, T]."""
    return torch.from_numpy(np.ascontiguousarray(x)).to(dtype).transpose(1, 2).contiguous()


def btc(t: torch.Tensor) -> np.ndarray:
    """Model [B, C, T] -> fixture layout [B, T, C]."""
    return t.detach().transpose(1, 2).numpy()


def check(actual, expected: np.ndarray, name: str, tol: dict) -> None:
    actual = actual.detach().numpy() if isinstance(actual, torch.Tensor) else np.asarray(actual)
    assert actual.shape == expected.shape, f'{name}: shape {actual.shape} != {expected.shape}'
    np.testing.assert_allclose(actual, expected.astype(actual.dtype), err_msg=name, **tol)


def first_iteration(model: SoLaPretrainer, x: torch.Tensor) -> Dict[str, torch.Tensor]:
    """Forward + backward of iteration 1 with the gradients of the intermediates retained."""
    model.zero_grad(set_to_none=True)
    outputs = model.similarity_outputs(x)
    for key in ('out', 'z', 'gz', 'prob'):
        outputs[key].retain_grad()
    outputs['loss'].backward()
    return outputs


def train_three_steps(model: SoLaPretrainer, xs: np.ndarray, dtype: torch.dtype) -> dict:
    """The official loop through mmengine's train_step: AdamW lr 1e-4 (weight decay 0.01)."""
    optim = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01))
    record: dict = dict(losses=[], vnrs=[], probs=[], params=[])
    for batch in xs:
        x = to_ct(batch, dtype)
        with torch.no_grad():
            record['probs'].append(model.similarity_outputs(x)['prob'].clone())
        log_vars = model.train_step(dict(inputs=list(x), data_samples=None), optim)
        record['losses'].append(log_vars['loss_sm'].item())
        record['vnrs'].append(log_vars['vnr'].item())
        record['params'].append({k: v.detach().clone() for k, v in model.named_parameters()})
    record['optimizer'] = optim.optimizer
    return record


# ----------------------------------------------------------------------------- float64 parity
def test_forward_matches_official(small):
    model = build_model(small, torch.float64)
    x = to_ct(small['x'], torch.float64)
    outputs = first_iteration(model, x)
    check(btc(outputs['out']), small['out'], 'out', F64)
    check(btc(model.neck.branch(x)), small['sola_branch'], 'sola_branch', F64)
    for key in ('z', 'gz', 'cos', 'prob', 'target', 'loss'):
        check(outputs[key], small[key], key, F64)
    check(gather_positions(small['cfg']['sampling_duration'], 2, 4, 8), small['index'], 'index',
          dict(atol=0, rtol=0))
    check(model(list(x), mode='loss')['vnr'], small['vnr'], 'vnr', F64)
    assert outputs['loss'].item() == pytest.approx(0.6683749509454142, abs=1e-12)


def test_gradients_match_official(small):
    model = build_model(small, torch.float64)
    outputs = first_iteration(model, to_ct(small['x'], torch.float64))
    check(btc(outputs['out'].grad), small['grad.out'], 'grad.out', F64)
    for key in ('z', 'gz', 'prob'):
        check(outputs[key].grad, small[f'grad.{key}'], f'grad.{key}', F64)
    params = dict(model.named_parameters())
    for theirs, ours in PARAM_MAP.items():
        check(params[ours].grad, small[f'grad.{theirs}'], f'grad.{theirs}', F64)
    # the gradient reaches the neck only at the gathered positions
    grad_out = outputs['out'].grad.abs().sum(dim=(0, 1))
    gathered = torch.zeros_like(grad_out, dtype=torch.bool)
    gathered[small['index']] = True
    assert torch.all(grad_out[~gathered] == 0) and torch.all(grad_out[gathered] > 0)


def test_three_adamw_steps_match_official(small):
    model = build_model(small, torch.float64)
    initial = {k: v.detach().clone() for k, v in model.named_parameters()}
    record = train_three_steps(model, small['xs'], torch.float64)
    check(np.array(record['losses']), small['losses'], 'losses', F64)
    check(np.array(record['vnrs']), small['vnrs'], 'vnrs', F64)
    check(torch.stack(record['probs']), small['probs'], 'probs', F64)
    for k in range(3):
        params = record['params'][k]
        for theirs, ours in PARAM_MAP.items():
            check(params[ours], small[f'step{k + 1}.{theirs}'], f'step{k + 1}.{theirs}', F64)
            check(params[ours] - initial[ours], small[f'step{k + 1}_delta.{theirs}'],
                  f'step{k + 1}_delta.{theirs}', F64_DELTA)
    state = record['optimizer'].state
    params = dict(model.named_parameters())
    for theirs, ours in PARAM_MAP.items():
        for key in ('exp_avg', 'exp_avg_sq'):
            check(state[params[ours]][key], small[f'adam3.{key}.{theirs}'],
                  f'adam3.{key}.{theirs}', F64)
        assert float(state[params[ours]]['step']) == 3
    # the official dummy Linear(1, 1) never moves: nothing to compare it with but its own value
    for k in (1, 2, 3):
        check(small[f'step{k}.mlphead.dummy.weight'], small['mlphead.dummy.weight'].astype(np.float64),
              'dummy', dict(atol=0, rtol=0))


def test_full_sequence_matches_official(small):
    model = build_model(small, torch.float64)
    x_full = to_ct(small['x_full'], torch.float64)
    with torch.no_grad():
        check(btc(model(x_full, mode='tensor')), small['full_out'], 'full_out', F64)
        check(model.vector_norm_ratio(x_full), small['full_vnr'], 'full_vnr', F64)
        # predict: one dict per sample with the enhanced [C, T] features and the sample's metainfo
        from mmaction.structures import ActionDataSample
        sample = ActionDataSample()
        sample.set_metainfo(dict(video_name='v_full'))
        short = x_full[0, :, :40]
        results = model([x_full[0], short], [sample, ActionDataSample()], mode='predict')
    assert results[0]['video_name'] == 'v_full' and 'video_name' not in results[1]
    check(results[0]['feature'].T[None], small['full_out'], 'predict.feature', F64)
    assert results[1]['feature'].shape == (x_full.shape[1], 40)


def test_canonical_width_matches_official():
    fx = load_fixture('canonical_width_slim.npz')
    model = build_model(fx, torch.float64)
    outputs = first_iteration(model, to_ct(fx['xs'][0], torch.float64))
    for key in ('cos', 'target', 'loss'):
        check(outputs[key], fx[key], key, F64)
    params = dict(model.named_parameters())
    for theirs, ours in PARAM_MAP.items():
        if f'grad.{theirs}' in fx:
            check(params[ours].grad, fx[f'grad.{theirs}'], f'grad.{theirs}', F64)
    with torch.no_grad():
        check(model.vector_norm_ratio(to_ct(fx['x_full'], torch.float64)), fx['full_vnr'],
              'full_vnr', F64)
    model = build_model(fx, torch.float64)
    initial = {k: v.detach().clone() for k, v in model.named_parameters()}
    record = train_three_steps(model, fx['xs'], torch.float64)
    check(np.array(record['losses']), fx['losses'], 'losses', F64)
    check(np.array(record['vnrs']), fx['vnrs'], 'vnrs', F64)
    check(torch.stack(record['probs']), fx['probs'], 'probs', F64)
    deltas = [k for k in fx if k.startswith('step3_delta.')]
    assert len(deltas) == 6
    for key in deltas:
        ours = PARAM_MAP[key[len('step3_delta.'):]]
        check(record['params'][2][ours] - initial[ours], fx[key], key, F64_DELTA)


# ----------------------------------------------------------------------------- float32
def test_float32_matches_official_float32(small32):
    model = build_model(small32, torch.float32)
    x = to_ct(small32['x'], torch.float32)
    outputs = first_iteration(model, x)
    check(btc(outputs['out']), small32['out'], 'out', F32)
    for key in ('z', 'gz', 'cos', 'prob', 'loss'):
        check(outputs[key], small32[key], key, F32)
    # the target is the float32 rounding of the float64 map, as in the official code: exact
    check(outputs['target'], small32['target'], 'target', dict(atol=0, rtol=0))
    check(btc(outputs['out'].grad), small32['grad.out'], 'grad.out', F32_GRAD)
    for key in ('z', 'gz', 'prob'):
        check(outputs[key].grad, small32[f'grad.{key}'], f'grad.{key}', F32_GRAD)
    params = dict(model.named_parameters())
    for theirs, ours in PARAM_MAP.items():
        check(params[ours].grad, small32[f'grad.{theirs}'], f'grad.{theirs}', F32_GRAD)

    model = build_model(small32, torch.float32)
    initial = {k: v.detach().clone() for k, v in model.named_parameters()}
    record = train_three_steps(model, small32['xs'], torch.float32)
    check(np.array(record['losses'], dtype=np.float32), small32['losses'], 'losses', F32)
    check(np.array(record['vnrs'], dtype=np.float32), small32['vnrs'], 'vnrs', F32)
    check(torch.stack(record['probs']), small32['probs'], 'probs', F32)
    for k in range(3):
        for theirs, ours in PARAM_MAP.items():
            check(record['params'][k][ours], small32[f'step{k + 1}.{theirs}'], f'step{k + 1}.{theirs}',
                  F32)
            check(record['params'][k][ours] - initial[ours], small32[f'step{k + 1}_delta.{theirs}'],
                  f'step{k + 1}_delta.{theirs}', F32_DELTA)
    state = record['optimizer'].state
    params = dict(model.named_parameters())
    for theirs, ours in PARAM_MAP.items():
        for key in ('exp_avg', 'exp_avg_sq'):
            check(state[params[ours]][key], small32[f'adam3.{key}.{theirs}'],
                  f'adam3.{key}.{theirs}', F32_GRAD)
    with torch.no_grad():
        x_full = to_ct(small32['x_full'], torch.float32)
        check(btc(build_model(small32, torch.float32)(x_full)), small32['full_out'], 'full_out', F32)


# ----------------------------------------------------------------------------- properties
def test_alpha_zero_gives_zero_conv_gradients(small):
    """Official init alpha = 0: identity module, conv grads exactly 0, only alpha (and the
    projector) get a gradient; AdamW then moves the convs by weight decay alone."""
    model = build_model(small, torch.float64)
    with torch.no_grad():
        model.neck.alpha.zero_()
    x = to_ct(small['x'], torch.float64)
    outputs = first_iteration(model, x)
    assert torch.equal(outputs['out'], x)
    for name in ('conv1', 'conv2', 'conv_out'):
        conv = getattr(model.neck, name)
        assert torch.count_nonzero(conv.weight.grad) == 0 and torch.count_nonzero(conv.bias.grad) == 0
    assert model.neck.alpha.grad.abs().item() > 0
    before = model.neck.conv1.weight.detach().clone()
    torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01).step()
    torch.testing.assert_close(model.neck.conv1.weight.detach(), before * (1 - 1e-4 * 0.01),
                               atol=0, rtol=0)


def test_target_map():
    target = target_map(8, 16.0, torch.float64)
    assert torch.equal(target, target.T)
    assert torch.equal(torch.diagonal(target), torch.ones(8, dtype=torch.float64))
    assert target[0, 1].item() == pytest.approx(1 / (1 + math.exp(-16.0)), abs=1e-15)
    assert target[0, 3].item() == pytest.approx(1 / (1 + math.exp(-16.0 / 9)), abs=1e-15)
    assert target[0, 7].item() == pytest.approx(1 / (1 + math.exp(-16.0 / 49)), abs=1e-15)
    rows = target[0, 1:]
    assert torch.all(rows[1:] < rows[:-1])  # decays with distance
    assert torch.equal(target_map(8, 16.0, torch.float32), target.float())


def test_predicted_map_clamps_with_zero_gradient():
    # entries at or beyond 0 and 1 are overwritten (zero gradient); entries just inside the
    # bounds stay as they are (the authors overwrite, they do not clamp to [1e-5, 1 - 1e-5])
    cos = torch.tensor([1.5, 1.0, -1.0, -1.2, 0.3, 1 - 1e-5, -1 + 1e-6], dtype=torch.float64,
                       requires_grad=True)
    prob = predicted_map(cos)
    expected = torch.tensor([1 - 1e-5, 1 - 1e-5, 1e-5, 1e-5, 0.65, 1 - 5e-6, 5e-7],
                            dtype=torch.float64)
    torch.testing.assert_close(prob, expected, atol=1e-15, rtol=0)
    prob.sum().backward()
    torch.testing.assert_close(cos.grad, torch.tensor([0, 0, 0, 0, 0.5, 0.5, 0.5],
                                                      dtype=torch.float64))


def test_bce_matches_bceloss_and_clamps_log():
    prob = torch.tensor([[0.0, 1.0], [0.2, 0.9]], dtype=torch.float64)
    target = torch.tensor([[1.0, 0.0], [0.3, 1.0]], dtype=torch.float64)
    loss = similarity_matching_loss(prob, target)
    by_hand = -(0.3 * math.log(0.2) + 0.7 * math.log(0.8)) - math.log(0.9) + 100 + 100
    assert loss.item() == pytest.approx(by_hand / 4, abs=1e-12)
    # the shared [S, S] target broadcasts over the batch
    batch = torch.rand(3, 2, 2, dtype=torch.float64) * 0.9 + 0.05
    torch.testing.assert_close(similarity_matching_loss(batch, target),
                               torch.nn.BCELoss()(batch, target.expand(3, 2, 2)))


def test_similarity_map_epsilon_and_stop_gradient():
    z = torch.tensor([[[3.0, 4.0], [1.0, 0.0]]], dtype=torch.float64, requires_grad=True)
    gz = torch.tensor([[[0.0, 2.0], [1e-9, 0.0]]], dtype=torch.float64, requires_grad=True)
    cos = similarity_map(z, gz)
    # eps on the product of the norms: 8 / (5*2 + 1e-8), and a tiny column stays tiny
    assert cos[0, 0, 0].item() == 8 / (10 + 1e-8)
    assert cos[0, 1, 1].item() == pytest.approx(1e-9 / (1e-9 + 1e-8), rel=1e-12)
    assert cos[0, 0, 1].item() == pytest.approx(3e-9 / (5e-9 + 1e-8), rel=1e-12)
    cos.sum().backward()
    assert z.grad is None and torch.count_nonzero(gz.grad) > 0
    with pytest.raises(ValueError, match='same shape'):
        similarity_map(z, gz[..., :1])


def test_gather_positions_checks_window():
    assert gather_positions(23, 2, 4, 8).tolist() == [4, 6, 8, 10, 12, 14, 16, 18]
    assert gather_positions(19, 2, 4, 8).tolist()[-1] == 18
    with pytest.raises(ValueError, match='outside a window of 18'):
        gather_positions(18, 2, 4, 8)


def test_pretrainer_modes_and_parameter_names(small, tmp_path):
    model = build_model(small, torch.float64)
    names = {k for k, _ in model.named_parameters()}
    assert names == set(PARAM_MAP.values())
    x = to_ct(small['x'], torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(model(list(x), mode='tensor'), model.neck(x), atol=0, rtol=0)
    losses = model(list(x), mode='loss')
    assert set(losses) == {'loss_sm', 'vnr'} and not losses['vnr'].requires_grad
    total, log_vars = model.parse_losses(losses)
    assert total.item() == losses['loss_sm'].item() and 'vnr' in log_vars
    # a batch of one window works (the official loop squeezes the batch axis away)
    assert model(x[:1], mode='loss')['loss_sm'].dim() == 0
    with pytest.raises(ValueError, match='window'):
        model(x[:, :, :18], mode='loss')
    with pytest.raises(ValueError, match='unknown mode'):
        model(x, mode='nope')
    # the stage-1 checkpoint loads into a plain SoLa neck (prefix 'neck.')
    path = tmp_path / 'stage1.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict(epoch=1)), path)
    cfg = small['cfg']
    neck = SoLa(cfg['in_feature_dim'], cfg['network_hidden_unit'], pretrained=str(path))
    neck.init_weights()
    for key, value in neck.state_dict().items():
        torch.testing.assert_close(value.double(), model.state_dict()['neck.' + key], atol=0, rtol=0)


def test_pretrainer_rejects_a_frozen_neck():
    with pytest.raises(ValueError, match='frozen'):
        SoLaPretrainer(neck=dict(type='SoLa', in_channels=8, hidden_channels=4, frozen=True),
                       projector_hidden=4)
