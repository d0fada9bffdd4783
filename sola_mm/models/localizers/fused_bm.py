"""BMN's boundary-matching (BM) layer with the Conv3d applied first: same outputs, ~1/40 the FLOPs.

MMAction2's BMN multiplies the ``[B, C, T]`` features by a dense sampling matrix ``[T, N * D * S]``
(``sample_mask``: N samples per proposal, D durations, S starts; about 1.5% non-zero, 128 MB at
the ActivityNet shape), materialises ``[B, C, N, D, S]`` and contracts it with a Conv3d whose
kernel spans the N samples (``x_3d_p.0``, weight ``[H, C, N, 1, 1]``). Both steps are linear, so
:class:`FusedBoundaryMatching` applies the Conv3d weights per sample first,
``Z[b, (t, n), h] = sum_c W[h, c, n] x[b, c, t]`` (one ``[B * T, C] @ [C, N * H]`` matmul), then
the sparse interpolation ``out[b, (d, s), h] = sum_(t, n) M[t, n, d, s] Z[b, (t, n), h]`` (about 94
non-zeros per row at the ActivityNet shape), and never builds the ``[B, C, N, D, S]`` tensor.

The sampling weights are MMAction2's (``BMN._get_interp1d_mask``) rule by rule, vectorised, in
float64 with the same accumulation order and then rounded to float32 as MMAction2 stores them, so
the matrix is bit-identical to ``sample_mask`` (tests/models/test_fused_bm.py).

Checkpoints: the parameters and their names are MMAction2's. The ``sample_mask`` key is rebuilt,
never read: loading ignores it (after checking its shape), and the fused layer writes checkpoints
without it (~7x smaller at the ActivityNet shape) unless ``sample_mask_in_state_dict=True``.
MMAction2's ``BMN`` loads such a checkpoint through mmengine's ``load_checkpoint`` /
``Runner(load_from=...)`` (``strict=False``: a "missing key sample_mask" warning, and BMN keeps
the mask it built itself, the same values); for a strict loader re-save with the key (see
docs/performance.md).
"""
from __future__ import annotations

import functools
from typing import Optional, Tuple

import numpy as np
import torch
from torch import nn

from ..ops.align1d import SparsePair, _csr_pair, batched_sparse_matmul, sparse_dtype
from ..ops.inference_chunks import check_chunk_size, per_chunk

__all__ = ['bm_sampling_entries', 'bm_sample_mask', 'FusedBoundaryMatching']


@functools.lru_cache(maxsize=8)
def bm_sampling_entries(tscale: int, num_samples: int, num_samples_per_bin: int,
                        boundary_ratio: float) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Non-zero entries of BMN's sampling matrix as ``(cell, col, value)``.

    ``cell = d * T + s`` (duration d, start s), ``col = n * T + t`` (sample n, snippet t) and
    ``value`` is MMAction2's float32 weight (as float64), so that ``sample_mask.view(T, N, D, S)
    [t, n, d, s] == value``. Only cells with ``s + d < T`` have entries.
    """
    T, N, K = tscale, num_samples, num_samples_per_bin
    d, s = np.nonzero(np.arange(T)[:, None] + np.arange(T)[None, :] < T)  # valid cells, d major
    center_len = d.astype(np.float64) + 1
    seg_tmin = s - center_len * boundary_ratio
    seg_tmax = (s + d) + center_len * boundary_ratio
    step = (seg_tmax - seg_tmin) / (N * K - 1.0)
    i = np.arange(N * K, dtype=np.float64)
    sample = seg_tmin[:, None] + step[:, None] * i[None, :]  # [cells, N * K]
    frac, down = np.modf(sample)
    upper = np.ceil(sample)
    # each sample adds (1 - frac) at int(down), then frac at int(upper), in sample order
    targets = np.stack([down, upper], axis=-1).astype(np.int64)  # int() truncates: -0.0 -> 0
    weights = np.stack([1 - frac, frac], axis=-1)
    cell = np.broadcast_to((d * T + s)[:, None, None], targets.shape)
    col = np.broadcast_to((np.arange(N * K) // K)[None, :, None] * T, targets.shape) + targets
    keep = (targets >= 0) & (targets <= T - 1)
    key = cell[keep] * (N * T) + col[keep]  # row-major order = MMAction2's accumulation order
    unique, inverse = np.unique(key, return_inverse=True)
    acc = np.zeros(unique.size)
    np.add.at(acc, inverse.reshape(-1), weights[keep])  # sequential: same float64 sums
    value = (1.0 / K * acc).astype(np.float32).astype(np.float64)
    nonzero = value != 0
    unique, value = unique[nonzero], value[nonzero]
    return unique // (N * T), unique % (N * T), value


@functools.lru_cache(maxsize=8)
def _bm_csr(tscale: int, num_samples: int, num_samples_per_bin: int, boundary_ratio: float,
            dtype: torch.dtype, device: str) -> SparsePair:
    """CSR pair ``(A, A^T)``, ``A [(d, s), (t, n)]`` (columns snippet-major, the layout the
    per-sample projection comes out in); cached per setting, dtype and device (a module-level
    cache: sparse CSR tensors cannot be deep-copied, as EMA copies a model)."""
    cell, col, value = bm_sampling_entries(tscale, num_samples, num_samples_per_bin,
                                           boundary_ratio)
    col = (col % tscale) * num_samples + col // tscale
    return _csr_pair(cell, col, value, (tscale * tscale, num_samples * tscale), dtype,
                     torch.device(device))


def bm_sample_mask(tscale: int, num_samples: int,
                   entries: Tuple[np.ndarray, np.ndarray, np.ndarray]) -> torch.Tensor:
    """MMAction2's dense ``sample_mask`` ``[T, N * D * S]`` (float32) from the sparse entries of
    :func:`bm_sampling_entries`."""
    T, N = tscale, num_samples
    cell, col, value = entries
    dense = torch.zeros(T, N, T * T)
    dense[torch.from_numpy(col % T), torch.from_numpy(col // T), torch.from_numpy(cell)] = \
        torch.from_numpy(value).float()
    return dense.view(T, -1)


class FusedBoundaryMatching:
    """Mixin for ``mmaction.models.localizers.BMN`` subclasses: the conv-first BM layer.

    Put it before ``BMN`` in the bases and pass ``fused_bm`` (default True),
    ``sample_mask_in_state_dict`` (default False) and ``head_chunk_size`` (default 1: videos per
    pass of the 2-D head without gradients, :mod:`..ops.inference_chunks`; None = whole batch)
    as keyword arguments. ``fused_bm=False`` is MMAction2's order (dense ``sample_mask``
    parameter, built here vectorised, bit-identical).
    """

    def __init__(self, *args, fused_bm: bool = True, sample_mask_in_state_dict: bool = False,
                 head_chunk_size: Optional[int] = 1, **kwargs) -> None:
        # read by _get_interp1d_mask, which BMN.__init__ calls before nn.Module is set up
        object.__setattr__(self, 'fused_bm', bool(fused_bm))
        super().__init__(*args, **kwargs)
        self.sample_mask_in_state_dict = bool(sample_mask_in_state_dict)
        self.head_chunk_size = check_chunk_size(type(self).__name__, head_chunk_size)

    # ------------------------------------------------------------------ sampling matrix
    def _get_interp1d_mask(self) -> None:
        """Replaces BMN's Python loop: the sparse entries always (cached), the dense parameter only
        for ``fused_bm=False`` (MMAction2's layer)."""
        bm_sampling_entries(self.tscale, self.num_samples, self.num_samples_per_bin,
                            self.boundary_ratio)
        if not self.fused_bm:
            self.sample_mask = nn.Parameter(self._dense_sample_mask(), requires_grad=False)

    def _dense_sample_mask(self) -> torch.Tensor:
        return bm_sample_mask(self.tscale, self.num_samples, bm_sampling_entries(
            self.tscale, self.num_samples, self.num_samples_per_bin, self.boundary_ratio))

    def _bm_matrices(self, like: torch.Tensor) -> SparsePair:
        return _bm_csr(self.tscale, self.num_samples, self.num_samples_per_bin,
                       float(self.boundary_ratio), sparse_dtype(like.dtype), str(like.device))

    # ------------------------------------------------------------------ forward
    def _fused_bm_projection(self, x: torch.Tensor) -> torch.Tensor:
        """The per-sample projection ``Z [B, (t, n), H]`` of ``x [B, C, T]`` through the Conv3d
        weights: one ``[B * T, C] @ [C, N * H]`` matmul for the whole batch."""
        weight = self.x_3d_p[0].weight
        batch, channels, length = x.shape
        hidden = weight.shape[0]
        per_sample = weight.reshape(hidden, channels, self.num_samples).permute(1, 2, 0)
        per_sample = per_sample.reshape(channels, self.num_samples * hidden)
        z = torch.mm(x.transpose(1, 2).reshape(batch * length, channels), per_sample)
        return z.view(batch, length * self.num_samples, hidden)  # [B, (t, n), H], no copy

    def _fused_bm_conv3d(self, z: torch.Tensor) -> torch.Tensor:
        """``relu(x_3d_p[0](BM(x)).squeeze(2))`` from the projection ``z`` without the BM tensor:
        ``[B, (t, n), H] -> [B, H, D, S]`` (a view of channels-last ``[B, D, S, H]`` memory, which
        the 2-D convs run fastest on). x_3d_p[1] (ReLU) is applied inside the sparse product,
        video by video."""
        batch, _, hidden = z.shape
        out = batched_sparse_matmul(self._bm_matrices(z), z, self.x_3d_p[0].bias, relu=True)
        return out.view(batch, self.tscale, self.tscale, hidden).permute(0, 3, 1, 2)

    def _forward(self, x: torch.Tensor):
        if not self.fused_bm:
            return super()._forward(x)
        base_feature = self.x_1d_b(x)
        start = self.x_1d_s(base_feature).squeeze(1)
        end = self.x_1d_e(base_feature).squeeze(1)
        # the projection for the whole batch, then the rest of the head in chunks of videos at
        # test time (.ops.inference_chunks)
        z = self._fused_bm_projection(self.x_1d_p(base_feature))
        confidence_map = per_chunk(self._fused_bm_head, z, self.head_chunk_size)
        return confidence_map, start, end

    def _fused_bm_head(self, z: torch.Tensor) -> torch.Tensor:
        return self.x_2d_p(self._fused_bm_conv3d(z))

    # ------------------------------------------------------------------ checkpoints
    def _save_to_state_dict(self, destination, prefix, keep_vars) -> None:
        super()._save_to_state_dict(destination, prefix, keep_vars)
        if self.fused_bm and self.sample_mask_in_state_dict:
            destination[prefix + 'sample_mask'] = self._dense_sample_mask()

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs) -> None:
        key = prefix + 'sample_mask'
        if key in state_dict:  # rebuilt from the config, never read
            stored = state_dict.pop(key)
            expected = (self.tscale, self.num_samples * self.tscale * self.tscale)
            if tuple(stored.shape) != expected:
                error_msgs.append(
                    f'{type(self).__name__}: checkpoint {key} has shape {list(stored.shape)}, '
                    f'the config (temporal_dim={self.tscale}, num_samples={self.num_samples}) '
                    f'expects {list(expected)}')
        if not self.fused_bm:  # MMAction2's layer has the parameter: give it its own values
            state_dict[key] = self.sample_mask.detach().clone()
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)
