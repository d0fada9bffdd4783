"""tools/train.py: command-line flags must reach the config even when its key is absent."""
import argparse

from mmengine.config import Config
from tools_test_utils import ROOT  # noqa: F401  (puts tools/ on sys.path)

import sola_mm  # noqa: F401
import train as train_tool


def _args(**kwargs) -> argparse.Namespace:
    base = dict(config='x.py', work_dir='/tmp/w', amp=False, resume=None, no_validate=False,
                auto_scale_lr=False, seed=None, deterministic=False, diff_rank_seed=False,
                launcher='none')
    base.update(kwargs)
    return argparse.Namespace(**base)


def _bare_cfg() -> Config:
    # like configs/sola_pretrain_*.py before the defaults: no auto_scale_lr, no randomness
    return Config(dict(optim_wrapper=dict(optimizer=dict(type='AdamW', lr=1e-4))))


def test_auto_scale_lr_enabled_when_config_has_no_auto_scale_lr():
    cfg = train_tool.merge_args(_bare_cfg(), _args(auto_scale_lr=True))
    assert cfg.get('auto_scale_lr') is not None
    assert cfg.auto_scale_lr['enable'] is True
    assert cfg.auto_scale_lr['base_batch_size'] == 16


def test_auto_scale_lr_keeps_config_base_batch_size():
    cfg = _bare_cfg()
    cfg.auto_scale_lr = dict(enable=False, base_batch_size=8)
    cfg = train_tool.merge_args(cfg, _args(auto_scale_lr=True))
    assert cfg.auto_scale_lr['enable'] is True and cfg.auto_scale_lr['base_batch_size'] == 8


def test_seed_flags_reach_config_without_randomness():
    cfg = train_tool.merge_args(_bare_cfg(), _args(seed=7, deterministic=True,
                                                   diff_rank_seed=True))
    assert cfg.randomness['seed'] == 7
    assert cfg.randomness['deterministic'] is True
    assert cfg.randomness['diff_rank_seed'] is True


def test_amp_sets_amp_optim_wrapper():
    cfg = train_tool.merge_args(_bare_cfg(), _args(amp=True))
    assert cfg.optim_wrapper['type'] == 'AmpOptimWrapper'
    assert cfg.optim_wrapper['loss_scale'] == 'dynamic'


def test_config_without_randomness_gets_a_seed_runner_accepts():
    # MMAction2's own configs have no `randomness`: mmengine's Runner.set_randomness needs `seed`
    from mmengine.runner import Runner
    cfg = train_tool.merge_args(_bare_cfg(), _args())
    Runner.set_randomness(Runner.__new__(Runner), **cfg.randomness)
    assert cfg.randomness['seed'] is None
