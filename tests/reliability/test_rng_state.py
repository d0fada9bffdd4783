"""RNGStateHook pieces in-process: why resuming needs them, and that they survive weights_only."""
from __future__ import annotations

import random
from types import SimpleNamespace

import numpy as np
import torch

from sola_mm.engine.checkpoint import load_checkpoint_file
from sola_mm.engine.hooks.rng_state import (RNGStateHook, capture_rng_state, preserved_rng,
                                            restore_rng_state)


def draws():
    return random.random(), float(np.random.rand()), float(torch.rand(1))


def test_bmn_loss_draws_from_the_global_torch_stream():
    """The reason a resumed run must restore the RNG: the same inputs give another BMN loss
    after the global torch stream moved on."""
    from mmaction.models.losses import BMNLoss
    loss = BMNLoss()
    torch.manual_seed(1)
    gt = torch.rand(2, 8, 16) * 0.69  # mid and low IoU cells ...
    gt[:, 0, :2] = 0.9  # ... and a few high ones: only some mid/low cells get sampled
    pred = torch.rand(2, 8, 16)
    mask = torch.ones(8, 16)
    torch.manual_seed(0)
    first = loss.pem_reg_loss(pred, gt, mask)
    second = loss.pem_reg_loss(pred, gt, mask)
    torch.manual_seed(0)
    assert not torch.equal(first, second) and torch.equal(loss.pem_reg_loss(pred, gt, mask), first)


def test_state_round_trips_through_a_weights_only_checkpoint(tmp_path):
    seed_all(3)
    draws()
    state = capture_rng_state()
    expected = draws()
    path = str(tmp_path / 'ckpt.pth')
    torch.save(dict(meta=dict(epoch=1, iter=4), rng_state=dict(world_size=1, states=[state])),
               path)
    loaded = load_checkpoint_file(path)  # weights_only=True
    draws(), draws()
    restore_rng_state(loaded['rng_state']['states'][0])
    assert draws() == expected


def test_hook_restores_only_when_resumed(tmp_path):
    torch.manual_seed(5)
    checkpoint = dict(meta=dict(epoch=1, iter=4))
    hook = RNGStateHook()
    runner = SimpleNamespace(iter=4, hooks=[], logger=SimpleNamespace(info=lambda msg: None))
    hook.before_save_checkpoint(runner, checkpoint)
    expected = draws()
    for resumed_iter, same in ((4, True), (0, False)):  # resume vs load_from (iter stays 0)
        hook.after_load_checkpoint(runner, checkpoint)
        draws()
        runner.iter = resumed_iter
        hook.before_train(runner)
        assert (draws() == expected) is same


def seed_all(seed):
    random.seed(seed), np.random.seed(seed), torch.manual_seed(seed)


def test_validation_and_nested_runs_leave_the_stream_alone():
    seed_all(0)
    hook = RNGStateHook()
    expected = draws()
    seed_all(0)
    hook.before_val(None)
    draws()  # e.g. a metric that seeds or samples
    hook.after_val(None)
    with preserved_rng():
        seed_all(123)
    assert draws() == expected
