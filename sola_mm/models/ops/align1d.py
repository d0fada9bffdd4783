"""Align1D (G-TAD's 1-D RoIAlign) in pure PyTorch, as fixed interpolation matrices.

Why: G-TAD ships Align1D as a CUDA extension. Its output is linear in the features, with weights
that depend only on the rois, so here the op is a weight matrix ``W[k, p, t]`` (``y[k, c, p] =
sum_t W[k, p, t] x[b_k, c, t]``), built once in float64 and reused; the input gradient ``W^T g`` then
comes from autograd, exactly and deterministically.

The weights follow the official kernel (``Align1D_cuda_kernal.cu``) rule by rule, with
``spatial_scale = 1``:

* roi length ``L = max(end - start, 1)`` (zero-length and reversed rois start at ``start``);
* ``bin = L / P``; samples per bin ``G = sampling_ratio`` if > 0, else ``ceil(L / P)`` per roi;
* sample ``i`` of bin ``p`` sits at ``t = start + p * bin + (i + 0.5) * bin / G`` (this order of
  operations, which decides the edge cases below);
* a sample with ``t < -1`` or ``t > T`` contributes 0 but still counts in the ``1 / G`` average;
  ``t <= 0`` is clamped to 0; with ``lo = floor(t) >= T - 1`` the sample reads ``x[T - 1]``;
  otherwise it interpolates linearly between ``x[lo]`` and ``x[lo + 1]``.

The kernel computes in the input dtype; the matrices here are always computed in float64 and cast,
so float32 results can differ from the CUDA op by float32 rounding of the sample positions.

For G-TAD's SGAlign the rois are the same for every video of a batch (they depend on T, D and the
bin counts only), so :func:`sgalign_matrices` builds them once as sparse CSR matrices and caches
them per (T, D, bins, sampling ratio, dtype, device); :func:`sparse_matmul` applies them with a
precomputed transpose for the backward pass.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import torch
from torch import nn

__all__ = [
    'align1d_samples', 'align1d_weights', 'align1d', 'Align1D', 'gtad_anchor_bounds',
    'SparseOperator', 'sparse_matmul', 'SGAlignMatrices', 'sgalign_matrices',
    'clear_sgalign_cache'
]


def align1d_samples(starts: torch.Tensor, ends: torch.Tensor, length: int, pooled_size: int,
                    sampling_ratio: int = 0
                    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Every non-zero interpolation term of Align1D as (roi, bin, column, weight) quadruples.

    Args:
        starts, ends: roi bounds ``[K]`` in feature-index units (cast to float64).
        length: number of feature columns T.
        pooled_size: number of output bins P.
        sampling_ratio: samples per bin; 0 means adaptive ``ceil(L / P)`` per roi.

    Returns:
        ``roi [N]``, ``bin [N]``, ``col [N]`` (int64) and ``weight [N]`` (float64, already divided
        by G). Repeated (roi, bin, col) triples are not merged.
    """
    if length < 1 or pooled_size < 1:
        raise ValueError(f'Align1D: need length >= 1 and pooled_size >= 1, got {length}, '
                         f'{pooled_size}')
    if sampling_ratio < 0:
        raise ValueError(f'Align1D: sampling_ratio must be >= 0, got {sampling_ratio}')
    starts = torch.as_tensor(starts, dtype=torch.float64).reshape(-1).cpu()
    ends = torch.as_tensor(ends, dtype=torch.float64).reshape(-1).cpu()
    if starts.shape != ends.shape:
        raise ValueError(f'Align1D: {starts.numel()} starts but {ends.numel()} ends')
    roi_len = torch.clamp(ends - starts, min=1.0)
    bin_size = roi_len / pooled_size
    if sampling_ratio > 0:
        grid = torch.full_like(roi_len, float(sampling_ratio))
    else:
        grid = torch.ceil(roi_len / pooled_size)

    pieces = []
    # Group rois by their sample count so each group is one dense vectorised block.
    for g in torch.unique(grid).tolist():
        rois = torch.nonzero(grid == g).reshape(-1)
        s, b = starts[rois, None, None], bin_size[rois, None, None]
        p = torch.arange(pooled_size, dtype=torch.float64)[None, :, None]
        i = torch.arange(int(g), dtype=torch.float64)[None, None, :]
        t = (s + p * b) + ((i + 0.5) * b) / g
        inside = (t >= -1.0) & (t <= length)
        t = torch.clamp(t, min=0.0)
        lo = torch.floor(t)
        at_edge = lo >= length - 1
        lo = torch.where(at_edge, torch.full_like(lo, length - 1), lo)
        hi = torch.where(at_edge, lo, lo + 1)
        frac = torch.where(at_edge, torch.zeros_like(t), t - lo)
        shape = t.shape
        roi_idx = rois[:, None, None].expand(shape)
        bin_idx = torch.arange(pooled_size)[None, :, None].expand(shape)
        for col, weight in ((lo, 1.0 - frac), (hi, frac)):
            keep = inside & (weight != 0)
            pieces.append((roi_idx[keep], bin_idx[keep], col[keep].long(), weight[keep] / g))
    if not pieces:
        empty = torch.zeros(0, dtype=torch.long)
        return empty, empty, empty, torch.zeros(0, dtype=torch.float64)
    roi, bin_, col, weight = (torch.cat(parts) for parts in zip(*pieces))
    return roi, bin_, col, weight


def align1d_weights(starts: torch.Tensor, ends: torch.Tensor, length: int, pooled_size: int,
                    sampling_ratio: int = 0) -> torch.Tensor:
    """Dense float64 interpolation matrix ``W [K, P, T]`` of Align1D for the given rois."""
    roi, bin_, col, weight = align1d_samples(starts, ends, length, pooled_size, sampling_ratio)
    num_rois = torch.as_tensor(starts).numel()
    flat = torch.zeros(num_rois * pooled_size * length, dtype=torch.float64)
    flat.index_add_(0, (roi * pooled_size + bin_) * length + col, weight)
    return flat.view(num_rois, pooled_size, length)


def align1d(x: torch.Tensor, rois: torch.Tensor, pooled_size: int,
            sampling_ratio: int = 0) -> torch.Tensor:
    """Align1D of ``x [B, C, T]`` over ``rois [K, 3] = (batch_idx, start, end)`` -> ``[K, C, P]``.

    Generic (uncached) form; differentiable in ``x``.
    """
    if x.dim() != 3:
        raise ValueError(f'align1d expects x [B, C, T], got {list(x.shape)}')
    if rois.dim() != 2 or rois.shape[1] != 3:
        raise ValueError(f'align1d expects rois [K, 3] (batch_idx, start, end), got '
                         f'{list(rois.shape)}')
    rois_cpu = rois.detach().to('cpu', torch.float64)
    batch_idx = rois_cpu[:, 0].long()
    if batch_idx.numel() and (batch_idx.min() < 0 or batch_idx.max() >= x.shape[0]):
        raise ValueError(f'align1d: roi batch indices must lie in [0, {x.shape[0]}), got '
                         f'[{int(batch_idx.min())}, {int(batch_idx.max())}]')
    weights = align1d_weights(rois_cpu[:, 1], rois_cpu[:, 2], x.shape[2], pooled_size,
                              sampling_ratio).to(x.device, x.dtype)
    return torch.einsum('kpt,kct->kcp', weights, x[batch_idx.to(x.device)])


class Align1D(nn.Module):
    """Module form of :func:`align1d` (the official ``Align1DLayer(pooled_size, ratio)``)."""

    def __init__(self, pooled_size: int, sampling_ratio: int = 0) -> None:
        super().__init__()
        self.pooled_size = pooled_size
        self.sampling_ratio = sampling_ratio

    def forward(self, x: torch.Tensor, rois: torch.Tensor) -> torch.Tensor:
        return align1d(x, rois, self.pooled_size, self.sampling_ratio)

    def extra_repr(self) -> str:
        return f'pooled_size={self.pooled_size}, sampling_ratio={self.sampling_ratio}'


def gtad_anchor_bounds(temporal_dim: int, max_duration: int,
                       expand_ratio: float = 0.5) -> Tuple[torch.Tensor, torch.Tensor]:
    """SGAlign roi bounds ``[D, T]`` (duration d, start s), float64.

    Cell (d, s) covers snippets s .. s+d (inclusive end) and is widened by ``expand_ratio * (d+1)``
    on both sides: ``[s - (d+1)/2, s + d + (d+1)/2]`` for the official 0.5. Cells with
    ``s + d >= T`` get the official ``(0, 0)`` roi (still aligned: length clamps to 1).
    """
    d = torch.arange(max_duration, dtype=torch.float64)[:, None]
    s = torch.arange(temporal_dim, dtype=torch.float64)[None, :]
    center_len = d + 1
    valid = (s + d) < temporal_dim
    starts = torch.where(valid, s - center_len * expand_ratio, torch.zeros(()).double())
    ends = torch.where(valid, (s + d) + center_len * expand_ratio, torch.zeros(()).double())
    return starts, ends


class SparseOperator(torch.autograd.Function):
    """``A @ Z`` for a fixed sparse ``A`` with a precomputed ``A^T`` for the backward pass."""

    @staticmethod
    def forward(ctx, dense: torch.Tensor, matrix: torch.Tensor,  # type: ignore[override]
                matrix_t: torch.Tensor) -> torch.Tensor:
        ctx.matrix_t = matrix_t
        return torch.sparse.mm(matrix, dense)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        grad_dense = torch.sparse.mm(ctx.matrix_t, grad.contiguous()) \
            if ctx.needs_input_grad[0] else None
        return grad_dense, None, None


def sparse_matmul(matrix: Tuple[torch.Tensor, torch.Tensor], dense: torch.Tensor) -> torch.Tensor:
    """``A @ dense`` with ``matrix = (A, A^T)`` sparse CSR; differentiable in ``dense``."""
    return SparseOperator.apply(dense.contiguous(), matrix[0], matrix[1])


def _csr_pair(rows: torch.Tensor, cols: torch.Tensor, values: torch.Tensor, shape: Tuple[int, int],
              dtype: torch.dtype, device: torch.device) -> Tuple[torch.Tensor, torch.Tensor]:
    """(A, A^T) as CSR from unique (row, col) entries; sorting makes the layout deterministic."""
    pairs = []
    for r, c, (n_r, n_c) in ((rows, cols, shape), (cols, rows, shape[::-1])):
        order = torch.argsort(r * n_c + c)
        coo = torch.sparse_coo_tensor(torch.stack([r[order], c[order]]), values[order],
                                      (n_r, n_c), is_coalesced=True)
        pairs.append(coo.to_sparse_csr().to(device=device, dtype=dtype))
    return pairs[0], pairs[1]


@dataclass(frozen=True)
class SGAlignMatrices:
    """Fixed Align1D matrices of SGAlign for one (T, D, bins) setting.

    ``fused`` maps ``Z [(r, t), N]`` to cells ``[(d, s), N]``, r over the inner then the context
    bins (the conv-first path). ``inner``/``context`` map features ``[t, N]`` to
    ``[(r, d, s), N]`` (the plain path). Each is a CSR pair ``(A, A^T)``.
    """
    temporal_dim: int
    max_duration: int
    inner_bins: int
    context_bins: int
    fused: Tuple[torch.Tensor, torch.Tensor]
    inner: Tuple[torch.Tensor, torch.Tensor]
    context: Optional[Tuple[torch.Tensor, torch.Tensor]]


_CACHE: Dict[tuple, SGAlignMatrices] = {}
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 8


def _cell_terms(temporal_dim: int, max_duration: int, bins: int, sampling_ratio: int,
                expand_ratio: float) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor,
                                              torch.Tensor]:
    """Merged (cell, bin, col, weight) terms, cell = d * T + s, for one bin count."""
    starts, ends = gtad_anchor_bounds(temporal_dim, max_duration, expand_ratio)
    cell, bin_, col, weight = align1d_samples(starts.reshape(-1), ends.reshape(-1), temporal_dim,
                                              bins, sampling_ratio)
    # Merge repeated (cell, bin, col) terms: dense per-cell rows, summed in a fixed order.
    key = (cell * bins + bin_) * temporal_dim + col
    uniq, inverse = torch.unique(key, return_inverse=True)
    merged = torch.zeros(uniq.numel(), dtype=torch.float64).index_add_(0, inverse, weight)
    col = uniq % temporal_dim
    bin_ = (uniq // temporal_dim) % bins
    cell = uniq // (temporal_dim * bins)
    return cell, bin_, col, merged


def sgalign_matrices(temporal_dim: int, max_duration: int, inner_bins: int, context_bins: int,
                     sampling_ratio: int = 0, expand_ratio: float = 0.5,
                     dtype: torch.dtype = torch.float32,
                     device: torch.device | str = 'cpu') -> SGAlignMatrices:
    """Cached SGAlign matrices (built once per setting, dtype and device; deterministic)."""
    device = torch.device(device)
    key = (temporal_dim, max_duration, inner_bins, context_bins, sampling_ratio, expand_ratio,
           dtype, str(device))
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
    if hit is not None:
        return hit
    num_cells = temporal_dim * max_duration
    total_bins = inner_bins + context_bins
    fused_terms = []
    plain = []
    for offset, bins in ((0, inner_bins), (inner_bins, context_bins)):
        if bins == 0:
            plain.append(None)
            continue
        cell, bin_, col, weight = _cell_terms(temporal_dim, max_duration, bins, sampling_ratio,
                                              expand_ratio)
        fused_terms.append((cell, (offset + bin_) * temporal_dim + col, weight))
        plain.append(_csr_pair(bin_ * num_cells + cell, col, weight,
                               (bins * num_cells, temporal_dim), dtype, device))
    rows, cols, values = (torch.cat(parts) for parts in zip(*fused_terms))
    fused = _csr_pair(rows, cols, values, (num_cells, total_bins * temporal_dim), dtype, device)
    result = SGAlignMatrices(temporal_dim, max_duration, inner_bins, context_bins, fused,
                             plain[0], plain[1])
    with _CACHE_LOCK:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = result
    return result


def clear_sgalign_cache() -> None:
    """Drop every cached SGAlign matrix (e.g. after moving a model between devices)."""
    with _CACHE_LOCK:
        _CACHE.clear()

