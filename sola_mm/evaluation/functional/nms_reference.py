"""Scalar Python transliteration of ActionFormer's C++ ``softnms`` op (slow, float32).

Written from ``libs/utils/csrc/nms_cpu.cpp`` (``softnms_1d_cpu``) of the official ActionFormer
release: the same loop, the same swaps and the same float32 arithmetic (``numpy.float32``
scalars), one segment at a time. It exists so that

* tests can check the batched :func:`~.nms_torch.padded_soft_nms` against the official semantics
  on inputs the oracle fixtures do not cover (ties, many removals, other methods);
* ``tools/benchmark_actionformer_nms.py`` can time the batched code against the official
  algorithm in the same process (the compiled op itself is not available here).
"""
from __future__ import annotations

from typing import Tuple

import numpy as np

__all__ = ['softnms_reference']


def softnms_reference(segs: np.ndarray, scores: np.ndarray, iou_threshold: float = 0.1,
                      sigma: float = 0.5, min_score: float = 1e-3,
                      method: int = 2) -> Tuple[np.ndarray, np.ndarray]:
    """The official op on one group: ``(inds [M] int64, dets [M, 3] float32)``.

    ``method``: 0 vanilla, 1 linear, 2 gaussian (ActionFormer uses 2). ``inds`` are input rows in
    selection order; ``dets`` rows are ``x1, x2, score at selection``.
    """
    f32 = np.float32
    x1 = [f32(v) for v in np.asarray(segs, dtype=np.float32)[:, 0]]
    x2 = [f32(v) for v in np.asarray(segs, dtype=np.float32)[:, 1]]
    sc = [f32(v) for v in np.asarray(scores, dtype=np.float32)]
    areas = [b - a + f32(1e-6) for a, b in zip(x1, x2)]
    thr, sig, mins = f32(iou_threshold), f32(sigma), f32(min_score)
    nsegs = len(sc)
    inds = list(range(nsegs))
    dets = []
    i = 0
    while i < nsegs:
        max_score, max_pos = sc[i], i
        pos = i + 1
        while pos < nsegs:
            if max_score < sc[pos]:
                max_score, max_pos = sc[pos], pos
            pos += 1
        ix1, ix2, iscore = x1[max_pos], x2[max_pos], sc[max_pos]
        iarea, iind = areas[max_pos], inds[max_pos]
        dets.append((ix1, ix2, iscore))
        x1[max_pos], x2[max_pos], sc[max_pos] = x1[i], x2[i], sc[i]
        areas[max_pos], inds[max_pos] = areas[i], inds[i]
        x1[i], x2[i], sc[i], areas[i], inds[i] = ix1, ix2, iscore, iarea, iind
        pos = i + 1
        while pos < nsegs:
            xx1 = max(ix1, x1[pos])
            xx2 = min(ix2, x2[pos])
            inter = max(f32(0.), xx2 - xx1)
            ovr = inter / (iarea + areas[pos] - inter)
            weight = f32(1.)
            if method == 0:
                if ovr >= thr:
                    weight = f32(0.)
            elif method == 1:
                if ovr >= thr:
                    weight = f32(1.) - ovr
            elif method == 2:
                weight = np.exp(-(ovr * ovr) / sig)
            sc[pos] = sc[pos] * weight
            if sc[pos] < mins:
                last = nsegs - 1
                x1[pos], x2[pos], sc[pos] = x1[last], x2[last], sc[last]
                areas[pos], inds[pos] = areas[last], inds[last]
                nsegs -= 1
                pos -= 1
            pos += 1
        i += 1
    return (np.asarray(inds[:nsegs], dtype=np.int64),
            np.asarray(dets, dtype=np.float32).reshape(-1, 3))
