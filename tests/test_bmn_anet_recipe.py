"""configs/bmn_anet.py (and the configs built on it) train with MMAction2's own BMN ActivityNet
recipe, read from the installed mmaction wheel (bmn_2xb8-400x100-9e_activitynet-feature.py): same
optimizer, gradient clip, schedule, epochs, global batch, drop_last and BMN hyperparameters. The
deliberate differences are listed in docs/evaluation.md."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from mmengine.config import Config

ROOT = Path(__file__).resolve().parents[1]
MMACTION_BMN = 'localization/bmn/bmn_2xb8-400x100-9e_activitynet-feature.py'


def _mmaction_config() -> Config:
    import mmaction
    path = os.path.join(os.path.dirname(mmaction.__file__), '.mim', 'configs', MMACTION_BMN)
    if not os.path.isfile(path):
        pytest.skip(f'the mmaction wheel has no {MMACTION_BMN}')
    return Config.fromfile(path)


@pytest.mark.parametrize('name', ['bmn_anet.py', 'sola_bmn_anet.py',
                                  'ablations/sola_bmn_anet_rf_k3.py'])
def test_bmn_anet_schedule_is_mmaction2s(name):
    ref, cfg = _mmaction_config(), Config.fromfile(str(ROOT / 'configs' / name))
    assert cfg.optim_wrapper.optimizer.to_dict() == ref.optim_wrapper.optimizer.to_dict()
    assert cfg.optim_wrapper.clip_grad.to_dict() == ref.optim_wrapper.clip_grad.to_dict() \
        == dict(max_norm=40, norm_type=2)
    assert [dict(s) for s in cfg.param_scheduler] == [dict(s) for s in ref.param_scheduler]
    for key in ('type', 'max_epochs', 'val_begin', 'val_interval'):
        assert cfg.train_cfg[key] == ref.train_cfg[key], key
    assert cfg.train_dataloader.drop_last is ref.train_dataloader.drop_last is True
    assert cfg.train_dataloader.sampler.to_dict() == ref.train_dataloader.sampler.to_dict()
    # the reference runs 2 GPUs x 8 videos: one process here takes the global batch
    assert cfg.train_dataloader.batch_size == 2 * ref.train_dataloader.batch_size
    assert cfg.auto_scale_lr.base_batch_size == 2 * ref.train_dataloader.batch_size
    bmn = dict(cfg.model.localizer)
    assert bmn.pop('type') in ('BMN', 'BatchedBMN')
    assert bmn == {k: v for k, v in ref.model.items() if k != 'type'}


def test_bmn_anet_clip_grad_reaches_the_optim_wrapper():
    """The clip is not only a config key: mmengine's optimizer wrapper clips at norm 40."""
    import torch
    from mmengine.optim import build_optim_wrapper
    cfg = Config.fromfile(str(ROOT / 'configs' / 'bmn_anet.py'))
    model = torch.nn.Linear(3, 1)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    model(torch.full((1, 3), 1e4)).sum().backward()
    norm = lambda: torch.norm(torch.stack([p.grad.norm() for p in model.parameters()]))  # noqa
    assert norm() > 1e3
    wrapper.step()  # clips the gradients in place before Adam's step
    assert norm() == pytest.approx(40, rel=1e-5)
