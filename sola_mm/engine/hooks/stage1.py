"""Run SoLa's stage 1 (Similarity Matching) from inside stage 2, or reuse a finished one.

Stage 2 (the localizer) trains on the output of a frozen SoLa neck. Before its first epoch this
hook makes sure the neck holds stage-1 weights:

0. The neck already holds weights (``--resume`` or ``load_from`` restored it with the model,
   which mmengine does before this hook runs, or ``model.neck.pretrained`` loaded them): keep them,
   so a fine-tuned neck (``frozen=False``) is never reset to the stage-1 weights.
1. ``sola_stage1.checkpoint`` is set: load it.
2. ``<work_dir>/<work_subdir>/stage1_done.json`` exists (a finished stage 1): load the checkpoint
   it names (the best by linear probe when stage 1 validates, else the last).
3. Otherwise build a second mmengine Runner from the stage-1 config and train it in
   ``<work_dir>/<work_subdir>`` (resuming if an interrupted stage 1 left checkpoints there), then
   write the marker and load the chosen checkpoint.

With ``inherit=True`` the stage-1 config takes the neck architecture and the training features
(annotation file, feature folder, format, width, temporal scale) from the stage-2 config, so one
``--cfg-options`` on the stage-2 data reaches both stages. The linear probe that picks the
stage-1 checkpoint (a ``LinearProbeDataset`` val dataloader) is pointed at the same features, fitted
on the stage-2 train annotation file and scored on the stage-2 val annotation file.

The hook is ``default_hooks.sola_stage1`` of ``configs/_base_/default_runtime.py`` (a dict merged
key by key, so a config's own ``custom_hooks`` cannot drop it); it does nothing without a SoLa
neck. Without it (or without ``sola_stage1``) ``NeckLocalizer`` refuses to train a frozen neck
that holds no weights.
"""
from __future__ import annotations

import copy
import json
import os
import os.path as osp
from typing import Optional

from mmengine.config import Config, ConfigDict
from mmengine.dist import barrier, get_rank
from mmengine.hooks import Hook
from mmengine.logging import MessageHub, MMLogger, print_log
from mmengine.model import is_model_wrapper
from mmengine.registry import DefaultScope
from mmengine.visualization import Visualizer

from mmaction.registry import HOOKS

from ...models.localizers.neck_localizer import (MissingStage1Error, NeckLocalizer,
                                                 missing_stage1_message)
from ...models.necks.sola import SoLa
from ..launch import apply_batch_policy, prepare_runtime
from .rng_state import preserved_rng

MARKER = 'stage1_done.json'
_DATA_KEYS = ('ann_file', 'data_prefix', 'feature_ext', 'data_root', 'feat_dim', 'temporal_scale')


def read_stage1_marker(stage1_dir: str) -> Optional[str]:
    """The checkpoint a finished stage 1 in ``stage1_dir`` handed to stage 2 (its
    ``stage1_done.json``), or None when stage 1 has not finished or the checkpoint is gone."""
    marker = osp.join(stage1_dir, MARKER)
    if not osp.isfile(marker):
        return None
    with open(marker) as f:
        try:
            content = json.load(f)
        except json.JSONDecodeError as err:
            raise ValueError(f'{marker}: not valid JSON ({err}); delete it to run stage 1 '
                             'again') from err
    if not isinstance(content, dict):
        raise ValueError(f'{marker}: expected a JSON object with a "checkpoint" field, got '
                         f'{type(content).__name__}; delete it to run stage 1 again')
    path = content.get('checkpoint')
    if path:
        path = osp.join(stage1_dir, path)  # stored relative; an absolute path stays as it is
    if path and osp.isfile(path):
        return path
    print_log(f'{marker} names a missing checkpoint {path!r}; stage 1 runs again',
              logger='current', level=30)
    return None


def _unwrap(model):
    return model.module if is_model_wrapper(model) else model


def _feature_transform(pipeline) -> dict:
    for step in pipeline or []:
        if isinstance(step, dict) and step.get('type') == 'LoadTALFeature':
            return step
    return {}


def stage1_config(stage2_cfg: Config, spec: dict, neck_cfg: dict, work_dir: str) -> Config:
    """The stage-1 Config, with the stage-2 neck and training features when ``inherit``."""
    cfg = Config.fromfile(spec['config'])
    if spec.get('cfg_options'):
        cfg.merge_from_dict(dict(spec['cfg_options']))
    if spec.get('inherit', True):
        neck = copy.deepcopy(dict(neck_cfg))
        neck.update(frozen=False, pretrained=None)
        cfg.model.neck = ConfigDict(neck)
        source = _sola_data_layout(stage2_cfg.train_dataloader.dataset, stage2_cfg.model, neck)
        target = cfg.train_dataloader.dataset
        for key in _DATA_KEYS:
            if key in source:
                target[key] = copy.deepcopy(source[key])
        load = _feature_transform(source.get('pipeline'))
        for key in ('feat_dim', 'temporal_scale'):
            if load.get(key) is not None:
                target[key] = load[key]
        if source.get('neck_input') == 'native':  # stage 2's neck sees native-length videos
            target['temporal_scale'] = None
        _inherit_probe_data(cfg, stage2_cfg, load, source)
    cfg.work_dir = work_dir
    cfg.launcher = stage2_cfg.get('launcher', 'none')
    prepare_runtime(cfg)  # multi-process on CPU: gloo, DDP without device ids (as stage 2)
    cfg.batch_policy = stage2_cfg.get('batch_policy', cfg.get('batch_policy', 'split'))
    apply_batch_policy(cfg)  # the stage-1 batch (256 windows) stays global under N processes
    cfg.randomness = copy.deepcopy(stage2_cfg.get('randomness', cfg.get('randomness')))
    cfg.resume = osp.isfile(osp.join(work_dir, 'last_checkpoint'))
    cfg.load_from = None
    return cfg


def _sola_data_layout(dataset: dict, model: dict, neck: dict) -> dict:
    """The stage-2 train dataset config in sola_mm's layout (``data_prefix.feature``).

    MMAction2's own ``ActivityNetDataset`` (its BMN configs) reads ``<data_prefix.video>/<video>.csv``
    and declares neither width nor length: those become ``data_prefix.feature`` +
    ``feature_ext='.csv'``, the neck's ``in_channels`` and the localizer's ``temporal_dim``. A
    layout that names no feature folder at all is an error saying what to set."""
    prefix = dataset.get('data_prefix') or {}
    if 'feature' in prefix or dataset.get('streams'):
        return dataset
    if 'video' not in prefix:
        raise ValueError(
            f'sola_stage1.inherit=True: the stage-2 train dataset ({dataset.get("type")}) names no '
            f'feature folder (data_prefix={dict(prefix)!r}); expected data_prefix.feature (sola_mm) '
            'or data_prefix.video (MMAction2 ActivityNetDataset). Set sola_stage1.inherit=False and '
            'give the stage-1 data in sola_stage1.cfg_options')
    mapped = copy.deepcopy(dict(dataset))
    mapped['data_prefix'] = dict(feature=prefix['video'])
    mapped.setdefault('feature_ext', '.csv')
    localizer = (model or {}).get('localizer') or model or {}
    for key, value in (('feat_dim', neck.get('in_channels')),
                       ('temporal_scale', localizer.get('temporal_dim'))):
        if value is not None:
            mapped.setdefault(key, value)
    return mapped


def _inherit_probe_data(cfg: Config, stage2_cfg: Config, load: dict, train_src: dict) -> None:
    """Point the linear probe (a ``LinearProbeDataset`` val dataloader) at the stage-2 data: fit on
    the stage-2 train annotation file, score on the stage-2 val annotation file, same features."""
    probe_loader = cfg.get('val_dataloader') or {}
    probe = probe_loader.get('dataset') or {}
    if probe.get('type') != 'LinearProbeDataset':
        return
    val_loader = stage2_cfg.get('val_dataloader') or {}
    val_src = val_loader.get('dataset') or {}
    for key in ('data_prefix', 'feature_ext', 'data_root', 'feat_dim', 'temporal_scale'):
        if key in train_src:
            probe[key] = copy.deepcopy(train_src[key])
    if 'ann_file' not in val_src:  # e.g. tools/train.py --no-validate
        print_log('stage 2 has no validation data, so the stage-1 linear probe has nothing to '
                  'score: stage 1 runs without it and hands over its last checkpoint',
                  logger='current', level=30)
        cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
        cfg.default_hooks.checkpoint.save_best = None
        return
    probe['train_ann_file'] = train_src['ann_file']
    probe['ann_file'] = val_src['ann_file']
    for key in ('feat_dim', 'temporal_scale'):
        if load.get(key) is not None:
            probe[key] = load[key]
    if train_src.get('neck_input') == 'native':
        probe['temporal_scale'] = None
    for key in ('num_workers', 'persistent_workers'):
        if key in val_loader:
            probe_loader[key] = val_loader[key]


def _restore_current(runner) -> None:
    """A second Runner makes its logger, message hub and visualizer the 'current' instances;
    hand them back to stage 2."""
    for manager, instance in ((MMLogger, runner.logger), (MessageHub, runner.message_hub),
                              (Visualizer, runner.visualizer)):
        manager._instance_dict.move_to_end(instance.instance_name)
    scope = DefaultScope._instance_dict
    if runner.experiment_name in scope:
        scope.move_to_end(runner.experiment_name)


@HOOKS.register_module()
class SoLaStage1Hook(Hook):
    """Give the (frozen) SoLa neck its stage-1 weights before stage 2 trains.

    Args:
        key: top-level config key holding the stage-1 spec (see ``configs/_base_/sola.py``).
    """

    priority = 'VERY_HIGH'

    def __init__(self, key: str = 'sola_stage1') -> None:
        self.key = key

    def before_train(self, runner) -> None:
        model = _unwrap(runner.model)
        neck = getattr(model, 'neck', None)
        if not isinstance(model, NeckLocalizer) or not isinstance(neck, SoLa):
            return  # a baseline, or stage 1 itself (SoLaPretrainer)
        if neck.has_weights:
            # --resume / load_from restored the neck with the rest of the model (mmengine loads
            # before this hook runs), `pretrained=` gave it weights, or another instance of this
            # hook already did its work: loading stage 1 now would overwrite a fine-tuned neck
            runner.logger.info(f'SoLa neck keeps the weights it holds ({neck.weights_source}); '
                               'stage 1 is neither run nor loaded over them')
            return
        spec = runner.cfg.get(self.key)
        if spec is None:
            if neck.frozen:
                raise MissingStage1Error(missing_stage1_message(f'`{self.key}` is not set'))
            runner.logger.info(f'`{self.key}` is not set and the SoLa neck is trainable: it trains '
                               'from its initialisation with the head (unified, no stage 1)')
            return
        spec = dict(spec)
        checkpoint = spec.get('checkpoint') or self._finished_or_run(runner, spec)
        neck.load_pretrained(checkpoint)
        # the optimizer (and a DDP wrapper) were built from the configured neck before this hook:
        # `frozen=False` means fine-tuning the stage-1 weights with the head, so leave it trainable
        state = 'frozen' if neck.frozen else 'trainable: fine-tuned with the head (frozen=False)'
        runner.logger.info(f'SoLa neck loaded from stage-1 checkpoint {checkpoint} ({state})')

    def _finished_or_run(self, runner, spec: dict) -> str:
        if 'config' not in spec:
            raise ValueError(f'config: `{self.key}.config` (the stage-1 config file) is required '
                             f'when `{self.key}.checkpoint` is not set')
        work_dir = osp.join(runner.work_dir, spec.get('work_subdir', 'sola_stage1'))
        marker = osp.join(work_dir, MARKER)
        found = read_stage1_marker(work_dir)
        if found:
            runner.logger.info(f'reusing finished SoLa stage 1 in {work_dir}')
            return found
        runner.logger.info(f'SoLa stage 1 (Similarity Matching) starts in {work_dir}')
        from mmengine.runner import Runner
        cfg = stage1_config(runner.cfg, spec, self._neck_cfg(runner), work_dir)
        # the stage-1 Runner reseeds and draws from the global RNGs: keep stage 2's streams the
        # same whether stage 1 runs here, resumes here, or was finished by an earlier process
        with preserved_rng():
            stage1 = Runner.from_cfg(cfg)
            stage1.train()
        chosen = stage1.message_hub.get_info('best_ckpt') or self._last_checkpoint(work_dir)
        _restore_current(runner)
        if get_rank() == 0:
            tmp = marker + '.tmp'
            with open(tmp, 'w') as f:
                # relative to the marker, so a moved or copied work dir stays reusable
                json.dump(dict(checkpoint=osp.relpath(osp.abspath(chosen), work_dir)), f)
            os.replace(tmp, marker)
        barrier()
        runner.logger.info(f'SoLa stage 1 finished; using {chosen}')
        return chosen

    @staticmethod
    def _neck_cfg(runner) -> dict:
        neck = runner.cfg.model.get('neck')
        if neck is None:
            raise ValueError('config: model.neck is not set, so there is no SoLa to pretrain')
        return neck

    @staticmethod
    def _last_checkpoint(work_dir: str) -> str:
        pointer = osp.join(work_dir, 'last_checkpoint')
        if not osp.isfile(pointer):
            raise RuntimeError(f'SoLa stage 1 in {work_dir} saved no checkpoint '
                               '(check default_hooks.checkpoint in the stage-1 config)')
        with open(pointer) as f:
            return f.read().strip()
