"""Temporal IoU (tIoU) exactly as the official ActivityNet evaluators compute it.

The official ``segment_iou`` (``Evaluation/utils.py`` of activitynet/ActivityNet) is::

    inter = clip(min(e_p, e_g) - max(s_p, s_g), 0)
    union = (e_g - s_g) + (e_p - s_p) - inter
    tiou  = inter / union

with no ``+1``, no epsilon and no clipping of the segments. A zero-length prediction against a
zero-length ground truth (or a negative-length prediction whose length is exactly minus the GT
length) gives ``0 / 0 = NaN``; that NaN is kept here on purpose, because the detection evaluator
treats it as a match (``NaN < thr`` is False) and the proposal evaluator as a miss
(``NaN >= thr`` is False). Callers decide; see ``docs/evaluation.md``.

The order of the floating-point operations is the official one, so values are bitwise equal to
the official ones. These functions are the only place where sola_mm computes evaluation tIoU.
"""
from __future__ import annotations

import numpy as np

__all__ = ['paired_tiou', 'pairwise_tiou']


def _as_segments(x: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1 and arr.shape[0] == 2:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f'{name}: expected segments of shape [N, 2] (start, end), '
                         f'got shape {arr.shape}')
    return arr


def paired_tiou(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """tIoU of row ``i`` of ``pred`` with row ``i`` of ``gt`` (elementwise, same length).

    Args:
        pred: ``[K, 2]`` predicted segments (start, end).
        gt: ``[K, 2]`` ground-truth segments.

    Returns:
        ``[K]`` float64 tIoU; NaN where the union is exactly 0 (see module docstring).
    """
    p = _as_segments(pred, 'pred')
    g = _as_segments(gt, 'gt')
    if p.shape != g.shape:
        raise ValueError(f'paired_tiou: pred {p.shape} and gt {g.shape} must have the same shape')
    inter = (np.minimum(p[:, 1], g[:, 1]) - np.maximum(p[:, 0], g[:, 0])).clip(0)
    union = (g[:, 1] - g[:, 0]) + (p[:, 1] - p[:, 0]) - inter
    with np.errstate(divide='ignore', invalid='ignore'):
        return inter / union


def pairwise_tiou(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """tIoU of every predicted segment with every ground-truth segment.

    Args:
        pred: ``[N, 2]`` predicted segments.
        gt: ``[M, 2]`` ground-truth segments.

    Returns:
        ``[N, M]`` float64 matrix, ``out[i, j] = tIoU(pred[i], gt[j])`` (NaN for 0/0).
    """
    p = _as_segments(pred, 'pred')
    g = _as_segments(gt, 'gt')
    inter = (np.minimum(p[:, None, 1], g[None, :, 1])
             - np.maximum(p[:, None, 0], g[None, :, 0])).clip(0)
    union = (g[None, :, 1] - g[None, :, 0]) + (p[:, None, 1] - p[:, None, 0]) - inter
    with np.errstate(divide='ignore', invalid='ignore'):
        return inter / union
