"""Checkpoints load with ``weights_only=True`` and an explicit safe-globals list
(``sola_mm.compat.safe_globals``): crafted pickles that would run code are refused, real mmengine
checkpoints (HistoryBuffer message hub, numpy values, RNG states) load. Real Runner checkpoints
are also loaded this way by every resume test (tests/reliability/test_resume.py)."""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub
from mmengine.runner.checkpoint import save_checkpoint

from sola_mm.engine.checkpoint import CheckpointError, load_checkpoint_file
from sola_mm.engine.hooks.rng_state import capture_rng_state


class RunsShell:
    """Unpickling this would call os.system(command)."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return os.system, (self.command, )


class ReadsGlobals:
    """Unpickling this would call getattr(HistoryBuffer.__init__, '__globals__'): the first step
    of reaching (and, with SETITEM, overwriting) module globals through an allowed getattr."""

    def __reduce__(self):
        return getattr, (HistoryBuffer.__init__, '__globals__')


def test_pickle_that_runs_a_command_is_refused(tmp_path):
    marker = tmp_path / 'pwned'
    path = str(tmp_path / 'evil.pth')
    torch.save(dict(state_dict={}, meta=RunsShell(f'touch {marker}')), path)
    with pytest.raises(CheckpointError, match=r'(?s)could not be loaded safely.*posix.system'):
        load_checkpoint_file(path)
    assert not marker.exists()
    with pytest.raises(Exception, match='system'):  # torch.load's own default refuses it too
        torch.load(path)
    assert not marker.exists()


def test_getattr_only_rebuilds_history_buffer_methods(tmp_path):
    path = str(tmp_path / 'evil.pth')
    torch.save(dict(meta=ReadsGlobals()), path)
    with pytest.raises(CheckpointError, match=r"(?s)getattr\(.*HistoryBuffer.*'__init__'.*refused"):
        load_checkpoint_file(path)


def test_mmengine_checkpoint_loads(tmp_path):
    """What mmengine's Runner saves: model, optimizer, meta, message hub with HistoryBuffer
    objects (pickled with getattr(HistoryBuffer, 'mean') ...), numpy scalars, RNG states."""
    model = torch.nn.Conv1d(4, 4, 3)
    optim = torch.optim.AdamW(model.parameters())
    model(torch.randn(2, 4, 8)).sum().backward()
    optim.step()
    hub = MessageHub.get_instance('test_safe_checkpoints')
    for value in (2.0, 1.0):
        hub.update_scalar('train/loss', value)
    hub.update_info('best_score', np.float32(0.5))
    hub.update_info('keep_ckpt_ids', [1, 2])
    path = str(tmp_path / 'epoch_1.pth')
    save_checkpoint(dict(meta=dict(epoch=1, iter=4, seed=0, dataset_meta=None),
                         state_dict=model.state_dict(), optimizer=optim.state_dict(),
                         message_hub=hub.state_dict(),
                         rng_state=dict(world_size=1, states=[capture_rng_state()])), path)
    checkpoint = load_checkpoint_file(path)
    buffer = checkpoint['message_hub']['log_scalars']['train/loss']
    assert isinstance(buffer, HistoryBuffer) and buffer.mean() == 1.5
    assert checkpoint['message_hub']['runtime_info']['best_score'] == np.float32(0.5)
    assert torch.equal(checkpoint['state_dict']['weight'], model.weight)
    assert checkpoint['optimizer']['state'][0]['step'] == 1
