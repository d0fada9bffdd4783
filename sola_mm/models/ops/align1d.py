"""Align1D (G-TAD's 1-D RoIAlign) in pure PyTorch, as fixed interpolation matrices.

Why: G-TAD ships Align1D as a CUDA extension. Its output is linear in the features, with weights
that depend only on the rois, so here the op is a weight matrix ``W[k, p, t]`` (``y[k, c, p] =
sum_t W[k, p, t] x[b_k, c, t]``), built once in float64 and reused; the input gradient ``W^T g``
then comes from autograd, exactly and deterministically.

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
import warnings
from dataclasses import dataclass
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np

import torch
from torch import nn

ArrayLike = Union[torch.Tensor, np.ndarray, Sequence[float]]

__all__ = [
    'align1d_samples', 'align1d_weights', 'align1d', 'Align1D', 'gtad_anchor_bounds',
    'SparseOperator', 'sparse_matmul', 'BatchedSparseOperator', 'batched_sparse_matmul',
    'SGAlignMatrices', 'sgalign_matrices', 'sparse_dtype',
    'clear_sgalign_cache'
]


def align1d_samples(starts: ArrayLike, ends: ArrayLike, length: int, pooled_size: int,
                    sampling_ratio: int = 0
                    ) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every non-zero interpolation weight of Align1D as (roi, bin, column, weight).

    Args:
        starts, ends: roi bounds ``[K]`` in feature-index units (used as float64).
        length: number of feature columns T.
        pooled_size: number of output bins P.
        sampling_ratio: samples per bin; 0 means adaptive ``ceil(L / P)`` per roi.

    Returns:
        ``roi``, ``bin``, ``col`` (int64) and ``weight`` (float64, the sum over the bin's samples
        of ``interp_weight / G``), one entry per distinct (roi, bin, col), sorted by them.
    """
    if length < 1 or pooled_size < 1:
        raise ValueError(f'Align1D: need length >= 1 and pooled_size >= 1, got {length}, '
                         f'{pooled_size}')
    if sampling_ratio < 0:
        raise ValueError(f'Align1D: sampling_ratio must be >= 0, got {sampling_ratio}')
    starts = _as_float64(starts)
    ends = _as_float64(ends)
    if starts.shape != ends.shape:
        raise ValueError(f'Align1D: {starts.size} starts but {ends.size} ends')
    roi_len = np.maximum(ends - starts, 1.0)
    bin_size = roi_len / pooled_size
    if sampling_ratio > 0:
        grid = np.full_like(roi_len, float(sampling_ratio))
    else:
        grid = np.ceil(roi_len / pooled_size)

    keys, weights = [], []
    # Rois grouped by their sample count G: each group is one dense [rois, P, G] block.
    for g in np.unique(grid):
        rois = np.flatnonzero(grid == g)
        s, b = starts[rois, None, None], bin_size[rois, None, None]
        p = np.arange(pooled_size, dtype=np.float64)[None, :, None]
        i = np.arange(int(g), dtype=np.float64)[None, None, :]
        t = (s + p * b) + ((i + 0.5) * b) / g
        inside = (t >= -1.0) & (t <= length)
        t = np.maximum(t, 0.0)
        lo = np.floor(t)
        at_edge = lo >= length - 1
        lo[at_edge] = length - 1
        frac = np.where(at_edge, 0.0, t - lo)
        hi = np.where(at_edge, lo, lo + 1)
        row = (rois[:, None, None] * pooled_size + np.arange(pooled_size)[None, :, None]) * length
        for col, weight in ((lo, 1.0 - frac), (hi, frac)):
            keep = inside & (weight != 0)
            keys.append((row + col.astype(np.int64))[keep])
            weights.append(weight[keep] / g)
    if not keys:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty, np.zeros(0)
    key, inverse = np.unique(np.concatenate(keys), return_inverse=True)
    weight = np.bincount(inverse.reshape(-1), weights=np.concatenate(weights), minlength=key.size)
    return key // (pooled_size * length), (key // length) % pooled_size, key % length, weight


def align1d_weights(starts: ArrayLike, ends: ArrayLike, length: int, pooled_size: int,
                    sampling_ratio: int = 0) -> torch.Tensor:
    """Dense float64 interpolation matrix ``W [K, P, T]`` of Align1D for the given rois."""
    roi, bin_, col, weight = align1d_samples(starts, ends, length, pooled_size, sampling_ratio)
    num_rois = _as_float64(starts).size
    dense = np.zeros((num_rois, pooled_size, length))
    dense[roi, bin_, col] = weight
    return torch.from_numpy(dense)


def _as_float64(values: ArrayLike) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().double().numpy()
    return np.asarray(values, dtype=np.float64).reshape(-1)


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
                       expand_ratio: float = 0.5) -> Tuple[np.ndarray, np.ndarray]:
    """SGAlign roi bounds ``[D, T]`` (duration d, start s), float64.

    Cell (d, s) covers snippets s .. s+d (inclusive end) and is widened by ``expand_ratio * (d+1)``
    on both sides: ``[s - (d+1)/2, s + d + (d+1)/2]`` for the official 0.5. Cells with
    ``s + d >= T`` get the official ``(0, 0)`` roi (still aligned: length clamps to 1).
    """
    d = np.arange(max_duration, dtype=np.float64)[:, None]
    s = np.arange(temporal_dim, dtype=np.float64)[None, :]
    center_len = d + 1
    valid = (s + d) < temporal_dim
    starts = np.where(valid, s - center_len * expand_ratio, 0.)
    ends = np.where(valid, (s + d) + center_len * expand_ratio, 0.)
    return starts, ends


def _in_matrix_dtype(dense: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """The sparse kernels (MKL) have no 16-bit form: under autocast the product runs in the
    matrix's dtype (float32) and returns float32."""
    return dense if dense.dtype == matrix.dtype else dense.to(matrix.dtype)


class SparseOperator(torch.autograd.Function):
    """``A @ Z`` for a fixed sparse ``A`` with a precomputed ``A^T`` for the backward pass."""

    @staticmethod
    def forward(ctx, dense: torch.Tensor, matrix: torch.Tensor,  # type: ignore[override]
                matrix_t: torch.Tensor) -> torch.Tensor:
        ctx.matrix_t, ctx.dense_dtype = matrix_t, dense.dtype
        with torch.autocast(dense.device.type, enabled=False):
            return torch.sparse.mm(matrix, _in_matrix_dtype(dense, matrix))

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        if not ctx.needs_input_grad[0]:
            return None, None, None
        with torch.autocast(grad.device.type, enabled=False):
            grad_dense = torch.sparse.mm(ctx.matrix_t,
                                         _in_matrix_dtype(grad, ctx.matrix_t).contiguous())
        return grad_dense.to(ctx.dense_dtype), None, None


def sparse_matmul(matrix: Tuple[torch.Tensor, torch.Tensor], dense: torch.Tensor) -> torch.Tensor:
    """``A @ dense`` with ``matrix = (A, A^T)`` sparse CSR; differentiable in ``dense``."""
    return SparseOperator.apply(dense.contiguous(), matrix[0], matrix[1])


class BatchedSparseOperator(torch.autograd.Function):
    """``A @ Z[b]`` for every b of ``Z [B, K, N]``, fixed sparse ``A``, output ``[B, M, N]``.

    One product per batch element keeps the output batch-major, so a ``[B, M, N]`` result viewed
    as ``[B, D, T, N]`` is the channels-last layout of ``[B, N, D, T]`` that the 2-D head's convs
    run fastest on, without a transposing copy.
    """

    @staticmethod
    def forward(ctx, dense: torch.Tensor, matrix: torch.Tensor,  # type: ignore[override]
                matrix_t: torch.Tensor) -> torch.Tensor:
        ctx.matrix_t, ctx.dense_dtype = matrix_t, dense.dtype
        dense = _in_matrix_dtype(dense, matrix)
        out = dense.new_empty(dense.shape[0], matrix.shape[0], dense.shape[2])
        with torch.autocast(dense.device.type, enabled=False):
            for b in range(dense.shape[0]):
                torch.mm(matrix, dense[b], out=out[b])
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        if not ctx.needs_input_grad[0]:
            return None, None, None
        grad = _in_matrix_dtype(grad, ctx.matrix_t)
        grad_dense = grad.new_empty(grad.shape[0], ctx.matrix_t.shape[0], grad.shape[2])
        with torch.autocast(grad.device.type, enabled=False):
            for b in range(grad.shape[0]):
                torch.mm(ctx.matrix_t, grad[b].contiguous(), out=grad_dense[b])
        return grad_dense.to(ctx.dense_dtype), None, None


def batched_sparse_matmul(matrix: Tuple[torch.Tensor, torch.Tensor],
                          dense: torch.Tensor) -> torch.Tensor:
    """``A @ dense[b]`` for each b of ``dense [B, K, N]`` -> ``[B, M, N]``; ``matrix = (A, A^T)``
    sparse CSR; differentiable in ``dense``."""
    if dense.dim() != 3 or dense.shape[1] != matrix[0].shape[1]:
        raise ValueError(f'batched_sparse_matmul: expected dense [B, {matrix[0].shape[1]}, N], '
                         f'got {list(dense.shape)}')
    return BatchedSparseOperator.apply(dense.contiguous(), matrix[0], matrix[1])


def sparse_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype of a fixed sparse matrix applied to ``dtype`` data: float64 stays, anything
    else is float32."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def _csr_pair(rows: np.ndarray, cols: np.ndarray, values: np.ndarray, shape: Tuple[int, int],
              dtype: torch.dtype, device: torch.device) -> Tuple[torch.Tensor, torch.Tensor]:
    """(A, A^T) as CSR from unique (row, col) entries, sorted so the layout is deterministic."""
    pairs = []
    for r, c, (n_r, n_c) in ((rows, cols, shape), (cols, rows, shape[::-1])):
        order = np.argsort(r * n_c + c, kind='stable')
        crow = np.zeros(n_r + 1, dtype=np.int64)
        crow[1:] = np.cumsum(np.bincount(r, minlength=n_r))
        with warnings.catch_warnings():
            warnings.filterwarnings('ignore', message='Sparse CSR tensor support is in beta')
            csr = torch.sparse_csr_tensor(torch.from_numpy(crow), torch.from_numpy(c[order]),
                                          torch.from_numpy(values[order]), (n_r, n_c),
                                          check_invariants=True)
        pairs.append(csr.to(device=device, dtype=dtype))
    return pairs[0], pairs[1]


@dataclass(frozen=True)
class SGAlignMatrices:
    """Fixed Align1D matrices of SGAlign for one (T, D, bins) setting.

    ``fused`` maps ``Z [(t, r), N]`` to cells ``[(d, s), N]``, r over the inner then the context
    bins (the conv-first path; snippet-major columns, the layout the per-bin projection comes out
    in, so it needs no transposing copy). ``inner``/``context`` map features ``[t, N]`` to
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


def sgalign_matrices(temporal_dim: int, max_duration: int, inner_bins: int, context_bins: int,
                     sampling_ratio: int = 0, expand_ratio: float = 0.5,
                     dtype: torch.dtype = torch.float32,
                     device: torch.device | str = 'cpu') -> SGAlignMatrices:
    """Cached SGAlign matrices (built once per setting, dtype and device; deterministic).
    16-bit dtypes (autocast) get float32 matrices: the sparse kernels have no 16-bit form."""
    device = torch.device(device)
    dtype = sparse_dtype(dtype)
    key = (temporal_dim, max_duration, inner_bins, context_bins, sampling_ratio, expand_ratio,
           dtype, str(device))
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
    if hit is not None:
        return hit
    num_cells = temporal_dim * max_duration
    total_bins = inner_bins + context_bins
    starts, ends = gtad_anchor_bounds(temporal_dim, max_duration, expand_ratio)
    fused_terms = []
    plain = []
    for offset, bins in ((0, inner_bins), (inner_bins, context_bins)):
        if bins == 0:
            plain.append(None)
            continue
        # cell = d * T + s
        cell, bin_, col, weight = align1d_samples(starts, ends, temporal_dim, bins,
                                                  sampling_ratio)
        fused_terms.append((cell, col * total_bins + offset + bin_, weight))
        plain.append(_csr_pair(bin_ * num_cells + cell, col, weight,
                               (bins * num_cells, temporal_dim), dtype, device))
    rows, cols, values = (np.concatenate(parts) for parts in zip(*fused_terms))
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

