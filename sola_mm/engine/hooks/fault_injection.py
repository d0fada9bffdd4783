"""Test-only fault injection: SIGKILL the training process at a chosen point.

Not imported by ``sola_mm``; a test config enables it with
``custom_imports = dict(imports=['sola_mm', 'sola_mm.engine.hooks.fault_injection'])`` and
``custom_hooks = [dict(type='KillAtIterHook', at_iter=6, once_file='/tmp/x/killed')]``.
With ``once_file`` the kill happens once: the file is created just before dying, so rerunning the
same config with ``--resume`` trains to the end.
"""
from __future__ import annotations

import os
import signal
from typing import Optional

from mmengine.hooks import Hook

from mmaction.registry import HOOKS


def _sigkill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


@HOOKS.register_module()
class KillAtIterHook(Hook):
    """SIGKILL the process after global train iteration ``at_iter`` (1-based), or while the
    checkpoint of epoch ``at_save_epoch`` is being written (after its temp file is half written,
    before the rename that would publish it).
    """

    priority = 'LOWEST'

    def __init__(self, at_iter: Optional[int] = None, at_save_epoch: Optional[int] = None,
                 once_file: Optional[str] = None) -> None:
        self.at_iter = at_iter
        self.at_save_epoch = at_save_epoch
        self.once_file = once_file

    def _armed(self) -> bool:
        return not (self.once_file and os.path.exists(self.once_file))

    def _die(self) -> None:
        if self.once_file:
            with open(self.once_file, 'w') as f:
                f.write('killed\n')
        _sigkill()

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if self.at_iter is not None and runner.iter + 1 == self.at_iter and self._armed():
            self._die()

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self.at_save_epoch is None or not self._armed():
            return
        if checkpoint.get('meta', {}).get('epoch') != self.at_save_epoch:
            return
        real_replace = os.replace

        def replace_then_die(src, dst, *args, **kwargs):
            if str(dst).endswith('.pth'):
                size = os.path.getsize(src)
                with open(src, 'r+b') as f:  # as if the kill came half-way through the write
                    f.truncate(size // 2)
                self._die()
            return real_replace(src, dst, *args, **kwargs)

        os.replace = replace_then_die
