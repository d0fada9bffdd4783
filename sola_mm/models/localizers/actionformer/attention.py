"""Masked multi-head conv-attention of ActionFormer (local window or global).

Queries, keys and values come from depthwise ``MaskedConv1D`` (kernel 3, or stride + 1 when the
block downsamples) -> channel LayerNorm -> 1x1 conv; head ``h`` owns channels
``[h * C / nh, (h + 1) * C / nh)``; ``att = softmax((q / sqrt(C / nh)) k^T)``.

* Local window (``window_size > 1``): query ``i`` sees keys ``|i - j| <= window_size // 2`` inside
  the sequence. Padded keys get ``-1e4`` added (the official value; their weight underflows to 0)
  and the rows of padded queries are zeroed after the softmax, as the official Longformer-style
  code does. Instead of its chunk/diagonal shuffling, queries are cut into blocks of ``block``
  rows; each block attends to the ``block + 2 * (w // 2)`` keys around it with a banded mask: two
  plain batched matmuls, the same probabilities (``attention_probs`` turns them into the dense
  ``[B, nh, T, T]`` matrix of the fixtures).
* Global (``window_size <= 1``): every valid key, ``-inf`` on padded keys, values multiplied by the
  key mask (official ``MaskedMHCA``; padded query rows are not zeroed there).

The output projection is multiplied by the query mask, so padded outputs are exactly zero.
"""
from __future__ import annotations

import math
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import ChannelLayerNorm, MaskedConv1D

__all__ = ['MaskedConvAttention']

#: what the official local attention adds to the scores of padded keys
PADDED_KEY_BIAS = -1e4


class MaskedConvAttention(nn.Module):
    """``forward(x [B, C, T], mask [B, 1, T]) -> (out [B, C, T / stride], mask')``.

    Args:
        channels: C (divisible by ``num_heads``).
        num_heads: attention heads.
        window_size: local window (> 1; an even w acts as w + 1) or <= 1 for global attention.
        stride: 1 or an even downsampling stride (queries, keys and values alike).
        block: query rows per block of the local attention (None: ``max(w, 16)``, rounded to
            a multiple of ``w // 2``); any value gives the same result.
    """

    def __init__(self, channels: int, num_heads: int, window_size: int, stride: int = 1,
                 block: Optional[int] = None) -> None:
        super().__init__()
        if channels % num_heads:
            raise ValueError(f'attention: channels {channels} not divisible by {num_heads} heads')
        if stride != 1 and stride % 2:
            raise ValueError(f'attention: stride must be 1 or even, got {stride}')
        if 1 < window_size < 5:
            # the official local attention crashes for w = 3 (and w = 4 acts as 5 only there)
            raise ValueError(f'attention: the official local window needs w >= 5, got '
                             f'{window_size}; use <= 1 for global attention')
        self.channels = channels
        self.num_heads = num_heads
        self.head_dim = channels // num_heads
        self.scale = 1.0 / math.sqrt(self.head_dim)
        self.window_size = window_size
        self.half = window_size // 2 if window_size > 1 else 0
        self.stride = stride
        if block is None:
            block = max(window_size, 16)
        self.block = block
        kernel = stride + 1 if stride > 1 else 3
        for name in ('query', 'key', 'value'):
            setattr(self, f'{name}_conv', MaskedConv1D(channels, channels, kernel, stride=stride,
                                                       groups=channels, bias=False))
            setattr(self, f'{name}_norm', ChannelLayerNorm(channels))
            setattr(self, name, nn.Conv1d(channels, channels, 1))
        self.proj = nn.Conv1d(channels, channels, 1)
        for conv in (self.query, self.key, self.value, self.proj):
            nn.init.zeros_(conv.bias)
        self.record_probs = False  # tests: keep the last probabilities in ``last_probs``
        self.last_probs: Optional[torch.Tensor] = None

    # ------------------------------------------------------------------ projections
    def _qkv(self, x: torch.Tensor, mask: torch.Tensor):
        q, q_mask = self.query_conv(x, mask)
        k, kv_mask = self.key_conv(x, mask)
        v, _ = self.value_conv(x, mask)
        q = self.query(self.query_norm(q))
        k = self.key(self.key_norm(k))
        v = self.value(self.value_norm(v))
        B, C, T = q.shape
        # [B, C, T] -> [B, nh, T, hd]
        heads = (B, self.num_heads, self.head_dim, T)
        return (q.view(heads).transpose(2, 3), k.view(heads).transpose(2, 3),
                v.view(heads).transpose(2, 3), q_mask, kv_mask)

    # ------------------------------------------------------------------ attention
    def _global(self, q, k, v, kv_mask):
        valid = kv_mask[:, :, None, :]  # [B, 1, 1, T]
        att = torch.matmul(q * self.scale, k.transpose(-2, -1))
        att = att.masked_fill(~valid, float('-inf')).softmax(dim=-1)
        if self.record_probs:
            self.last_probs = att.detach()
        return torch.matmul(att, v * kv_mask[:, :, :, None].to(v.dtype))

    def _local(self, q, k, v, kv_mask):
        B, nh, T, hd = q.shape
        h, blk = self.half, self.block
        nb = -(-T // blk)
        Tp = nb * blk
        cols = blk + 2 * h
        # keys / values padded by h on the left and h + (Tp - T) on the right, then cut into
        # overlapping windows of `cols` rows, one per query block (a copy of (blk + 2h) / blk)
        pad = (0, 0, h, h + Tp - T)
        kw = F.pad(k, pad).unfold(2, cols, blk).transpose(-1, -2)  # [B, nh, nb, cols, hd]
        vw = F.pad(v, pad).unfold(2, cols, blk).transpose(-1, -2)
        qb = F.pad(q * self.scale, (0, 0, 0, Tp - T)).view(B, nh, nb, blk, hd)
        att = torch.matmul(qb, kw.transpose(-1, -2))  # [B, nh, nb, blk, cols]
        att = (att + self._local_bias(kv_mask, T, nb, att.dtype)).softmax(dim=-1)
        if self.record_probs:
            # rows of padded queries are zeroed officially; here they only meet a zero query
            # mask after the projection, which gives the same outputs and gradients
            q_valid = F.pad(kv_mask[:, 0], (0, Tp - T)).view(B, 1, nb, blk, 1)
            self.last_probs = (att * q_valid.to(att.dtype)).detach()
        out = torch.matmul(att, vw)  # [B, nh, nb, blk, hd]
        return out.reshape(B, nh, Tp, hd)[:, :, :T]

    def _local_bias(self, kv_mask: torch.Tensor, T: int, nb: int, dtype: torch.dtype
                    ) -> torch.Tensor:
        """Additive mask ``[B, 1, nb, blk, cols]``: 0 for a valid key in the window, -1e4 for a
        padded key (official), -1e30 outside the window or the sequence (weight exactly 0)."""
        h, blk = self.half, self.block
        cols = blk + 2 * h
        dev = kv_mask.device
        # key index of column c in block n: n * blk + c - h; query index: n * blk + r
        r = torch.arange(blk, device=dev)[:, None]
        c = torch.arange(cols, device=dev)[None, :]
        in_band = (c - r >= 0) & (c - r <= 2 * h)  # |i - j| <= h
        key_pos = torch.arange(nb, device=dev)[:, None] * blk + c - h  # [nb, cols]
        in_seq = (key_pos >= 0) & (key_pos < T)
        allowed = in_band[None] & in_seq[:, None, :]  # [nb, blk, cols]
        key_valid = F.pad(kv_mask[:, 0], (h, h + nb * blk - T)).unfold(1, cols, blk)
        dtype = torch.promote_types(dtype, torch.float32)
        key_bias = (~key_valid).to(dtype) * PADDED_KEY_BIAS  # [B, nb, cols]
        bias = torch.where(allowed, key_bias[:, :, None, :], torch.tensor(-1e30, dtype=dtype,
                                                                          device=dev))
        return bias[:, None]

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        q, k, v, q_mask, kv_mask = self._qkv(x, mask)
        B, nh, T, hd = q.shape
        out = self._local(q, k, v, kv_mask) if self.half else self._global(q, k, v, kv_mask)
        out = out.transpose(2, 3).reshape(B, self.channels, T)
        return self.proj(out) * q_mask.to(out.dtype), q_mask

    def dense_probs(self) -> torch.Tensor:
        """The last recorded probabilities as a dense ``[B, nh, T, T]`` matrix (tests)."""
        att = self.last_probs
        if att is None:
            raise RuntimeError('set record_probs = True and run forward first')
        if not self.half:
            return att
        B, nh, nb, blk, cols = att.shape
        h = self.half
        Tp = nb * blk
        dense = att.new_zeros(B, nh, Tp, Tp + 2 * h)
        for n in range(nb):
            dense[:, :, n * blk:(n + 1) * blk, n * blk:n * blk + cols] = att[:, :, n]
        return dense[:, :, :, h:]  # caller crops to [:T, :T]
