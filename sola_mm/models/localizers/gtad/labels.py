"""G-TAD training targets (pure numpy, no mmengine): IoU map, boundary (TEM) targets, validity mask.

Why a module of its own: the official ActivityNet and THUMOS data loaders build these targets with
slightly different rules, and parity with them depends on the exact order of floating-point
operations (GT boundaries on the snippet grid produce exact ties at the loss thresholds). Every
function here follows the official order and returns float64; the caller casts to float32 (the
official ``torch.Tensor(...)``) *before* any threshold is applied.

Layout: maps are ``[D, T]``, axis 0 the duration index d, axis 1 the start index s; cell (d, s) is
the proposal ``[s / T, (s + d + 1) / T]`` and is valid iff ``s + d < T``.
"""
from __future__ import annotations

from typing import Tuple

import numpy as np

__all__ = [
    'iou_with_anchors', 'ioa_with_anchors', 'proposal_mask', 'match_map',
    'normalize_anet_segments', 'anet_labels', 'thumos_window_anchors', 'thumos_window_offset',
    'thumos_window_gts', 'thumos_window_labels'
]


def iou_with_anchors(anchors_min: np.ndarray, anchors_max: np.ndarray, box_min: float,
                     box_max: float) -> np.ndarray:
    """IoU of anchors with one box: inter / ((len_anchor - inter) + box_max - box_min)."""
    len_anchors = anchors_max - anchors_min
    inter = np.maximum(np.minimum(anchors_max, box_max) - np.maximum(anchors_min, box_min), 0.)
    return np.divide(inter, len_anchors - inter + box_max - box_min)


def ioa_with_anchors(anchors_min: np.ndarray, anchors_max: np.ndarray, box_min: np.ndarray,
                     box_max: np.ndarray) -> np.ndarray:
    """Intersection over the anchor length (the first pair of arguments)."""
    len_anchors = anchors_max - anchors_min
    inter = np.maximum(np.minimum(anchors_max, box_max) - np.maximum(anchors_min, box_min), 0.)
    return np.divide(inter, len_anchors)


def proposal_mask(temporal_dim: int, max_duration: int) -> np.ndarray:
    """``bm_mask [D, T]``: 1 where ``s + d < T`` (the official ``get_mask``), float32."""
    d = np.arange(max_duration)[:, None]
    s = np.arange(temporal_dim)[None, :]
    return ((s + d) < temporal_dim).astype(np.float32)


def match_map(temporal_dim: int, max_duration: int) -> Tuple[np.ndarray, np.ndarray]:
    """Normalised proposal bounds ``xmin, xmax [D, T]``: ``gap * s``, ``xmin + gap * (d + 1)``."""
    gap = 1. / temporal_dim
    xmin = gap * np.arange(temporal_dim, dtype=np.float64)
    xmax = xmin[None, :] + gap * np.arange(1, max_duration + 1, dtype=np.float64)[:, None]
    return np.broadcast_to(xmin, xmax.shape), xmax


def _iou_map(gt: np.ndarray, temporal_dim: int, max_duration: int) -> np.ndarray:
    xmin, xmax = match_map(temporal_dim, max_duration)
    iou = np.zeros((max_duration, temporal_dim), dtype=np.float64)
    for g_start, g_end in gt:
        iou = np.maximum(iou, iou_with_anchors(xmin, xmax, g_start, g_end))
    return iou


def _boundary_targets(anchor_min: np.ndarray, anchor_max: np.ndarray, gt: np.ndarray,
                      box_len: float) -> Tuple[np.ndarray, np.ndarray]:
    """Max IoA of each anchor with the ``box_len``-wide boxes around the GT starts / ends."""
    half = box_len / 2
    targets = []
    for bounds in (gt[:, 0], gt[:, 1]):
        ioa = ioa_with_anchors(anchor_min[:, None], anchor_max[:, None],
                               (bounds - half)[None, :], (bounds + half)[None, :])
        targets.append(ioa.max(axis=1) if len(gt) else np.zeros(len(anchor_min)))
    return targets[0], targets[1]


def normalize_anet_segments(segments_second: np.ndarray, duration_second: float,
                            duration_frame: float, feature_frame: float) -> np.ndarray:
    """ActivityNet GT in [0, 1]: ``clip(sec / corrected_second, 0, 1)`` with
    ``corrected_second = feature_frame / duration_frame * duration_second``."""
    corrected_second = float(feature_frame) / duration_frame * duration_second
    segs = np.asarray(segments_second, dtype=np.float64).reshape(-1, 2)
    return np.maximum(np.minimum(1, segs / corrected_second), 0)


def anet_labels(gt_bbox: np.ndarray, temporal_dim: int,
                max_duration: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ActivityNet targets from normalised GT ``[N, 2]`` (the ``anet`` branch ``dataset.py``).

    Returns ``iou_map [D, T]`` (not masked), ``start [T]`` and ``end [T]``, float64. TEM anchors
    are ``[gap * (j - 0.5), gap * (j + 1.5)]`` (2/T long, a BMN quirk) and the boundary boxes are
    ``g -+ (3 * gap) / 2``.
    """
    gt = np.asarray(gt_bbox, dtype=np.float64).reshape(-1, 2)
    gap = 1. / temporal_dim
    idx = np.arange(temporal_dim, dtype=np.float64)
    anchor_min = gap * (idx - 0.5)
    anchor_max = gap * ((idx + 1) + 0.5)
    start, end = _boundary_targets(anchor_min, anchor_max, gt, 3 * gap)
    return _iou_map(gt, temporal_dim, max_duration), start, end


def thumos_window_anchors(window_start_snippet: int, snippet_stride: float,
                          temporal_dim: int) -> Tuple[np.ndarray, np.ndarray]:
    """TEM anchors of a THUMOS window in frames: snippet j sits at frame
    ``stride * (window_start_snippet + j)`` and covers ``frame -+ stride / 2``."""
    frames = snippet_stride * (window_start_snippet + np.arange(temporal_dim))
    return frames - snippet_stride / 2., frames + snippet_stride / 2.


def thumos_window_offset(window_start_snippet: int, snippet_stride: float) -> int:
    """The official ``int(min(anchor_xmins))``: C-style truncation toward zero (-2.5 -> -2)."""
    return int(snippet_stride * window_start_snippet - snippet_stride / 2.)


def thumos_window_gts(gt_frames: np.ndarray, window_start_snippet: int, snippet_stride: float,
                      temporal_dim: int) -> np.ndarray:
    """The GTs a training window keeps: IoA(GT, window) > 0, IoA over the GT length and the window
    ``[anchor_min[0], anchor_max[-1]]`` (a zero-length GT gives NaN and is dropped, as
    officially)."""
    gt = np.asarray(gt_frames, dtype=np.float64).reshape(-1, 2)
    anchor_min, anchor_max = thumos_window_anchors(window_start_snippet, snippet_stride,
                                                   temporal_dim)
    with np.errstate(divide='ignore', invalid='ignore'):
        ioa = ioa_with_anchors(gt[:, 0], gt[:, 1], anchor_min[0], anchor_max[-1])
    return gt[ioa > 0]


def thumos_window_labels(gt_frames: np.ndarray, window_start_snippet: int, snippet_stride: float,
                         temporal_dim: int, max_duration: int
                         ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """THUMOS targets of one sliding window (the ``master`` branch ``dataset.py``), float64.

    Args:
        gt_frames: GT ``[N, 2]`` in frames; GTs that do not overlap the window are dropped first
            (:func:`thumos_window_gts`), so passing all GTs of the video is fine.
        window_start_snippet: index s0 of the window's first snippet in the video.
        snippet_stride: frames per snippet (``skip_videoframes``, 5 officially).

    The IoU map normalises GTs with ``offset = int(min anchor_min)`` (truncation toward zero):
    ``clip((frame - offset) * (1 / T) / stride, 0, 1)``; TEM targets are IoAs in frames of the
    snippet anchors with ``[g - 1.5 stride, g + 1.5 stride]``.
    """
    gt = thumos_window_gts(gt_frames, window_start_snippet, snippet_stride, temporal_dim)
    anchor_min, anchor_max = thumos_window_anchors(window_start_snippet, snippet_stride,
                                                   temporal_dim)
    offset = thumos_window_offset(window_start_snippet, snippet_stride)
    gap = 1. / temporal_dim
    norm = np.maximum(np.minimum(1, (gt - offset) * gap / snippet_stride), 0)
    start, end = _boundary_targets(anchor_min, anchor_max, gt, 3 * snippet_stride)
    return _iou_map(norm, temporal_dim, max_duration), start, end
