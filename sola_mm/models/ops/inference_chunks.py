"""Run a 2-D proposal head one chunk of videos at a time when no gradient is needed.

Why: G-TAD's and BMN's heads turn each video into ``[512, D, T]`` maps (20 MB at the ActivityNet
shape). One video's maps stay in this machine's 32 MB L3 cache from layer to layer; a batch of
16 streams 327 MB maps through memory and page-faults them in fresh at every call. Measured at
the ActivityNet shape (G-TAD forward, 2 threads): batch 16 whole 50.5 ms per video, batch 1
48.9 ms, batch 16 in chunks of one 45.6 ms with no page faults. The heads project the whole
batch first (one matmul, which reads the 16 MB projection weight once) and chunk only the
interpolation and the 2-D convs that follow. Training keeps the whole batch: the backward pass
needs every map anyway.
"""
from __future__ import annotations

from typing import Callable, Optional, Tuple, Union

import torch

__all__ = ['per_chunk']

Output = Union[torch.Tensor, Tuple[torch.Tensor, ...]]


def per_chunk(fn: Callable[[torch.Tensor], Output], x: torch.Tensor,
              chunk_size: Optional[int]) -> Output:
    """``fn(x)``, computed over chunks of ``chunk_size`` batch elements and concatenated along
    dim 0 when gradients are off (``torch.no_grad`` / ``inference_mode``) and the batch is
    larger; otherwise in one call. ``fn`` returns a tensor or a tuple of tensors."""
    if chunk_size is None or torch.is_grad_enabled() or x.shape[0] <= chunk_size:
        return fn(x)
    if chunk_size < 1:
        raise ValueError(f'per_chunk: chunk_size must be >= 1 or None, got {chunk_size}')
    outs = [fn(part) for part in x.split(chunk_size)]
    if isinstance(outs[0], torch.Tensor):
        return torch.cat(outs)
    return tuple(torch.cat(parts) for parts in zip(*outs))
