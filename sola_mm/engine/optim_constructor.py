"""ActionFormer's two AdamW parameter groups (decay / no decay) as an mmengine constructor.

Official ``make_optimizer`` (minGPT style): ``decay`` = the ``weight`` of every ``Conv1d`` /
``Linear`` (``MaskedConv1D`` holds a ``Conv1d``); ``no_decay`` = every bias, the weights of
LayerNorm / GroupNorm (also BatchNorm / torch LayerNorm here, for a SoLa neck in front) and the
``scale`` of ``Scale`` / ``AffineDropPath`` (and ``rel_pe``). Each group lists its parameters in
sorted name order. A parameter in neither set raises (the official assert); parameters without
``requires_grad`` (a frozen SoLa neck) are left out. Use it with
``optim_wrapper=dict(constructor='DecayGroupsOptimWrapperConstructor', optimizer=dict(
type='AdamW', lr=..., weight_decay=...))``: the decay group gets the optimizer's weight_decay,
the other 0.
"""
from __future__ import annotations

from typing import Dict, List, Tuple

from mmengine.optim import DefaultOptimWrapperConstructor
from mmengine.registry import OPTIM_WRAPPERS, OPTIMIZERS
from torch import nn

from mmaction.registry import OPTIM_WRAPPER_CONSTRUCTORS

__all__ = ['DecayGroupsOptimWrapperConstructor', 'decay_groups']

_DECAY_MODULES = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
_NORM_MODULES = (nn.LayerNorm, nn.GroupNorm, nn.modules.batchnorm._BatchNorm)


def _is_norm(module: nn.Module) -> bool:
    # the official LayerNorm over channels and ours are plain Modules named *LayerNorm
    return isinstance(module, _NORM_MODULES) or type(module).__name__.endswith('LayerNorm')


def decay_groups(model: nn.Module) -> Tuple[List[str], List[str]]:
    """Sorted names of the parameters with and without weight decay (trainable ones only)."""
    decay, no_decay = set(), set()
    for mname, module in model.named_modules():
        for pname, p in module.named_parameters(recurse=False):
            if not p.requires_grad:
                continue
            full = f'{mname}.{pname}' if mname else pname
            if pname.endswith('bias'):
                no_decay.add(full)
            elif pname.endswith('weight') and isinstance(module, _DECAY_MODULES):
                decay.add(full)
            elif pname.endswith('weight') and _is_norm(module):
                no_decay.add(full)
            elif pname.endswith('scale') or pname.endswith('rel_pe'):
                no_decay.add(full)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    left = trainable - decay - no_decay
    if left:
        raise ValueError(f'DecayGroupsOptimWrapperConstructor: parameters {sorted(left)} are '
                         'neither conv/linear weights nor biases, norm weights or scales; '
                         'the official make_optimizer rejects them too')
    return sorted(decay), sorted(no_decay)


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class DecayGroupsOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """Two parameter groups: ``[decay (weight_decay of the optimizer), no_decay (0)]``."""

    def add_params(self, params: List[Dict], module: nn.Module, prefix: str = '',
                   is_dcn_module=None) -> None:
        named = dict(module.named_parameters())
        decay, no_decay = decay_groups(module)
        wd = self.base_wd if self.base_wd is not None else 0.0
        params.append(dict(params=[named[n] for n in decay], weight_decay=wd))
        params.append(dict(params=[named[n] for n in no_decay], weight_decay=0.0))

    def __call__(self, model: nn.Module):
        if hasattr(model, 'module'):
            model = model.module
        params: List[Dict] = []
        self.add_params(params, model)
        optimizer = OPTIMIZERS.build({**self.optimizer_cfg, 'params': params})
        wrapper_cfg = {'type': 'OptimWrapper', **self.optim_wrapper_cfg}
        return OPTIM_WRAPPERS.build(wrapper_cfg, default_args=dict(optimizer=optimizer))
