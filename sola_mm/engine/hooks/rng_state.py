"""Save the global random-number streams in every checkpoint and restore them on ``--resume``.

Why: mmengine 0.10.7 checkpoints hold the model, optimizer, schedulers and message hub, but not the
state of Python's ``random``, numpy's global generator or torch's (CPU and CUDA) generators. The
localizer losses draw from those streams at every step (MMAction2's BMN loss samples its IoU-map
cells with ``torch.rand_like``; G-TAD's with ``np.random.rand``), so a resumed run that reseeds
from ``randomness.seed`` draws different numbers than the run it continues, and its final weights
and metrics drift away from an uninterrupted run. With this hook they are identical (CPU,
single-threaded; see docs/reproducibility.md).

What it does:

* ``before_save_checkpoint``: adds ``checkpoint['rng_state'] = {'world_size': W, 'states': [...]}``,
  one entry per rank (gathered at the end of each epoch, and at each by-iteration checkpoint step,
  because only rank 0 saves). Only tensors, ints, floats and tuples: ``weights_only`` loading works.
* ``after_load_checkpoint`` + ``before_train``: when the runner resumed (its iteration counter
  equals the checkpoint's), every rank gets back its own state, after all setup that draws random
  numbers (weight init, reseeding, a stage-1 run) and just before the first resumed iteration.
  Loading weights with ``load_from`` (fine-tuning) or for testing restores nothing.
* ``before_val`` / ``after_val``: validation runs between the end-of-epoch checkpoint and the next
  epoch, but a resumed run does not repeat it; validation is therefore made neutral for the training
  stream (state saved before, restored after).
"""
from __future__ import annotations

import contextlib
import random
from typing import Dict, Iterator, List, Optional, Tuple

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_rank, get_world_size
from mmengine.hooks import CheckpointHook, Hook
from mmengine.logging import print_log

from mmaction.registry import HOOKS

__all__ = ['capture_rng_state', 'restore_rng_state', 'preserved_rng', 'RNGStateHook']


def capture_rng_state() -> Dict[str, object]:
    """The state of Python's, numpy's and torch's global generators of this process."""
    np_state = np.random.get_state(legacy=False)
    state: Dict[str, object] = dict(
        python=random.getstate(),
        numpy=dict(bit_generator=np_state['bit_generator'],
                   key=torch.from_numpy(np_state['state']['key'].astype(np.int64)),
                   pos=int(np_state['state']['pos']), has_gauss=int(np_state['has_gauss']),
                   gauss=float(np_state['gauss'])),
        torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: Dict[str, object]) -> None:
    """Inverse of :func:`capture_rng_state`."""
    python = state['python']
    random.setstate((python[0], tuple(python[1]), python[2]))
    np_state = state['numpy']
    np.random.set_state(dict(
        bit_generator=np_state['bit_generator'],
        state=dict(key=np_state['key'].numpy().astype(np.uint32), pos=int(np_state['pos'])),
        has_gauss=int(np_state['has_gauss']), gauss=float(np_state['gauss'])))
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


@contextlib.contextmanager
def preserved_rng() -> Iterator[None]:
    """Run a block (e.g. a nested stage-1 Runner, which reseeds everything) without changing the
    global random streams seen by the code after it."""
    state = capture_rng_state()
    try:
        yield
    finally:
        restore_rng_state(state)


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Checkpoint the global RNG states and restore them on resume (see module docstring).

    Priority ``LOW`` runs its ``after_train_epoch`` before ``CheckpointHook`` (``VERY_LOW``) saves,
    and its ``before_train`` after ``SoLaStage1Hook`` (``VERY_HIGH``).
    """

    priority = 'LOW'

    def __init__(self) -> None:
        self._gathered: Optional[Tuple[int, List[dict]]] = None
        self._pending: Optional[Tuple[int, dict]] = None
        self._before_val: Optional[dict] = None

    # ---------------------------------------------------------------- saving
    def _gather(self, runner, step: int) -> None:
        if get_world_size() > 1:  # every rank takes part; only rank 0 will save
            self._gathered = (step, all_gather_object(capture_rng_state()))

    def after_train_epoch(self, runner) -> None:
        self._gather(runner, runner.iter)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if get_world_size() > 1 and self._iter_checkpoint_due(runner):
            self._gather(runner, runner.iter + 1)

    @staticmethod
    def _iter_checkpoint_due(runner) -> bool:
        for hook in runner.hooks:
            if isinstance(hook, CheckpointHook) and not hook.by_epoch:
                if hook.every_n_train_iters(runner, hook.interval) or (
                        hook.save_last and hook.is_last_train_iter(runner)):
                    return True
        return False

    def before_val(self, runner) -> None:
        self._before_val = capture_rng_state()

    def after_val(self, runner) -> None:
        if self._before_val is not None:
            restore_rng_state(self._before_val)
            self._before_val = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        world_size = get_world_size()
        step = checkpoint.get('meta', {}).get('iter')
        if world_size == 1:
            # a best checkpoint is saved during validation: keep the training stream's state
            states = [self._before_val or capture_rng_state()]
        elif self._gathered is not None and self._gathered[0] == step:
            states = self._gathered[1]
        else:
            print_log(f'RNGStateHook: no RNG states gathered from all {world_size} ranks at '
                      f'iteration {step}; this checkpoint cannot restore them',
                      logger='current', level=30)
            return
        checkpoint['rng_state'] = dict(world_size=world_size, states=states)

    # --------------------------------------------------------------- resuming
    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        saved = checkpoint.get('rng_state')
        step = checkpoint.get('meta', {}).get('iter', 0)
        if not saved or not step:
            return
        world_size = get_world_size()
        if saved.get('world_size') != world_size:
            print_log(f'RNGStateHook: the checkpoint holds RNG states of {saved.get("world_size")} '
                      f'process(es), this run has {world_size}; the random streams are not '
                      'restored (the resumed run will not repeat the original exactly)',
                      logger='current', level=30)
            return
        self._pending = (step, saved['states'][get_rank()])

    def before_train(self, runner) -> None:
        if self._pending is None:
            return
        step, state = self._pending
        self._pending = None
        if runner.iter == step:  # resumed, not merely loaded (load_from keeps iter at 0)
            restore_rng_state(state)
            runner.logger.info(f'RNGStateHook: random streams restored from iteration {step}')
