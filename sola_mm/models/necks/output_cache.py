"""A bounded cache of a frozen neck's outputs, emptied whenever the neck's weights change.

A frozen neck (SoLa in stage 2) is a pure function of the video: its output on a video is the same
every epoch, so ``NeckLocalizer`` computes it once and reuses it. Entries are keyed by what the
dataset says identifies the input (feature files, stride and span: ``neck_post['key']``) and the
autocast dtype if any, kept on the CPU, and evicted least-recently-used beyond ``max_bytes``.

Invalidation: every lookup first compares the weights' cheap version stamp (storage pointer,
in-place version counter, dtype and shape of every parameter and buffer) with the one of the last
lookup; when it moved (``load_state_dict``, ``load_pretrained`` after stage 1, an optimizer step,
``.to(device)``), the weights are hashed again and a different hash empties the cache. The hash
(SHA-1 of names, dtypes, shapes and bytes) is ``fingerprint``, e.g. for the logs.
"""
from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Optional, Tuple

import torch
from torch import nn


def weights_fingerprint(module: nn.Module) -> str:
    """SHA-1 of the names, dtypes, shapes and values of a module's parameters and buffers."""
    digest = hashlib.sha1()
    for name, tensor in module.state_dict().items():
        flat = tensor.detach().to('cpu').contiguous().reshape(-1)
        digest.update(f'{name}|{flat.dtype}|{tuple(tensor.shape)}|'.encode())
        digest.update(flat.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def autocast_tag(device_type: str) -> str:
    """``''`` outside autocast, else ``'|autocast=<dtype>'``: a neck under autocast gives other
    values, so its outputs are cached under another key."""
    if hasattr(torch, 'get_autocast_dtype'):  # torch >= 2.4: per device type
        enabled = torch.is_autocast_enabled(device_type)
        dtype = torch.get_autocast_dtype(device_type) if enabled else None
    elif device_type == 'cpu':
        enabled, dtype = torch.is_autocast_cpu_enabled(), torch.get_autocast_cpu_dtype()
    else:
        enabled, dtype = torch.is_autocast_enabled(), torch.get_autocast_gpu_dtype()
    return f'|autocast={dtype}' if enabled else ''


def _version_stamp(module: nn.Module) -> Tuple:
    return tuple((t.data_ptr(), t._version, t.dtype, tuple(t.shape))
                 for t in module.state_dict(keep_vars=True).values())


class NeckOutputCache:
    """LRU ``{key: [C, T] tensor}`` of at most ``max_bytes`` bytes, valid for one set of weights.

    Args:
        max_bytes: byte budget of the stored outputs (float32 ``C x T x 4`` each); an output larger
            than the budget is not stored. 0 stores nothing.
    """

    def __init__(self, max_bytes: int) -> None:
        if max_bytes < 0:
            raise ValueError(f'NeckOutputCache: max_bytes must be >= 0, got {max_bytes}')
        self.max_bytes = int(max_bytes)
        self.nbytes = 0
        self.hits = 0
        self.misses = 0
        self.fingerprint: Optional[str] = None
        self._stamp: Optional[Tuple] = None
        self._entries: 'OrderedDict[str, torch.Tensor]' = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()
        self.nbytes = 0

    def sync(self, module: nn.Module) -> None:
        """Empty the cache if ``module``'s weights differ from those its entries were made with."""
        stamp = _version_stamp(module)
        if stamp == self._stamp:
            return
        self._stamp = stamp
        fingerprint = weights_fingerprint(module)
        if fingerprint != self.fingerprint:
            self.clear()
            self.fingerprint = fingerprint

    def get(self, key: str, device: torch.device) -> Optional[torch.Tensor]:
        out = self._entries.get(key)
        if out is None:
            self.misses += 1
            return None
        self.hits += 1
        self._entries.move_to_end(key)
        return out.to(device)

    def put(self, key: str, value: torch.Tensor) -> None:
        if key in self._entries:
            return
        size = value.numel() * value.element_size()
        if size > self.max_bytes:
            return
        while self.nbytes + size > self.max_bytes:
            _, old = self._entries.popitem(last=False)
            self.nbytes -= old.numel() * old.element_size()
        self._entries[key] = value.detach().to('cpu', copy=True)
        self.nbytes += size
