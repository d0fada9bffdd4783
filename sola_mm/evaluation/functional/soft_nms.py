"""Gaussian soft-NMS for temporal proposals, in the two variants TAL code bases use (numpy only).

``style='gtad'`` is G-TAD's / BSN's ``Soft_NMS``:

* proposals sorted by descending score (ties: input order); with ``max_length`` set, proposals
  with ``end - start >= max_length`` first get score 0 (G-TAD THUMOS: 300 frames);
* loop while more than one proposal remains, fewer than ``top_k`` are kept and the best remaining
  score is > 0 (so the last remaining proposal is never kept);
* pick the first maximum; decay every other remaining proposal whose IoU with it is > 0 by
  ``exp(-IoU**2 / sigma)`` (sigma divides IoU**2 directly, no 2*sigma**2);
* IoU is 0 for disjoint intervals (``s2 > e1 or s1 > e2``), else ``(min(e) - max(s)) / (max(e) -
  min(s))`` (hull form; touching intervals give 0);
* a kept proposal keeps its decayed score.

``style='mmaction'`` is ``mmaction.models.localizers.utils.proposal_utils.soft_nms`` (BMN):
sort by ``score.argsort()[::-1]``; loop while proposals remain and ``len(kept) <= top_k`` (so up to
``top_k + 1`` are kept); IoU is MMAction2's ``temporal_iou`` (union form, same operation order);
decay only where ``iou > low + (high - low) * width_of_the_picked_proposal``.

Both reproduce their reference bitwise. The reference implementations walk Python lists in a
Python inner loop; here each iteration is one vectorised step, and :func:`batched_soft_nms` runs
many videos at once (one step per selected proposal for the whole batch).
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

__all__ = ['batched_soft_nms', 'bmn_post_processing', 'soft_nms']

_STYLES = ('gtad', 'mmaction')
_CHUNK_ELEMENTS = 1 << 16  # padded elements per chunk in batched mode (keeps arrays in cache)


def _check(segments: np.ndarray, scores: np.ndarray, style: str) -> tuple[np.ndarray, np.ndarray]:
    if style not in _STYLES:
        raise ValueError(f'soft_nms: style must be one of {_STYLES}, got {style!r}')
    seg = np.asarray(segments, dtype=np.float64)
    sc = np.asarray(scores, dtype=np.float64)
    if seg.ndim != 2 or seg.shape[1] != 2 or sc.ndim != 1 or sc.shape[0] != seg.shape[0]:
        raise ValueError(f'soft_nms: expected segments [N, 2] and scores [N], got '
                         f'{seg.shape} and {sc.shape}')
    if not np.all(np.isfinite(sc)):
        raise ValueError('soft_nms: scores must be finite')
    return seg, sc


def _sorted_inputs(seg: np.ndarray, sc: np.ndarray, style: str,
                   max_length: float | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    sc = sc.copy()
    if max_length is not None:
        sc[(seg[:, 1] - seg[:, 0]) >= max_length] = 0.
    if style == 'gtad':
        order = np.argsort(-sc, kind='stable')
    else:  # the exact expression of MMAction2 (ties as numpy's default sort leaves them)
        order = sc.argsort()[::-1]
    return seg[order, 0], seg[order, 1], sc[order]


def _run_padded(start: np.ndarray, end: np.ndarray, score: np.ndarray, count: np.ndarray,
                sigma: float, top_k: int, style: str, low: float,
                high: float) -> tuple[np.ndarray, np.ndarray]:
    """Soft-NMS on ``B`` padded rows (modified in place).

    Row ``b`` holds ``count[b]`` proposals, sorted, then padding. Removed and padded entries get
    score ``-inf`` (inputs are finite), so the first maximum of a row is the first maximum of its
    remaining proposals in list order, as in the reference loops; decaying a ``-inf`` entry
    leaves it ``-inf``. Rows that stop are compacted away so every step works on dense arrays.

    Returns kept column indices ``[B, K]`` (-1 = none) and kept scores ``[B, K]``, in selection
    order.
    """
    n_rows, width = score.shape
    score = np.ascontiguousarray(score)  # the decay step writes through a flat view
    max_keep = top_k if style == 'gtad' else top_k + 1
    max_keep = max(0, min(max_keep, width))
    kept_idx = np.full((n_rows, max_keep), -1, dtype=np.int64)
    kept_score = np.zeros((n_rows, max_keep))
    score[np.arange(width)[None, :] >= count[:, None]] = -np.inf
    n_alive = count.astype(np.int64).copy()
    orig = np.arange(n_rows)         # original row of each working row
    buf1 = np.empty((n_rows, width))  # work buffers (row slices stay contiguous)
    buf2 = np.empty((n_rows, width))
    buf3 = np.empty((n_rows, width)) if style == 'gtad' else buf2
    mask = np.empty((n_rows, width), dtype=bool)
    mask2 = np.empty((n_rows, width), dtype=bool)
    for k in range(max_keep):
        rows = np.arange(orig.size)
        pick = np.argmax(score, axis=1)
        best = score[rows, pick]
        if style == 'gtad':
            active = (n_alive > 1) & (best > 0)
        else:
            active = n_alive > 0
        if not active.all():
            keep = np.flatnonzero(active)
            if keep.size == 0:
                break
            start, end, score = start[keep], end[keep], score[keep]
            n_alive, orig, pick, best = n_alive[keep], orig[keep], pick[keep], best[keep]
            rows = np.arange(orig.size)
        si = start[rows, pick][:, None]
        ei = end[rows, pick][:, None]
        n = orig.size
        iou, tmp, decay = buf1[:n], buf2[:n], mask[:n]
        # the reference expressions, evaluated in place (same operations, same order)
        with np.errstate(divide='ignore', invalid='ignore'):
            if style == 'gtad':
                np.minimum(ei, end, out=iou)
                np.maximum(si, start, out=tmp)
                np.subtract(iou, tmp, out=iou)                 # inter
                np.maximum(ei, end, out=tmp)
                np.subtract(tmp, np.minimum(si, start, out=buf3[:n]), out=tmp)  # hull
                np.divide(iou, tmp, out=iou)                   # inter / hull
                np.greater(iou, 0, out=decay)
                np.less_equal(start, ei, out=mask2[:n])      # official: IoU = 0 if s2 > e1
                decay &= mask2[:n]
                np.less_equal(si, end, out=mask2[:n])        # ... or s1 > e2
                decay &= mask2[:n]
            else:
                len_anchor = ei - si
                np.minimum(ei, end, out=iou)
                np.maximum(si, start, out=tmp)
                np.subtract(iou, tmp, out=iou)
                np.maximum(iou, 0., out=iou)                   # inter
                np.subtract(len_anchor, iou, out=tmp)
                np.add(tmp, end, out=tmp)
                np.subtract(tmp, start, out=tmp)               # len - inter + end - start
                np.divide(iou, tmp, out=iou)
                np.greater(iou, low + (high - low) * len_anchor, out=decay)
        decay[rows, pick] = False
        flat = np.flatnonzero(decay)          # score, iou: C-contiguous [n, width]
        if flat.size:
            score_flat = score.reshape(-1)
            score_flat[flat] = score_flat[flat] * np.exp(
                -np.square(iou.reshape(-1)[flat]) / sigma)
        kept_idx[orig, k] = pick
        kept_score[orig, k] = best
        score[rows, pick] = -np.inf
        n_alive -= 1
    return kept_idx, kept_score


def soft_nms(segments: np.ndarray,
             scores: np.ndarray,
             sigma: float,
             top_k: int,
             style: str = 'gtad',
             low_threshold: float = 0.,
             high_threshold: float = 0.,
             max_length: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Soft-NMS of one video's proposals.

    Args:
        segments: ``[N, 2]`` (start, end), any unit (normalised, frames or seconds).
        scores: ``[N]`` finite scores.
        sigma: Gaussian parameter; decay ``exp(-iou**2 / sigma)`` (G-TAD ANet 0.8, THUMOS 0.46;
            MMAction2 BMN ``soft_nms_alpha`` 0.4).
        top_k: number of proposals to keep (``'mmaction'`` keeps up to ``top_k + 1``, like
            MMAction2's loop; its ``post_processing`` then takes ``top_k``).
        style: ``'gtad'`` or ``'mmaction'`` (module docstring).
        low_threshold, high_threshold: MMAction2's decay thresholds (``'mmaction'`` only).
        max_length: if set, proposals with ``end - start >= max_length`` get score 0 first.

    Returns:
        ``(segments [M, 2], scores [M])`` in selection order; kept scores are the decayed ones.
    """
    seg, sc = _check(segments, scores, style)
    if seg.shape[0] == 0 or top_k <= 0:
        return np.zeros((0, 2)), np.zeros(0)
    start, end, score = _sorted_inputs(seg, sc, style, max_length)
    idx, kept = _run_padded(start[None], end[None], score[None].copy(),
                            np.array([start.shape[0]]), sigma, top_k, style, low_threshold,
                            high_threshold)
    valid = idx[0] >= 0
    sel = idx[0][valid]
    return np.stack([start[sel], end[sel]], axis=1), kept[0][valid]


def batched_soft_nms(segments: Sequence[np.ndarray],
                     scores: Sequence[np.ndarray],
                     sigma: float,
                     top_k: int,
                     style: str = 'gtad',
                     low_threshold: float = 0.,
                     high_threshold: float = 0.,
                     max_length: float | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """:func:`soft_nms` of many videos at once; output identical to calling it per video.

    Videos are sorted by proposal count and processed in padded chunks, one vectorised step per
    selected proposal for the whole chunk.
    """
    if len(segments) != len(scores):
        raise ValueError(f'batched_soft_nms: {len(segments)} segment arrays but '
                         f'{len(scores)} score arrays')
    prepared = []
    for seg, sc in zip(segments, scores):
        seg, sc = _check(seg, sc, style)
        prepared.append(_sorted_inputs(seg, sc, style, max_length))
    out: list[tuple[np.ndarray, np.ndarray]] = [(np.zeros((0, 2)), np.zeros(0))] * len(prepared)
    if top_k <= 0:
        return out
    counts = np.array([p[2].shape[0] for p in prepared], dtype=np.int64)
    by_size = np.argsort(counts, kind='stable')
    by_size = by_size[counts[by_size] > 0]
    pos = 0
    while pos < by_size.size:
        width = int(counts[by_size[pos]])
        n_rows = 1
        # grow the chunk while the padded size stays small (rows are sorted by count)
        while pos + n_rows < by_size.size:
            w_next = int(counts[by_size[pos + n_rows]])
            if (n_rows + 1) * w_next > _CHUNK_ELEMENTS:
                break
            width = w_next
            n_rows += 1
        members = by_size[pos:pos + n_rows]
        start = np.zeros((n_rows, width))
        end = np.zeros((n_rows, width))
        score = np.zeros((n_rows, width))
        for r, v in enumerate(members):
            s, e, sc = prepared[v]
            start[r, :s.shape[0]] = s
            end[r, :s.shape[0]] = e
            score[r, :s.shape[0]] = sc
        idx, kept = _run_padded(start, end, score, counts[members], sigma, top_k, style,
                                low_threshold, high_threshold)
        for r, v in enumerate(members):
            valid = idx[r] >= 0
            sel = idx[r][valid]
            s, e, _ = prepared[v]
            out[v] = (np.stack([s[sel], e[sel]], axis=1), kept[r][valid])
        pos += n_rows
    return out


def bmn_post_processing(results: Sequence[np.ndarray],
                        video_infos: Sequence[Mapping[str, Any]],
                        soft_nms_alpha: float = 0.4,
                        soft_nms_low_threshold: float = 0.5,
                        soft_nms_high_threshold: float = 0.9,
                        post_process_top_k: int = 100,
                        feature_extraction_interval: int = 16) -> list[list[dict]]:
    """MMAction2's BMN ``post_processing`` for many videos at once, identical output.

    Per video (``mmaction.models.localizers.utils.post_processing``): soft-NMS (style
    ``'mmaction'``) when there is more than one proposal, sort by ``score.argsort()[::-1]``, keep
    ``post_process_top_k``, and scale ``[max(0, start), min(1, end)]`` by
    ``duration_frame // interval * interval / duration_frame * duration_second``.

    Args:
        results: per video ``[N, C]`` arrays: columns 0 and 1 the normalised start / end, the
            last column the score (BMN's ``[N, 7]`` candidate rows).
        video_infos: per video a mapping with ``duration_frame`` and ``duration_second``.

    Returns:
        per video the ``proposal_list``: ``[{score, segment: [start_s, end_s]}]``.
    """
    if len(results) != len(video_infos):
        raise ValueError(f'bmn_post_processing: {len(results)} results but {len(video_infos)} '
                         f'video infos')
    arrays = [np.asarray(r, dtype=np.float64) for r in results]
    for i, r in enumerate(arrays):
        if r.ndim != 2 or (r.size and r.shape[1] < 3):
            raise ValueError(f'bmn_post_processing: video {i}: expected [N, >=3] rows (start, '
                             f'end, ..., score), got shape {r.shape}')
    multi = [i for i, r in enumerate(arrays) if len(r) > 1]
    nms = batched_soft_nms([arrays[i][:, :2] for i in multi], [arrays[i][:, -1] for i in multi],
                           sigma=soft_nms_alpha, top_k=post_process_top_k, style='mmaction',
                           low_threshold=soft_nms_low_threshold,
                           high_threshold=soft_nms_high_threshold)
    kept = {i: np.concatenate([segs, sc[:, None]], axis=1) for i, (segs, sc) in zip(multi, nms)}
    out = []
    for i, (res, info) in enumerate(zip(arrays, video_infos)):
        try:
            frames, seconds = info['duration_frame'], info['duration_second']
        except KeyError as exc:
            raise KeyError(f'bmn_post_processing: video {i} ({info.get("video_name", "?")}) '
                           f'lacks {exc}') from None
        res = kept.get(i, res)
        res = res[res[:, -1].argsort()[::-1]][:post_process_top_k]
        duration = float(frames // feature_extraction_interval * feature_extraction_interval
                         ) / frames * seconds
        starts = (np.maximum(0, res[:, 0]) * duration).tolist()
        ends = (np.minimum(1, res[:, 1]) * duration).tolist()
        out.append([dict(score=float(sc), segment=[a, b])
                    for sc, a, b in zip(res[:, -1].tolist(), starts, ends)])
    return out
