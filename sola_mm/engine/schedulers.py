"""Parameter schedulers that mmengine lacks.

``ZeroStartLinearLR``: linear warm-up from 0 reaching the base lr at the last warm-up step,
``lr_k = base * k / (n - 1)`` for ``k = 0 .. n - 1`` (``n = end - begin``). This is ActionFormer's
``LinearWarmupCosineAnnealingLR`` warm-up (``warmup_start_lr = 0``: iteration 0 changes no
parameter). mmengine's ``LinearLR`` cannot start at 0 (its chainable form divides by the start
factor). Followed by mmengine's ``CosineAnnealingLR(begin=n, T_max=M - n, eta_min=1e-8)``, the
pair equals the official schedule (tests/engine/test_actionformer_optim.py).
"""
from __future__ import annotations

from mmengine.optim.scheduler.lr_scheduler import LRSchedulerMixin
from mmengine.optim.scheduler.param_scheduler import INF, _ParamScheduler
from mmengine.registry import PARAM_SCHEDULERS

__all__ = ['ZeroStartLinearLR']


class ZeroStartLinearParamScheduler(_ParamScheduler):
    """``value_k = base * k / (end - begin - 1)`` (closed form) on ``[begin, end)``."""

    def __init__(self, optimizer, param_name: str, begin: int = 0, end: int = INF,
                 last_step: int = -1, by_epoch: bool = True, verbose: bool = False) -> None:
        if end == INF or end - begin < 2:
            raise ValueError(f'ZeroStartLinearLR needs a finite end >= begin + 2, got '
                             f'begin={begin}, end={end}')
        self.total_iters = end - begin - 1
        super().__init__(optimizer, param_name=param_name, begin=begin, end=end,
                         last_step=last_step, by_epoch=by_epoch, verbose=verbose)

    @classmethod
    def build_iter_from_epoch(cls, *args, begin=0, end=INF, by_epoch=True, epoch_length=None,
                              **kwargs):
        """Epoch-based config -> per-iteration scheduler (``convert_to_iter_based=True``)."""
        assert by_epoch and epoch_length, 'needs by_epoch=True and the epoch length'
        end = end if end == INF else int(end * epoch_length)
        return cls(*args, begin=int(begin * epoch_length), end=end, by_epoch=False, **kwargs)

    def _get_value(self):
        return [base * self.last_step / self.total_iters for base in self.base_values]


@PARAM_SCHEDULERS.register_module()
class ZeroStartLinearLR(LRSchedulerMixin, ZeroStartLinearParamScheduler):
    """Linear lr warm-up from 0 to the base lr, reached at step ``end - 1`` (ActionFormer)."""
