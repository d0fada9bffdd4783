"""G-TAD post-processing (pure numpy, no mmengine): candidates, proposal enumeration, window
merging, and the fusion of proposals with video-level classifier scores.

The rules are those of the official ``gtad_inference.py`` / ``gtad_postprocess.py``:

* ActivityNet: boundary candidates from the start/end curves; cells (d, s) with end
  ``e = s + d + 1`` kept iff ``e < T`` and both boundaries are candidates (duration outer, start
  inner); score ``clr * reg``; Soft-NMS (sigma 0.8, top 100); detections
  ``[max(0, xmin), min(1, xmax)] * duration`` for the top-2 video classes, blocked by class.
* THUMOS: every cell with ``s + d + 1 < T`` of every window, in frames; Soft-NMS per window (sigma
  0.46, top 200, proposals of >= 300 frames zeroed); windows concatenated, Soft-NMS again, top 200;
  detections for the top-2 classes interleaved, scores rounded to 6 and seconds to 1 decimal.

Soft-NMS itself is ``sola_mm.evaluation.functional.soft_nms`` (style ``'gtad'``).
"""
from __future__ import annotations

from typing import List, Sequence, Tuple

import numpy as np

__all__ = [
    'boundary_candidates', 'anet_proposals', 'window_proposals', 'apply_soft_nms',
    'merge_window_proposals', 'anet_segments', 'top_classes', 'fuse_topk_classes',
    'anet_detections', 'thumos_detections'
]


def boundary_candidates(scores: np.ndarray, force: str) -> np.ndarray:
    """Candidate mask ``[T]`` of a start or end curve.

    Index i in 1..T-2 is a candidate iff it is a strict local maximum or strictly above half the
    curve's maximum; ``force='first'`` (starts) adds index 0, ``force='last'`` (ends) index T-1.
    """
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    bins = np.zeros(len(s), dtype=bool)
    if len(s) == 0:
        return bins
    inner = s[1:-1]
    bins[1:-1] = ((inner > s[:-2]) & (inner > s[2:])) | (inner > 0.5 * s.max())
    if force == 'first':
        bins[0] = True
    elif force == 'last':
        bins[-1] = True
    else:
        raise ValueError(f"boundary_candidates: force must be 'first' or 'last', got {force!r}")
    return bins


def anet_proposals(start_scores: np.ndarray, end_scores: np.ndarray, clr_map: np.ndarray,
                   reg_map: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """ActivityNet proposals from one video's outputs.

    Args:
        start_scores, end_scores: ``[T]``. clr_map, reg_map: ``[D, T]`` (conf channels 1 and 0).

    Returns:
        ``proposals [N, 4] = (s / T, e / T, clr, reg)`` in official order (duration outer, start
        inner) and their ``(d, s)`` indices ``[N, 2]``.
    """
    clr = np.asarray(clr_map, dtype=np.float64)
    reg = np.asarray(reg_map, dtype=np.float64)
    num_dur, length = clr.shape
    start_bins = boundary_candidates(start_scores, 'first')
    end_bins = boundary_candidates(end_scores, 'last')
    d = np.arange(num_dur)[:, None]
    s = np.arange(length)[None, :]
    e = s + d + 1
    keep = (e < length) & start_bins[s] & end_bins[np.minimum(e, length - 1)]
    dd, ss = np.nonzero(keep)
    props = np.stack([ss / length, (ss + dd + 1) / length, clr[dd, ss], reg[dd, ss]], axis=1)
    return props.reshape(-1, 4), np.stack([dd, ss], axis=1)


def window_proposals(clr_map: np.ndarray, reg_map: np.ndarray, first_frame: float,
                     snippet_stride: float) -> np.ndarray:
    """THUMOS window proposals ``[N, 4] = (xmin, xmax, clr, reg)`` in frames: every cell with
    ``s + d + 1 < T``, ``xmin = s * stride + first_frame``, ``xmax = (s + d + 1) * stride +
    first_frame`` (duration outer, start inner)."""
    clr = np.asarray(clr_map, dtype=np.float64)
    reg = np.asarray(reg_map, dtype=np.float64)
    num_dur, length = clr.shape
    d = np.arange(num_dur)[:, None]
    s = np.arange(length)[None, :]
    dd, ss = np.nonzero(np.broadcast_to(s + d + 1 < length, clr.shape))
    props = np.stack([ss * snippet_stride + first_frame, (ss + dd + 1) * snippet_stride +
                      first_frame, clr[dd, ss], reg[dd, ss]], axis=1)
    return props.reshape(-1, 4)


def apply_soft_nms(segments: np.ndarray, scores: np.ndarray, sigma: float, top_k: int,
                   max_length: float | None = None) -> Tuple[np.ndarray, np.ndarray]:
    """G-TAD/BSN Soft-NMS (``sigma`` divides IoU^2; the last remaining proposal is never kept)."""
    # Imported here: the metrics in sola_mm.evaluation use the helpers of this module.
    from sola_mm.evaluation.functional.soft_nms import soft_nms
    segments = np.asarray(segments, dtype=np.float64).reshape(-1, 2)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(scores) == 0:
        return segments, scores
    return soft_nms(segments, scores, sigma=sigma, top_k=top_k, style='gtad',
                    max_length=max_length)


def merge_window_proposals(windows: Sequence[Tuple[np.ndarray, np.ndarray]], sigma: float = 0.46,
                           top_k: int = 200, max_length: float | None = 300.
                           ) -> Tuple[np.ndarray, np.ndarray]:
    """THUMOS merge: concatenate per-window ``(segments, scores)``, Soft-NMS again when more than
    one proposal, sort by score (stable) and keep ``top_k``."""
    segs: List[np.ndarray] = [np.asarray(w[0], dtype=np.float64).reshape(-1, 2) for w in windows]
    scs: List[np.ndarray] = [np.asarray(w[1], dtype=np.float64).reshape(-1) for w in windows]
    segments = np.concatenate(segs) if segs else np.zeros((0, 2))
    scores = np.concatenate(scs) if scs else np.zeros(0)
    if len(scores) > 1:
        segments, scores = apply_soft_nms(segments, scores, sigma, top_k, max_length)
    order = np.argsort(-scores, kind='stable')[:top_k]
    return segments[order], scores[order]


def anet_segments(segments: np.ndarray, duration: float) -> np.ndarray:
    """Normalised ``[M, 2]`` -> seconds: ``[max(0, xmin) * duration, min(1, xmax) * duration]``."""
    segs = np.asarray(segments, dtype=np.float64).reshape(-1, 2)
    return np.stack([np.maximum(0, segs[:, 0]) * duration,
                     np.minimum(1, segs[:, 1]) * duration], axis=1)


def top_classes(class_scores: np.ndarray, top_k: int = 2,
                tie_break: str = 'first') -> Tuple[np.ndarray, np.ndarray]:
    """Indices and scores of the ``top_k`` best classes.

    ``tie_break='first'``: repeated argmax, the lowest index wins a tie (ActivityNet);
    ``'last'``: ``sorted((score, idx))`` order, the highest index wins (THUMOS).
    """
    scores = np.asarray(class_scores, dtype=np.float64).reshape(-1)
    if top_k > len(scores):
        raise ValueError(f'top_classes: top_k={top_k} but only {len(scores)} class scores')
    idx = np.arange(len(scores))
    if tie_break == 'first':
        order = np.lexsort((idx, -scores))
    elif tie_break == 'last':
        order = np.lexsort((-idx, -scores))
    else:
        raise ValueError(f"top_classes: tie_break must be 'first' or 'last', got {tie_break!r}")
    order = order[:top_k]
    return order, scores[order]


def fuse_topk_classes(scores: np.ndarray, segments: np.ndarray, class_scores: np.ndarray,
                      top_k: int = 2, layout: str = 'blocked', tie_break: str = 'first',
                      combine: str = 'product') -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Give each proposal the ``top_k`` video classes, score = proposal score x class score
    (``combine='product'``, BSN/BMN/G-TAD) or ``sqrt(class score x proposal score)``
    (``'sqrt'``, ActionFormer's ``postprocess_results``).

    ``layout='blocked'``: all proposals with class 1, then all with class 2 (ActivityNet);
    ``'interleaved'``: p0c1, p0c2, p1c1, ... (THUMOS).

    Returns ``(det_scores [M * k], det_segments [M * k, 2], det_class_idx [M * k])``.
    """
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    segments = np.asarray(segments, dtype=np.float64).reshape(-1, 2)
    cls_idx, cls_scores = top_classes(class_scores, top_k, tie_break)
    if combine not in ('product', 'sqrt'):
        raise ValueError(f"fuse_topk_classes: combine must be 'product' or 'sqrt', got "
                         f'{combine!r}')
    det_scores = scores[None, :] * cls_scores[:, None]  # [k, M]
    if combine == 'sqrt':
        det_scores = np.sqrt(det_scores)
    det_cls = np.broadcast_to(cls_idx[:, None], det_scores.shape)
    det_segs = np.broadcast_to(segments[None], (top_k, ) + segments.shape)
    if layout == 'interleaved':
        det_scores, det_cls, det_segs = (a.swapaxes(0, 1) for a in (det_scores, det_cls, det_segs))
    elif layout != 'blocked':
        raise ValueError(f"fuse_topk_classes: layout must be 'blocked' or 'interleaved', got "
                         f'{layout!r}')
    return det_scores.reshape(-1), det_segs.reshape(-1, 2), det_cls.reshape(-1)


def anet_detections(scores: np.ndarray, segments: np.ndarray, duration: float,
                    class_scores: np.ndarray, top_k_props: int = 100, top_k_classes: int = 2
                    ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ActivityNet detections from Soft-NMS output (normalised segments, selection order)."""
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)[:top_k_props]
    segs = anet_segments(np.asarray(segments).reshape(-1, 2)[:top_k_props], duration)
    return fuse_topk_classes(scores, segs, class_scores, top_k_classes, 'blocked', 'first')


def thumos_detections(scores: np.ndarray, segments_frames: np.ndarray, class_scores: np.ndarray,
                      fps: float, num_frames: float, top_k_props: int = 200,
                      top_k_classes: int = 2) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """THUMOS detections from the merged, sorted proposals (frames): scores rounded to 6 decimals,
    segments ``[max(0, xmin), min(num_frames, xmax)] / fps`` rounded to 1 decimal (numpy rounding,
    which is what ``round`` does on the official numpy floats)."""
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)[:top_k_props]
    frames = np.asarray(segments_frames, dtype=np.float64).reshape(-1, 2)[:top_k_props]
    det_scores, det_frames, det_cls = fuse_topk_classes(scores, frames, class_scores,
                                                        top_k_classes, 'interleaved', 'last')
    seconds = np.stack([np.maximum(0, det_frames[:, 0]) / fps,
                        np.minimum(num_frames, det_frames[:, 1]) / fps], axis=1)
    return np.round(det_scores, 6), np.round(seconds, 1), det_cls
