"""Say in the log which recipe a training run really follows, and flag the ones that flatter.

Two things decide whether a reported number means what it claims, and neither shows in a metric:

* **Checkpoint selection.** The last epoch of a fixed schedule and the lowest validation loss are
  the official rules of our heads (BMN and THUMOS G-TAD; ActivityNet G-TAD). "Best on metric"
  picks the epoch with the best score on the validation set; for ActivityNet-1.3 and THUMOS14 that
  set is the one the results are reported on, so the number is selected on the test data. It stays
  reachable by config (``default_hooks.checkpoint.save_best=<metric>``) and is named as such here.
* **Global batch and learning rate** under several processes (see
  ``sola_mm.engine.launch.apply_batch_policy``).

Registered in ``configs/_base_/default_runtime.py`` as ``default_hooks.protocol``.
"""
from __future__ import annotations

from typing import Optional

from mmengine.dist import get_world_size
from mmengine.hooks import CheckpointHook, Hook

from mmaction.registry import HOOKS


def _ann_file(loader) -> Optional[str]:
    """The annotation file of a dataloader config (None when there is none)."""
    return ((loader or {}).get('dataset') or {}).get('ann_file')


def _best_keys(save_best) -> list:
    """CheckpointHook's ``save_best`` as a list of keys ([] for none)."""
    if not save_best:
        return []
    return list(save_best) if isinstance(save_best, (list, tuple)) else [save_best]


def selection_rule(save_best, rule: Optional[str] = None) -> str:
    """A readable name for a CheckpointHook ``save_best`` setting."""
    keys = _best_keys(save_best)
    if not keys:
        return 'last epoch of the fixed schedule (no selection)'
    names = []
    for key in keys:
        if 'loss' in key:
            names.append(f'lowest validation loss ({key})')
        else:
            names.append(f'best on metric {key} ({rule or "auto"}) of the validation set')
    return ' and '.join(names)


@HOOKS.register_module()
class ProtocolHook(Hook):
    """Log the checkpoint-selection rule, the global batch and the learning rate at the start of
    training; warn when the checkpoint is chosen by a metric on the set the config reports on, or
    when a multi-process launch changed the configured global batch."""

    priority = 'VERY_LOW'

    def before_train(self, runner) -> None:
        cfg = runner.cfg
        checkpoint = next((h for h in runner.hooks if isinstance(h, CheckpointHook)), None)
        save_best = getattr(checkpoint, 'save_best', None) if checkpoint else None
        rules = getattr(checkpoint, 'rules', None) or [None]
        rule = selection_rule(save_best, rules[0])
        runner.logger.info(f'protocol: checkpoint selection = {rule}')
        metric_keys = [k for k in _best_keys(save_best) if 'loss' not in k]
        val_ann = _ann_file(cfg.get('val_dataloader'))
        test_ann = _ann_file(cfg.get('test_dataloader'))
        if metric_keys and val_ann and val_ann == test_ann:
            runner.logger.warning(
                f'protocol: the checkpoint is chosen by best {", ".join(metric_keys)} on '
                f'{val_ann}, which is also the set this config reports on (test_dataloader): a '
                'result of this checkpoint is selected on the reported set. The official rules '
                'are the last epoch (save_best=None) or the lowest validation loss '
                '(save_best="val_loss", with model.val_loss=True).')

        world_size = get_world_size()
        per_process = getattr(runner.train_dataloader, 'batch_size', None)
        if per_process is None:
            return
        global_batch = world_size * per_process
        lrs = sorted({group['lr'] for group in _param_groups(runner.optim_wrapper)})
        lr_text = ', '.join(f'{lr:g}' for lr in lrs)
        policy = cfg.get('batch_policy', 'split')
        configured = cfg.get('global_batch_size')
        runner.logger.info(
            f'protocol: global batch {global_batch} = {world_size} process(es) x {per_process}; '
            f'learning rate {lr_text}; batch_policy={policy}'
            + (f' (configured global batch {configured})' if configured is not None else ''))
        if world_size > 1 and global_batch != (configured or per_process) and not \
                _lr_scaled(cfg):
            runner.logger.warning(
                f'protocol: {world_size} processes train with a global batch of {global_batch} at '
                'the configured learning rate: this is not the configured recipe. sola_mm\'s '
                'tools/train.py (and tools/dist_train.sh) apply `batch_policy`; another launcher '
                'does not.')


def _lr_scaled(cfg) -> bool:
    scale = cfg.get('auto_scale_lr') or {}
    return bool(scale.get('enable', False))


def _param_groups(optim_wrapper):
    wrappers = getattr(optim_wrapper, 'optim_wrappers', None)  # an OptimWrapperDict
    if wrappers:
        for wrapper in wrappers.values():
            yield from wrapper.optimizer.param_groups
    else:
        yield from optim_wrapper.optimizer.param_groups
