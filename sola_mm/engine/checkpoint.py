"""Checkpoint reading with ``weights_only=True`` and errors that name the file.

mmengine checkpoints pickle a few mmengine/numpy objects; ``sola_mm.compat`` registers exactly those
as safe globals, so nothing here ever turns ``weights_only`` off.
"""
from __future__ import annotations

import os
from typing import Dict, Iterable

import torch
from torch import nn


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used: missing, truncated, unsafe, or for another model."""


def load_checkpoint_file(path: str) -> dict:
    """torch.load with weights_only=True; a clear error for missing, truncated or unsafe files."""
    if not os.path.isfile(path):
        raise CheckpointError(f'checkpoint {path!r} does not exist')
    try:
        checkpoint = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as err:  # torch raises several types for corrupt or unsafe pickles
        raise CheckpointError(
            f'checkpoint {path!r} could not be loaded safely (truncated, corrupt, or holding '
            f'objects outside the safe-globals list): {type(err).__name__}: {err}') from err
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f'checkpoint {path!r} holds a {type(checkpoint).__name__}, '
                              'expected a dict (state dict or mmengine checkpoint)')
    return checkpoint


def state_dict_of(checkpoint: dict) -> Dict[str, torch.Tensor]:
    """The parameter dict of an mmengine checkpoint, or the dict itself when it is one."""
    state = checkpoint.get('state_dict', checkpoint)
    return {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}


def load_submodule_state(module: nn.Module, path: str, prefixes: Iterable[str]) -> str:
    """Load into ``module`` the tensors of ``path`` under the first prefix that covers every key
    of the module; returns that prefix. Shapes must match exactly."""
    state = state_dict_of(load_checkpoint_file(path))
    wanted = module.state_dict()
    for prefix in prefixes:
        # a prefix may sit anywhere (e.g. 'neck.' inside 'model.neck.'): match on the key's tail
        candidates = {}
        for key, value in state.items():
            head, sep, tail = key.rpartition(prefix) if prefix else ('', '', key)
            if (sep or not prefix) and tail in wanted:
                candidates.setdefault(tail, value)
        if set(candidates) == set(wanted):
            for key, value in candidates.items():
                if value.shape != wanted[key].shape:
                    raise CheckpointError(
                        f'checkpoint {path!r}: {prefix}{key} has shape {list(value.shape)}, the '
                        f'{type(module).__name__} in the config expects {list(wanted[key].shape)}')
            module.load_state_dict(candidates, strict=True)
            return prefix
    raise CheckpointError(
        f'checkpoint {path!r} holds no complete {type(module).__name__} state '
        f'(looked for keys {sorted(wanted)[:4]}... under prefixes {list(prefixes)}); '
        'is it a checkpoint of another model?')
