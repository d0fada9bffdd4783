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
from typing import Dict, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np

import torch
from torch import nn
from torch.autograd.function import once_differentiable

ArrayLike = Union[torch.Tensor, np.ndarray, Sequence[float]]

__all__ = [
    'align1d_samples', 'align1d_weights', 'align1d', 'Align1D', 'gtad_anchor_bounds',
    'SparsePair', 'sparse_matmul', 'BatchedSparseOperator', 'batched_sparse_matmul',
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


class SparsePair(NamedTuple):
    """A fixed sparse matrix ``A [M, K]`` stored by its distinct rows, for ``A @ Z`` and the
    backward ``A^T @ G``.

    ``matrix`` is the CSR ``[U, K]`` of the distinct rows, ``matrix_t`` its transpose, and
    ``rows [M]`` (None when every row is stored) gives the stored row of each row of ``A``:
    ``A @ Z = (matrix @ Z)[rows]`` and ``A^T @ G = matrix_t @ (rows^T G)``, the second factor a
    sum of the gradient rows that share a stored row.

    Why: all of G-TAD's invalid cells (``s + d >= T``) align the same official ``(0, 0)`` roi, so
    4,949 of the 10,000 rows of the ActivityNet matrix are one row (356k of its 1.13M non-zeros).
    In the backward product every one of those cells' gradient rows was read once per bin; summed
    first, the transposed product reads one row (the step gain is in docs/performance.md).
    """
    matrix: torch.Tensor
    matrix_t: torch.Tensor
    rows: Optional[torch.Tensor]

    @property
    def shape(self) -> Tuple[int, int]:
        return (self.matrix.shape[0] if self.rows is None else self.rows.numel(),
                self.matrix.shape[1])

    def to_dense(self) -> torch.Tensor:
        """``A`` as a dense tensor (for checks)."""
        dense = self.matrix.to_dense()
        return dense if self.rows is None else dense[self.rows]

    def scratch(self, like: torch.Tensor) -> Optional[torch.Tensor]:
        """A ``[U, N]`` buffer for the stored rows' products, or None when not needed."""
        return None if self.rows is None else like.new_empty(self.matrix.shape[0], like.shape[-1])

    def matmul_into(self, out: torch.Tensor, dense: torch.Tensor,
                    scratch: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``out [M, N] = A @ dense``. ``out`` is not read: with ``beta=0`` the product neither
        propagates what it held nor zero-fills it first, as ``torch.mm(out=)`` does."""
        if self.rows is None:
            return torch.addmm(out, self.matrix, dense, beta=0, out=out)
        if scratch is None:
            scratch = self.scratch(dense)
        torch.addmm(scratch, self.matrix, dense, beta=0, out=scratch)
        return torch.index_select(scratch, 0, self.rows, out=out)

    def t_matmul_into(self, out: torch.Tensor, grad: torch.Tensor,
                      scratch: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``out [K, N] = A^T @ grad``."""
        if self.rows is not None:
            if scratch is None:
                scratch = self.scratch(grad)
            grad = scratch.zero_().index_add_(0, self.rows, grad)
        return torch.addmm(out, self.matrix_t, grad.contiguous(), beta=0, out=out)


class BatchedSparseOperator(torch.autograd.Function):
    """``act(A @ Z[b] + bias)`` for every b of ``Z [B, K, N]``, fixed sparse ``A``, output
    ``[B, M, N]``; ``act`` is the identity or a ReLU.

    One product per batch element keeps the output batch-major, so a ``[B, M, N]`` result viewed
    as ``[B, D, T, N]`` is the channels-last layout of ``[B, N, D, T]`` that the 2-D head's convs
    run fastest on, without a transposing copy. The bias and the ReLU are applied to each
    element's product while it is still in cache, and the ReLU's mask to each element's gradient
    just before its transposed product, instead of three more passes over the whole ``[B, M, N]``
    map (327 MB at G-TAD's ActivityNet training shape).
    """

    @staticmethod
    def forward(ctx, dense: torch.Tensor, pair: SparsePair,  # type: ignore[override]
                bias: Optional[torch.Tensor], relu: bool) -> torch.Tensor:
        ctx.pair, ctx.dense_dtype, ctx.relu = pair, dense.dtype, relu
        dense = _in_matrix_dtype(dense, pair.matrix)
        out = dense.new_empty(dense.shape[0], pair.shape[0], dense.shape[2])
        scratch = pair.scratch(dense)
        if bias is not None:
            bias = bias.to(out.dtype)
        with torch.autocast(dense.device.type, enabled=False):
            for b in range(dense.shape[0]):
                pair.matmul_into(out[b], dense[b], scratch)
                if bias is not None:
                    out[b].add_(bias)
                if relu:
                    out[b].relu_()
        if relu:
            ctx.save_for_backward(out)
        return out

    @staticmethod
    @once_differentiable  # the products write into preallocated outputs
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        pair = ctx.pair
        grad = _in_matrix_dtype(grad, pair.matrix)
        out = ctx.saved_tensors[0] if ctx.relu else None
        need_dense, need_bias = ctx.needs_input_grad[0], ctx.needs_input_grad[2]
        grad_dense = grad.new_empty(grad.shape[0], pair.shape[1], grad.shape[2]) \
            if need_dense else None
        grad_bias = grad.new_zeros(grad.shape[2]) if need_bias else None
        scratch = pair.scratch(grad)
        with torch.autocast(grad.device.type, enabled=False):
            for b in range(grad.shape[0]):
                g = grad[b]
                if out is not None:
                    g = torch.ops.aten.threshold_backward(g, out[b], 0)
                if need_bias:
                    grad_bias += g.sum(0)
                if need_dense:
                    pair.t_matmul_into(grad_dense[b], g, scratch)
        if grad_dense is not None:
            grad_dense = grad_dense.to(ctx.dense_dtype)
        return grad_dense, None, grad_bias, None


def batched_sparse_matmul(matrix: SparsePair, dense: torch.Tensor,
                          bias: Optional[torch.Tensor] = None, relu: bool = False) -> torch.Tensor:
    """``act(A @ dense[b] + bias)`` for each b of ``dense [B, K, N]`` -> ``[B, M, N]``; ``A`` a
    fixed :class:`SparsePair`, ``bias [N]`` optional, ``act`` a ReLU when ``relu``;
    differentiable in ``dense`` and ``bias``."""
    if dense.dim() != 3 or dense.shape[1] != matrix.shape[1]:
        raise ValueError(f'batched_sparse_matmul: expected dense [B, {matrix.shape[1]}, N], got '
                         f'{list(dense.shape)}')
    return BatchedSparseOperator.apply(dense.contiguous(), matrix, bias, relu)


def sparse_matmul(matrix: SparsePair, dense: torch.Tensor) -> torch.Tensor:
    """``A @ dense`` for a fixed :class:`SparsePair` ``A`` and ``dense [K, N]``; differentiable in
    ``dense`` (the batched product with one element)."""
    return batched_sparse_matmul(matrix, dense.unsqueeze(0))[0]


def sparse_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype of a fixed sparse matrix applied to ``dtype`` data: float64 stays, anything
    else is float32."""
    return torch.float64 if dtype == torch.float64 else torch.float32


#: store a matrix by its distinct rows when that removes at least this share of its non-zeros
_DEDUP_MIN_SHARE = 0.1


def _distinct_rows(crow: np.ndarray, cols: np.ndarray, values: np.ndarray
                   ) -> Tuple[np.ndarray, np.ndarray]:
    """``(first, rows)``: the first row of each distinct row (in order) and, for every row, the
    index of its distinct row."""
    seen: Dict[bytes, int] = {}
    first, rows = [], np.empty(crow.size - 1, dtype=np.int64)
    for i in range(crow.size - 1):
        lo, hi = crow[i], crow[i + 1]
        key = cols[lo:hi].tobytes() + b'|' + values[lo:hi].tobytes()
        index = seen.setdefault(key, len(seen))
        if index == len(first):
            first.append(i)
        rows[i] = index
    return np.asarray(first, dtype=np.int64), rows


def _csr_pair(rows: np.ndarray, cols: np.ndarray, values: np.ndarray, shape: Tuple[int, int],
              dtype: torch.dtype, device: torch.device) -> SparsePair:
    """:class:`SparsePair` from unique (row, col) entries, sorted so the layout is
    deterministic; repeated rows are stored once when that saves enough work."""
    n_rows, n_cols = shape
    order = np.argsort(rows * n_cols + cols, kind='stable')
    rows, cols, values = rows[order], cols[order], values[order]
    crow = np.zeros(n_rows + 1, dtype=np.int64)
    crow[1:] = np.cumsum(np.bincount(rows, minlength=n_rows))
    first, row_map = _distinct_rows(crow, cols, values)
    counts = np.diff(crow)
    if first.size < n_rows and counts[first].sum() <= (1 - _DEDUP_MIN_SHARE) * values.size:
        keep = np.isin(rows, first)
        rows = np.searchsorted(first, rows[keep])  # the stored index of each kept entry
        cols, values = cols[keep], values[keep]
        n_rows = first.size
        crow = np.zeros(n_rows + 1, dtype=np.int64)
        crow[1:] = np.cumsum(np.bincount(rows, minlength=n_rows))
    else:
        row_map = None

    def csr(crow_, cols_, values_, size):
        with warnings.catch_warnings():
            warnings.filterwarnings('ignore', message='Sparse CSR tensor support is in beta')
            return torch.sparse_csr_tensor(torch.from_numpy(crow_), torch.from_numpy(cols_),
                                           torch.from_numpy(values_), size,
                                           check_invariants=True).to(device=device, dtype=dtype)

    t_order = np.argsort(cols * n_rows + rows, kind='stable')
    t_crow = np.zeros(n_cols + 1, dtype=np.int64)
    t_crow[1:] = np.cumsum(np.bincount(cols, minlength=n_cols))
    return SparsePair(csr(crow, cols, values, (n_rows, n_cols)),
                      csr(t_crow, rows[t_order], values[t_order], (n_cols, n_rows)),
                      None if row_map is None else torch.from_numpy(row_map).to(device))


@dataclass(frozen=True)
class SGAlignMatrices:
    """Fixed Align1D matrices of SGAlign for one (T, D, bins) setting.

    ``fused`` maps ``Z [(t, r), N]`` to cells ``[(d, s), N]``, r over the inner then the context
    bins (the conv-first path; snippet-major columns, the layout the per-bin projection comes out
    in, so it needs no transposing copy). ``inner``/``context`` map features ``[t, N]`` to
    ``[(r, d, s), N]`` (the plain path). Each is a :class:`SparsePair` ``(A, A^T)``.
    """
    temporal_dim: int
    max_duration: int
    inner_bins: int
    context_bins: int
    fused: SparsePair
    inner: SparsePair
    context: Optional[SparsePair]


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

