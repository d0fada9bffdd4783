"""Protocol integrity (issue 10, points 1, 3, 4): a SoLa config never trains the baseline, the
checkpoint is chosen by the official rule of each head (and any other rule is named), and several
processes keep the configured global batch and learning rate."""
from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import CheckpointHook
from mmengine.logging import MMLogger

from mmaction.registry import MODELS

from sola_mm.engine.hooks.protocol import ProtocolHook, selection_rule
from sola_mm.engine.launch import apply_batch_policy
from sola_mm.models.localizers.neck_localizer import MissingStage1Error

from tests.conftest import ROOT, run_tool, tiny_stage1_options
from tests.models.test_gtad_train import gtad_cfg_options

GTAD = dict(type='GTAD', variant='anet', feat_dim=8, temporal_dim=8, max_duration=8, h_dim_1d=8,
            h_dim_2d=8, h_dim_3d=8)


def sola_gtad(frozen=True):
    return MODELS.build(dict(type='NeckLocalizer', localizer=GTAD,
                             neck=dict(type='SoLa', in_channels=8, hidden_channels=4,
                                       frozen=frozen)))


# ------------------------------------------------------------------------- point 1: the guard
def test_frozen_neck_without_stage1_weights_refuses_to_train():
    model = sola_gtad().train()
    with pytest.raises(MissingStage1Error, match=r'default_hooks\.sola_stage1.*sola_stage1\.'
                                                 r'checkpoint'):
        model(torch.randn(2, 8, 8), [], mode='loss')
    model.eval()  # validation / test is not training: no refusal there
    assert len(model(torch.randn(1, 8, 8), mode='tensor')) > 0


def test_loaded_weights_lift_the_guard(tmp_path):
    """A stage-1 checkpoint, or any state dict holding the whole neck (resume, load_from) gives
    the neck weights; a checkpoint without the neck (a baseline's) does not."""
    source = sola_gtad()
    state = source.state_dict()

    baseline_only = sola_gtad()
    baseline_only.load_state_dict({k: v for k, v in state.items() if not k.startswith('neck.')},
                                  strict=False)
    with pytest.raises(MissingStage1Error):
        baseline_only.check_stage1_weights()

    from_checkpoint = sola_gtad()
    from mmengine.runner.checkpoint import load_state_dict
    load_state_dict(from_checkpoint, state)  # mmengine's loader (resume / load_from)
    from_checkpoint.check_stage1_weights()
    assert from_checkpoint.neck.weights_source == 'a loaded state dict'

    path = str(tmp_path / 'stage1.pth')
    torch.save({'state_dict': {f'neck.{k}': v for k, v in source.neck.state_dict().items()}},
               path)
    from_stage1 = sola_gtad()
    from_stage1.neck.load_pretrained(path)
    from_stage1.check_stage1_weights()
    assert from_stage1.neck.weights_source == path

    sola_gtad(frozen=False).check_stage1_weights()  # unified: trains from its initialisation


@pytest.mark.parametrize('removed, message', [
    ('default_hooks.sola_stage1=None',
     'model.neck: the SoLa neck is frozen but holds no stage-1 weights'),
    ('sola_stage1=None', '`sola_stage1` is not set'),
], ids=['hook_removed', 'spec_removed'])
def test_sola_config_with_stage1_removed_refuses_to_train(tiny_anet, tmp_path, removed, message):
    work = tmp_path / 'work'
    args = ['tools/train.py', 'configs/sola_gtad_anet.py', '--work-dir', str(work),
            '--cfg-options'] + gtad_cfg_options(tiny_anet) + tiny_stage1_options(2) + [removed]
    proc = run_tool(args, check=False)
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0, log[-3000:]
    assert message in log and 'MissingStage1Error' in log, log[-3000:]
    assert not list(work.glob('epoch_*.pth'))  # nothing trained


# ------------------------------------------------------------- point 3: checkpoint selection
@pytest.mark.parametrize('config, save_best', [
    ('gtad_anet.py', 'val_loss'), ('sola_gtad_anet.py', 'val_loss'),
    ('bmn_anet.py', None), ('sola_bmn_anet.py', None),
    ('gtad_thumos.py', None), ('sola_gtad_thumos.py', None),
    ('bmn_thumos.py', None), ('sola_bmn_thumos.py', None),
])
def test_configs_use_the_official_checkpoint_rule(config, save_best):
    """G-TAD ANet: lowest validation loss (gtad_train.py); BMN and THUMOS: the last epoch of the
    fixed schedule. Never the best mAP on ANet val / THUMOS test, the reported sets."""
    cfg = Config.fromfile(f'{ROOT}/configs/{config}')
    assert cfg.default_hooks.checkpoint.get('save_best') == save_best
    assert cfg.default_hooks.checkpoint.save_last
    if save_best == 'val_loss':
        assert cfg.default_hooks.checkpoint.rule == 'less' and cfg.model.val_loss


def test_selection_rule_names():
    assert selection_rule(None) == 'last epoch of the fixed schedule (no selection)'
    assert selection_rule('val_loss') == 'lowest validation loss (val_loss)'
    assert selection_rule('mAP_avg', 'greater') == \
        'best on metric mAP_avg (greater) of the validation set'


class _Records(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append((record.levelno, record.getMessage()))


def _fake_runner(save_best, val_ann, test_ann, batch=4, lr=0.004, **cfg):
    records = _Records()
    logger = MMLogger.get_instance(f'protocol_test_{id(records)}')
    logger.addHandler(records)
    hook = CheckpointHook(interval=1, save_best=save_best,
                          rule='less' if save_best == 'val_loss' else None)
    optim = SimpleNamespace(optimizer=torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=lr))
    loader = lambda ann: dict(dataset=dict(ann_file=ann))  # noqa: E731
    runner = SimpleNamespace(
        hooks=[hook], logger=logger, optim_wrapper=optim,
        train_dataloader=SimpleNamespace(batch_size=batch),
        cfg=Config(dict(val_dataloader=loader(val_ann), test_dataloader=loader(test_ann), **cfg)))
    return runner, records


def test_protocol_hook_names_a_metric_selected_on_the_reported_set():
    runner, records = _fake_runner('mAP_avg', 'anno_val.json', 'anno_val.json')
    ProtocolHook().before_train(runner)
    text = '\n'.join(m for _, m in records.lines)
    assert 'checkpoint selection = best on metric mAP_avg' in text
    assert any(level == logging.WARNING and 'selected on the reported set' in msg
               for level, msg in records.lines)

    runner, records = _fake_runner('val_loss', 'anno_val.json', 'anno_val.json')
    ProtocolHook().before_train(runner)
    assert not any(level == logging.WARNING for level, _ in records.lines)
    assert 'global batch 4 = 1 process(es) x 4; learning rate 0.004' in \
        '\n'.join(m for _, m in records.lines)


# ---------------------------------------------------------- point 4: multi-process recipe
def _train_cfg(batch, **extra):
    return Config(dict(train_dataloader=dict(batch_size=batch), **extra))


def test_split_keeps_the_global_batch():
    cfg = apply_batch_policy(_train_cfg(16), world_size=8)
    assert cfg.train_dataloader.batch_size == 2 and cfg.global_batch_size == 16
    assert not (cfg.get('auto_scale_lr') or {}).get('enable')
    again = apply_batch_policy(cfg, world_size=8)  # applied once only (nested stage-1 configs)
    assert again.train_dataloader.batch_size == 2


def test_split_refuses_a_batch_that_does_not_divide():
    with pytest.raises(ValueError, match=r'train_dataloader\.batch_size=16 .* 3 processes.*'
                                         r'batch_policy=scale_lr'):
        apply_batch_policy(_train_cfg(16), world_size=3)


def test_scale_lr_uses_mmengine_auto_scale_lr():
    cfg = apply_batch_policy(_train_cfg(16, batch_policy='scale_lr',
                                        auto_scale_lr=dict(enable=False, base_batch_size=8)),
                             world_size=4)
    assert cfg.train_dataloader.batch_size == 16
    assert cfg.auto_scale_lr == dict(enable=True, base_batch_size=16)  # lr x 4 = 64 / 16


def test_per_process_and_one_process_change_nothing():
    assert apply_batch_policy(_train_cfg(16, batch_policy='per_process'),
                              world_size=4).train_dataloader.batch_size == 16
    assert apply_batch_policy(_train_cfg(16), world_size=1).train_dataloader.batch_size == 16
    with pytest.raises(ValueError, match="batch_policy='half'"):
        apply_batch_policy(_train_cfg(16, batch_policy='half'), world_size=2)


def test_stage1_config_keeps_its_global_batch_under_several_processes(tmp_path, monkeypatch):
    """Stage 1 (256 windows in the paper) is split like stage 2; the policy follows stage 2."""
    from sola_mm.engine import launch
    from sola_mm.engine.hooks.stage1 import stage1_config
    monkeypatch.setattr(launch, 'launch_world_size', lambda cfg: 4)
    stage2 = Config.fromfile(f'{ROOT}/configs/sola_gtad_anet.py')
    cfg = stage1_config(stage2, dict(stage2.sola_stage1), stage2.model.neck, str(tmp_path))
    assert cfg.global_batch_size == 256 and cfg.train_dataloader.batch_size == 64
    stage2.batch_policy = 'scale_lr'
    cfg = stage1_config(stage2, dict(stage2.sola_stage1), stage2.model.neck, str(tmp_path))
    assert cfg.train_dataloader.batch_size == 256 and cfg.auto_scale_lr.base_batch_size == 256


def test_same_seed_same_head_with_or_without_the_neck():
    """The SoLa-vs-baseline comparison differs by the neck alone: with the same seed, the head of a
    SoLa config starts from exactly the baseline config's weights (the neck is built after it)."""
    torch.manual_seed(0)
    baseline = MODELS.build(dict(type='NeckLocalizer', localizer=GTAD))
    torch.manual_seed(0)
    sola = sola_gtad()
    ours = sola.localizer.state_dict()
    for key, value in baseline.localizer.state_dict().items():
        assert torch.equal(value, ours[key]), key
    assert list(sola.state_dict())[0].startswith('neck.')  # checkpoint layout unchanged
