"""Straightforward per-class Python loop of the detection-AP algorithm (numpy only, slow).

This is the official evaluator's algorithm written the plain way: one class at a time, one
prediction at a time, one threshold at a time, walking the GTs of the prediction's video in
descending tIoU. It exists for two reasons:

* tests check the vectorised :func:`~.detection.average_precision_detection` against it on random
  inputs full of edge cases (ties, duplicates, 0/0 tIoU, videos outside the GT);
* ``tools/benchmark_eval.py`` uses it as the baseline the vectorised code is timed against.

It uses the same conventions as the vectorised code (stable score order, a NaN tIoU visited first
and matching unless ``nan_match=False``, GTs of equal tIoU visited in file order), so both must
give bitwise identical AP.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .detection import DetectionArrays, interpolated_average_precision
from .ground_truth import GroundTruth

__all__ = ['average_precision_detection_loop']


def _segment_tiou(pred: np.ndarray, gts: np.ndarray) -> np.ndarray:
    """tIoU of one prediction with ``[M, 2]`` GTs (official formula and operation order)."""
    inter = (np.minimum(pred[1], gts[:, 1]) - np.maximum(pred[0], gts[:, 0])).clip(0)
    union = (gts[:, 1] - gts[:, 0]) + (pred[1] - pred[0]) - inter
    with np.errstate(divide='ignore', invalid='ignore'):
        return inter / union


def average_precision_detection_loop(gt: GroundTruth, preds: DetectionArrays,
                                     tiou_thresholds: Sequence[float] | np.ndarray,
                                     nan_match: bool = True) -> np.ndarray:
    """Per-class AP ``[T, C]`` by plain loops (reference for the vectorised implementation)."""
    thresholds = [float(t) for t in np.asarray(tiou_thresholds, dtype=np.float64).reshape(-1)]
    n_thr = len(thresholds)
    n_cls = len(gt.classes)
    ap = np.zeros((n_thr, n_cls))
    for c in range(n_cls):
        gt_rows = np.flatnonzero(gt.label == c)
        npos = float(gt_rows.size)
        by_video: dict[int, np.ndarray] = {}
        for r in gt_rows:
            by_video.setdefault(int(gt.video[r]), [])
            by_video[int(gt.video[r])].append(r)
        by_video = {v: np.asarray(rows) for v, rows in by_video.items()}
        rows = np.flatnonzero(preds.label == c)
        if rows.size == 0:
            continue
        rows = rows[np.argsort(-preds.scores[rows], kind='stable')]
        locked = np.zeros((n_thr, gt.num_instances), dtype=bool)
        tp = np.zeros((n_thr, rows.size))
        fp = np.zeros((n_thr, rows.size))
        for i, p in enumerate(rows):
            cand = by_video.get(int(preds.video[p]))
            if cand is None:
                fp[:, i] = 1
                continue
            tiou = _segment_tiou(preds.segments[p], gt.segments[cand])
            key = np.where(np.isnan(tiou), np.inf, tiou)
            visit = np.argsort(-key, kind='stable')
            for t, thr in enumerate(thresholds):
                for j in visit:
                    value = tiou[j]
                    if np.isnan(value):
                        if not nan_match:
                            continue
                    elif value < thr:
                        break
                    if locked[t, cand[j]]:
                        continue
                    locked[t, cand[j]] = True
                    tp[t, i] = 1
                    break
                if tp[t, i] == 0:
                    fp[t, i] = 1
        tp_cum = np.cumsum(tp, axis=1)
        fp_cum = np.cumsum(fp, axis=1)
        ap[:, c] = interpolated_average_precision(tp_cum / (tp_cum + fp_cum), tp_cum / npos)
    return ap
