"""SGAlign (sub-graph of interest alignment) and its memory-light fused form.

Every proposal cell (d, s) is described by ``inner_bins`` Align1D bins of the GCNeXt features and
``context_bins`` bins of the context features (the mean of each snippet's 3 nearest neighbours,
computed on the same features), both over the widened anchor ``[s - (d+1)/2, s + d + (d+1)/2]``.
The official output is ``[B, C * (Ri + Rc), D, T]`` with channel ``c * (Ri + Rc) + r``, which the
head's first 1x1 conv (``localization.0``) reduces to ``h3d`` channels.

Both steps are linear, so the fused path (:meth:`SGAlign.project_bins`, then
:meth:`SGAlign.interpolate`) applies the conv weights per bin to the ``[B, C, T]`` features first
(``Z [B, T, Ri + Rc, h3d]``) and then the fixed interpolation matrix, never materialising the
``[B, C * (Ri + Rc), D, T]`` tensor (5.9 GB at the ActivityNet training shape in float32). The
plain path (:meth:`SGAlign.features`) materialises it like the official code.
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import nn

from sola_mm.models.ops.align1d import (SGAlignMatrices, batched_sparse_matmul, sgalign_matrices,
                                        sparse_matmul)
from .gcnext import gather_neighbours, knn_indices

__all__ = ['SGAlign']


class SGAlign(nn.Module):
    """Parameter-free SGAlign on ``[B, C, T]`` GCNeXt features.

    Args:
        temporal_dim: T. max_duration: D (<= T).
        inner_bins, context_bins: Ri and Rc (official 32/4 for ActivityNet, 16/16 for THUMOS).
        k: neighbours of the context graph. sampling_ratio: Align1D samples per bin (0 =
        adaptive). expand_ratio: anchor widening on each side, times (d + 1).
    """

    def __init__(self, temporal_dim: int, max_duration: int, inner_bins: int = 32,
                 context_bins: int = 4, k: int = 3, sampling_ratio: int = 0,
                 expand_ratio: float = 0.5) -> None:
        super().__init__()
        if not 1 <= max_duration <= temporal_dim:
            raise ValueError(f'SGAlign: need 1 <= max_duration <= temporal_dim, got D='
                             f'{max_duration}, T={temporal_dim}')
        if inner_bins < 1 or context_bins < 0:
            raise ValueError(f'SGAlign: need inner_bins >= 1 and context_bins >= 0, got '
                             f'{inner_bins}, {context_bins}')
        self.temporal_dim = temporal_dim
        self.max_duration = max_duration
        self.inner_bins = inner_bins
        self.context_bins = context_bins
        self.k = k
        self.sampling_ratio = sampling_ratio
        self.expand_ratio = expand_ratio

    @property
    def bins(self) -> int:
        return self.inner_bins + self.context_bins

    def matrices(self, like: torch.Tensor) -> SGAlignMatrices:
        return sgalign_matrices(self.temporal_dim, self.max_duration, self.inner_bins,
                                self.context_bins, self.sampling_ratio, self.expand_ratio,
                                like.dtype, like.device)

    def context(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Context features ``[B, C, T]`` (mean of the kNN of ``x``, self included) and the kNN
        indices ``[B, T, k]``."""
        idx = knn_indices(x, self.k)
        return gather_neighbours(x, idx).mean(dim=-1), idx

    def _check(self, x: torch.Tensor) -> None:
        if x.dim() != 3 or x.shape[2] != self.temporal_dim:
            raise ValueError(f'SGAlign expects features [B, C, {self.temporal_dim}], got '
                             f'{list(x.shape)}')

    def _sources(self, x: torch.Tensor) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        return x, (self.context(x)[0] if self.context_bins else None)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Plain SGAlign output ``[B, C * (Ri + Rc), D, T]``, channel ``c * (Ri + Rc) + r``."""
        self._check(x)
        batch, channels, length = x.shape
        mats = self.matrices(x)
        parts = []
        for source, matrix, bins in zip(self._sources(x), (mats.inner, mats.context),
                                        (self.inner_bins, self.context_bins)):
            if source is None:
                continue
            cols = source.permute(2, 0, 1).reshape(length, batch * channels)
            parts.append(sparse_matmul(matrix, cols).view(bins, self.max_duration, length,
                                                           batch, channels))
        feats = torch.cat(parts, dim=0)  # [R, D, T, B, C]
        return feats.permute(3, 4, 0, 1, 2).reshape(batch, channels * self.bins,
                                                    self.max_duration, length)

    def project_bins(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """First half of the fused ``conv1x1(features(x))`` (``weight`` the 1x1 conv weight
        ``[h, C * (Ri + Rc)(, 1, 1)]``; :meth:`interpolate` is the second half): the per-bin
        projections ``Z [B, (t, r), h]``, the columns of the fixed matrix,
        ``Z[b, (t, r), h] = sum_c weight[h, c * (Ri + Rc) + r] x_r[b, c, t]`` (x_r the GCNeXt
        features for inner bins, the context features for context bins); one plain matmul per
        source over the whole batch, nothing of batch size saved but x."""
        self._check(x)
        batch, channels, length = x.shape
        hidden = weight.shape[0]
        if weight[0].numel() != channels * self.bins:
            raise ValueError(f'SGAlign.project_bins: weight has {weight[0].numel()} input channels, '
                             f'expected C * (Ri + Rc) = {channels} * {self.bins}')
        pairs = [(source.transpose(1, 2).reshape(batch * length, channels), w)  # [(b, t), C]
                 for source, w in zip(self._sources(x), self.per_bin_weights(weight))
                 if source is not None]
        if torch.is_grad_enabled() or any(rows.dtype != w.dtype for rows, w in pairs):
            # (autograd, or autocast's mixed dtypes: mm(out=) supports neither)
            # [(b, t), C] @ [C, (r, h)], the bins of both sources side by side: [B, T, R, h]
            z = torch.cat([torch.mm(rows, w).view(batch, length, -1, hidden)
                           for rows, w in pairs], dim=2)
        else:  # each product written into its columns of z directly, without the concatenation
            z = pairs[0][0].new_empty(batch * length, self.bins * hidden)
            first = 0
            for rows, w in pairs:
                torch.mm(rows, w, out=z[:, first:first + w.shape[1]])
                first += w.shape[1]
        return z.view(batch, length * self.bins, hidden)

    def interpolate(self, z: torch.Tensor, bias: Optional[torch.Tensor] = None,
                    relu: bool = False) -> torch.Tensor:
        """The fixed interpolation per video of :meth:`project_bins`' output, plus the conv bias
        and an optional ReLU: ``out[b, (d, s), h] = sum_(t, r) A[(d, s), (t, r)] Z[b, (t, r), h]``,
        returned as a ``[B, h, D, T]`` view of ``[B, D, T, h]`` memory, the channels-last layout
        the following convs run fastest on."""
        batch, _, hidden = z.shape
        out = batched_sparse_matmul(self.matrices(z).fused, z, bias, relu)
        return out.view(batch, self.max_duration, self.temporal_dim, hidden).permute(0, 3, 1, 2)

    def per_bin_weights(self, weight: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """The head conv's weight as ``[C, (r, h)]`` for the inner and the context bins (a copy:
        16 MB at the ActivityNet shape)."""
        hidden = weight.shape[0]
        per_bin = weight.reshape(hidden, -1, self.bins).permute(1, 2, 0)  # [C, R, h]
        channels = per_bin.shape[0]
        return (per_bin[:, :self.inner_bins].reshape(channels, -1),
                per_bin[:, self.inner_bins:].reshape(channels, -1))

    def extra_repr(self) -> str:
        return (f'T={self.temporal_dim}, D={self.max_duration}, inner_bins={self.inner_bins}, '
                f'context_bins={self.context_bins}, k={self.k}')
