"""Weights re-laid out for a fused product, computed once per weight version at inference.

Why: the fused SGAlign / BM layers multiply the features by the first head conv's weight
permuted to ``[C, (bin, H)]``. Permuting copies the weight (16 MB for G-TAD's ActivityNet head),
which at test time is the same copy for every batch: 5 of the ~47 ms per video of G-TAD's forward
at batch 1. With gradients the permutation stays in the autograd graph and is recomputed.
"""
from __future__ import annotations

import weakref
from typing import Callable

import torch
from torch import nn

__all__ = ['derived_weight']


def derived_weight(owner: nn.Module, name: str, weight: torch.Tensor,
                   derive: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """``derive(weight)``, cached on ``owner`` under ``name`` while no gradient is needed.

    The cache holds a weak reference to the weight tensor itself and its version counter (bumped
    by every in-place update: optimizer steps, ``load_state_dict``), so a changed or replaced
    weight is never served stale. It is an ordinary attribute: not a buffer, not in the state dict.
    """
    if torch.is_grad_enabled() and weight.requires_grad:
        return derive(weight)
    cached = owner.__dict__.get(name)
    if cached is not None and cached[0]() is weight and cached[1] == weight._version:
        return cached[2]
    value = derive(weight.detach())
    owner.__dict__[name] = (weakref.ref(weight), weight._version, value)
    return value
