"""Run a 2-D proposal head one chunk of videos at a time when no gradient is needed.

Why: G-TAD's and BMN's heads turn each video into ``[512, D, T]`` maps (20 MB at the ActivityNet
shape). One video's maps stay in this machine's 32 MB L3 cache from layer to layer; a batch of
16 streams 327 MB maps through memory and page-faults them in fresh at every call: a whole
``tools/test.py`` run of G-TAD at batch 16 was 0.84x the speed of batch 1, and is 1.21x with the
head in chunks of one (``tools/benchmark_test.py``, docs/performance.md). The heads project the
whole batch first (one matmul, which reads the 16 MB projection weight once) and chunk only the
interpolation and the 2-D convs that follow. Training keeps the whole batch: the backward pass
needs every map anyway.
"""
from __future__ import annotations

from typing import Callable, Optional, Tuple, Union

import torch

__all__ = ['check_chunk_size', 'per_chunk']

Output = Union[torch.Tensor, Tuple[torch.Tensor, ...]]


def check_chunk_size(owner: str, chunk_size: Optional[int]) -> Optional[int]:
    """``chunk_size`` if it is None or >= 1; a ValueError naming ``owner`` otherwise."""
    if chunk_size is not None and chunk_size < 1:
        raise ValueError(f'{owner}: head_chunk_size must be >= 1 or None, got {chunk_size}')
    return chunk_size


def per_chunk(fn: Callable[[torch.Tensor], Output], x: torch.Tensor,
              chunk_size: Optional[int]) -> Output:
    """``fn(x)``, computed over chunks of ``chunk_size`` batch elements and concatenated along
    dim 0 when gradients are off (``torch.no_grad`` / ``inference_mode``) and the batch is
    larger; otherwise in one call. ``fn`` returns a tensor or a tuple of tensors."""
    if check_chunk_size('per_chunk', chunk_size) is None or torch.is_grad_enabled() \
            or x.shape[0] <= chunk_size:
        return fn(x)
    outs = [fn(part) for part in x.split(chunk_size)]
    if isinstance(outs[0], torch.Tensor):
        return torch.cat(outs)
    return tuple(torch.cat(parts) for parts in zip(*outs))
