"""Detection mAP equal to the official ActivityNet / THUMOS evaluator, vectorised (numpy only).

The official ``ANETdetection`` (activitynet/ActivityNet ``Evaluation/eval_detection.py``) loops in
Python over every prediction of every class. This module computes the same numbers:

* **Matching** (per class, predictions by descending score): a prediction is compared with the GTs
  of the same video and class, visited in descending tIoU (a NaN tIoU first). At each threshold the
  first GT that is not yet locked and has ``not (tiou < thr)`` becomes a TP and is locked for that
  threshold; otherwise the prediction is an FP. Predictions on videos with no GT of their class
  (including videos outside the subset) are FPs.
  The greedy matching is sequential only *within* a (video, class) group, so it is run for all
  groups at once, one rank at a time (rank = position of the prediction inside its group), and for
  all thresholds at once. Groups with a single GT (most of them) need no loop: their TP is the
  first prediction of the group that qualifies.
* **AP**: all-point interpolated (VOC2011 style) on cumulative precision/recall, with the official
  sentinels and the official floating-point order, so per-class AP is bitwise equal. The terms are
  computed for every class and threshold at once on the TP positions only (``_ap_from_tp``); each
  AP is then one ``np.sum`` over exactly the array the official code sums.

``reference.average_precision_detection_loop`` is the same algorithm as a plain per-class loop;
the tests check both agree bitwise on random inputs full of ties, duplicates and 0/0 tIoU.
* **mAP**: mean over all GT classes of the subset (a class without predictions has AP 0);
  ``average_mAP`` = mean over thresholds.

Choices where the official code is undefined or raises are parameters (see ``docs/evaluation.md``):
``tie_order`` (score ties), ``nan_tiou`` (0/0 tIoU), ``unknown_label`` (labels outside the GT).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from .ground_truth import GroundTruth, expand_video_ids, load_video_list
from .tiou import paired_tiou

__all__ = [
    'ANET_TIOU_THRESHOLDS', 'THUMOS_TIOU_THRESHOLDS', 'DetectionArrays', 'DetectionResult',
    'UnknownLabelError', 'average_precision_detection', 'detections_from_results',
    'evaluate_detection', 'interpolated_average_precision', 'sort_by_class_and_score'
]

#: ``np.linspace(0.5, 0.95, 10)`` exactly as the official script builds it (9th value 0.8999...).
ANET_TIOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
#: THUMOS-14 thresholds used by G-TAD / BMN.
THUMOS_TIOU_THRESHOLDS = np.array([0.3, 0.4, 0.5, 0.6, 0.7])

_TIE_ORDERS = ('stable', 'official')
_NAN_TIOU = ('match', 'no_match')
_UNKNOWN = ('raise', 'ignore')


class UnknownLabelError(KeyError):
    """A predicted label that is not a GT class of the evaluated subset (official: KeyError)."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0]) if self.args else ''


@dataclass
class DetectionArrays:
    """Predictions as flat arrays, in load order (results dict order, then list order).

    Attributes:
        video: ``[P]`` int64 index into ``gt.video_ids``; -1 for videos not in the GT subset.
        label: ``[P]`` int64 index into ``gt.classes``.
        segments: ``[P, 2]`` float64 seconds.
        scores: ``[P]`` float64.
        num_unknown_label: predictions dropped because their label is not a GT class.
        num_blocked: predictions dropped because their video is blocked.
    """

    video: np.ndarray
    label: np.ndarray
    segments: np.ndarray
    scores: np.ndarray
    num_unknown_label: int = 0
    num_blocked: int = 0

    def __len__(self) -> int:
        return int(self.scores.shape[0])


@dataclass
class DetectionResult:
    """Output of :func:`evaluate_detection` (field names follow the official evaluator)."""

    tiou_thresholds: np.ndarray
    classes: list[str]
    ap: np.ndarray          # [T, C]
    mAP: np.ndarray         # [T]
    average_mAP: float
    num_predictions: int
    num_gt: int
    num_unknown_label: int = 0

    def ap_by_class(self) -> dict[str, list[float]]:
        """Per-class AP at every threshold, keyed by class name."""
        return {c: self.ap[:, i].tolist() for i, c in enumerate(self.classes)}

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary (thresholds, mAP, average mAP, per-class AP)."""
        return dict(
            tiou_thresholds=self.tiou_thresholds.tolist(),
            mAP=self.mAP.tolist(),
            average_mAP=float(self.average_mAP),
            classes=list(self.classes),
            ap_by_class=self.ap_by_class(),
            num_predictions=self.num_predictions,
            num_gt=self.num_gt,
            num_unknown_label=self.num_unknown_label)


def detections_from_results(results: Mapping[str, Sequence[Mapping[str, Any]]],
                            gt: GroundTruth,
                            unknown_label: str = 'raise',
                            blocked_videos: Any = None,
                            source: str = '<results>') -> DetectionArrays:
    """Convert submission-style results ``{video: [{label, score, segment}]}`` to arrays.

    Args:
        results: the ``"results"`` object of an ActivityNet submission.
        gt: ground truth; its classes define the label indices and its videos the video indices
            (``v_`` prefix tolerant). Predictions on other videos are kept (they are FPs).
        unknown_label: ``'raise'`` (default, like the official KeyError but naming label and
            video) or ``'ignore'`` (drop them and count them in ``num_unknown_label``).
        blocked_videos: ids whose predictions are dropped (iterable or file).
        source: name used in error messages.
    """
    if unknown_label not in _UNKNOWN:
        raise ValueError(f'unknown_label must be one of {_UNKNOWN}, got {unknown_label!r}')
    class_index = gt.class_index
    blocked = expand_video_ids(load_video_list(blocked_videos))

    vids: list[np.ndarray] = []
    labs: list[list[int]] = []
    segs: list[Any] = []
    scores: list[Any] = []
    n_unknown = 0
    n_blocked = 0
    for name, rows in results.items():
        vidx = gt.find_video(name)
        if name in blocked:
            n_blocked += len(rows)
            continue
        if not rows:
            continue
        lab = [class_index.get(r['label'], -1) for r in rows]
        if -1 in lab:
            bad = [r['label'] for r, li in zip(rows, lab) if li < 0]
            if unknown_label == 'raise':
                raise UnknownLabelError(
                    f'{source}: video {name!r} has a prediction with label {bad[0]!r}, which is '
                    f'not a ground-truth class of the evaluated subset ({len(gt.classes)} classes '
                    f'from {gt.source}); the official evaluator raises KeyError here. Fix the '
                    f'class names, or set unknown_label="ignore" to drop such predictions.')
            keep = [i for i, li in enumerate(lab) if li >= 0]
            n_unknown += len(rows) - len(keep)
            rows = [rows[i] for i in keep]
            lab = [lab[i] for i in keep]
            if not rows:
                continue
        try:
            seg = [r['segment'] for r in rows]
            sc = [r['score'] for r in rows]
        except KeyError as exc:
            raise ValueError(f'{source}: video {name!r}: every prediction needs "segment" and '
                             f'"score" (and "label"), missing {exc}') from None
        vids.append(np.full(len(rows), -1 if vidx is None else vidx, dtype=np.int64))
        labs.append(lab)
        segs.extend(seg)
        scores.extend(sc)

    if vids:
        video = np.concatenate(vids)
        label = np.fromiter((li for lab in labs for li in lab), dtype=np.int64,
                            count=video.shape[0])
    else:
        video = np.zeros(0, np.int64)
        label = np.zeros(0, np.int64)
    segments = np.asarray(segs, dtype=np.float64).reshape(-1, 2)
    score_arr = np.asarray(scores, dtype=np.float64)
    return DetectionArrays(video, label, segments, score_arr, n_unknown, n_blocked)


def _stable_class_score_order(label: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """``np.lexsort((-scores, label))`` (class, then descending score, ties by position), faster:
    one quicksort on a unique int64 key (class, dense score rank, position)."""
    n = scores.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    by_score = np.argsort(-scores)
    neg_sorted = -scores[by_score]
    new_value = np.r_[True, neg_sorted[1:] != neg_sorted[:-1]]
    dense = np.empty(n, dtype=np.int64)
    dense[by_score] = np.cumsum(new_value) - 1
    n_values = int(dense.max()) + 1
    n_labels = int(label.max()) + 1 if label.size else 1
    if float(n_labels) * n_values * n >= 2.0 ** 62:   # key would overflow: plain lexsort
        return np.lexsort((-scores, label))
    key = (label.astype(np.int64) * n_values + dense) * n + np.arange(n)
    return np.argsort(key)


def sort_by_class_and_score(label: np.ndarray, scores: np.ndarray,
                            tie_order: str = 'stable') -> np.ndarray:
    """Permutation grouping predictions by class (ascending) and, within a class, by score.

    ``tie_order='stable'``: descending score, ties in load order (deterministic).
    ``tie_order='official'``: the official ``score.argsort()[::-1]`` applied to each class's rows
    in load order (reproduces the official run on the same numpy/CPU; the tie order itself is not
    defined by the official code).
    """
    if tie_order not in _TIE_ORDERS:
        raise ValueError(f'tie_order must be one of {_TIE_ORDERS}, got {tie_order!r}')
    if tie_order == 'stable':
        return _stable_class_score_order(label, scores)
    by_class = np.argsort(label, kind='stable')
    lab_sorted = label[by_class]
    bounds = np.flatnonzero(np.r_[True, lab_sorted[1:] != lab_sorted[:-1], True])
    out = np.empty_like(by_class)
    for a, b in zip(bounds[:-1], bounds[1:]):
        rows = by_class[a:b]
        out[a:b] = rows[scores[rows].argsort()[::-1]]
    return out


def interpolated_average_precision(precision: np.ndarray, recall: np.ndarray) -> np.ndarray:
    """All-point interpolated AP of each row (official ``interpolated_prec_rec``, bitwise).

    Args:
        precision: ``[T, n]`` cumulative precision of each threshold row.
        recall: ``[T, n]`` cumulative recall.

    Returns:
        ``[T]`` AP values.
    """
    precision = np.atleast_2d(precision)
    recall = np.atleast_2d(recall)
    t, n = precision.shape
    mprec = np.zeros((t, n + 2))
    mprec[:, 1:-1] = precision
    mrec = np.empty((t, n + 2))
    mrec[:, 0] = 0.
    mrec[:, 1:-1] = recall
    mrec[:, -1] = 1.
    # precision made monotone from the right (exact: max only)
    mprec = np.maximum.accumulate(mprec[:, ::-1], axis=1)[:, ::-1]
    change = mrec[:, 1:] != mrec[:, :-1]
    terms = (mrec[:, 1:] - mrec[:, :-1]) * mprec[:, 1:]
    # the official sums the compacted change points with np.sum: same array -> same bits
    return np.array([np.sum(terms[i][change[i]]) for i in range(t)])


def _greedy_match(gt: GroundTruth, pred_video: np.ndarray, pred_label: np.ndarray,
                  pred_segments: np.ndarray, thresholds: np.ndarray,
                  nan_match: bool) -> np.ndarray:
    """TP flags ``[T, P]`` for predictions given in processing order (see module docstring)."""
    n_thr = thresholds.shape[0]
    n_pred = pred_video.shape[0]
    tp = np.zeros((n_thr, n_pred), dtype=bool)
    n_cls = max(len(gt.classes), 1)
    if n_pred == 0 or gt.num_instances == 0:
        return tp

    # GT groups (video, class); instances keep file order inside a group
    gkey = gt.video * n_cls + gt.label
    gt_order = np.argsort(gkey, kind='stable')
    groups, gstart, gcount = np.unique(gkey[gt_order], return_index=True, return_counts=True)

    pkey = np.where(pred_video >= 0, pred_video * n_cls + pred_label, -1)
    n_keys = len(gt.video_ids) * n_cls
    if n_keys <= (1 << 24):                   # dense (video, class) -> group table
        table = np.full(n_keys + 1, -1, dtype=np.int64)
        table[groups] = np.arange(groups.shape[0])
        gid_all = table[pkey]                 # pkey -1 -> last entry, which is -1
    else:
        pos = np.minimum(np.searchsorted(groups, pkey), groups.shape[0] - 1)
        gid_all = np.where((pkey >= 0) & (groups[pos] == pkey), pos, -1)
    m = np.flatnonzero(gid_all >= 0)          # processing positions of matchable predictions
    if m.size == 0:
        return tp
    gid = gid_all[m]

    def candidates(tiou: np.ndarray) -> np.ndarray:
        if nan_match:                         # official: FP iff ``tiou < thr`` -> NaN matches
            return ~(tiou[None, :] < thresholds[:, None])
        return tiou[None, :] >= thresholds[:, None]

    # groups with a single GT (most of them): the first candidate prediction of the group is
    # the TP at each threshold, no sequential locking needed
    single = gcount[gid] == 1
    if single.any():
        ms, gs1 = m[single], gid[single]
        perm = np.argsort(gs1, kind='stable')  # by group, processing order inside
        ms, gs1 = ms[perm], gs1[perm]
        cand = candidates(paired_tiou(pred_segments[ms], gt.segments[gt_order[gstart[gs1]]]))
        cum = np.cumsum(cand, axis=1, dtype=np.int64)
        first = np.flatnonzero(np.r_[True, gs1[1:] != gs1[:-1]])
        before = np.zeros((n_thr, first.size), dtype=np.int64)
        before[:, 1:] = cum[:, first[1:] - 1]
        counts = np.diff(np.r_[first, gs1.size])
        hit = cand & (cum - np.repeat(before, counts, axis=1) == 1)
        tp[:, ms] = hit
        keep = ~single
        m, gid = m[keep], gid[keep]
        if m.size == 0:
            return tp

    # rank of each matchable prediction inside its group (processing order kept by stable sort)
    perm = np.argsort(gid, kind='stable')
    gs = gid[perm]
    new_group = np.r_[True, gs[1:] != gs[:-1]]
    group_first = np.flatnonzero(new_group)
    rank = np.empty(m.size, dtype=np.int64)
    rank[perm] = np.arange(m.size) - group_first[np.cumsum(new_group) - 1]

    # (prediction, GT) pairs of each group, ordered by (rank, processing position, GT file order)
    cnt = gcount[gid]
    pair_pred = np.repeat(np.arange(m.size), cnt)
    offsets = np.cumsum(cnt) - cnt
    pair_k = np.arange(pair_pred.size) - np.repeat(offsets, cnt)
    pair_gt = gt_order[np.repeat(gstart[gid], cnt) + pair_k]
    pair_order = np.argsort(rank[pair_pred], kind='stable')
    pair_pred = pair_pred[pair_order]
    pair_gt = pair_gt[pair_order]
    tiou = paired_tiou(pred_segments[m[pair_pred]], gt.segments[pair_gt])
    key = np.where(np.isnan(tiou), np.inf, tiou)  # visiting order: NaN first, then descending
    cand_all = candidates(tiou)

    pair_rank = rank[pair_pred]
    rank_bounds = np.searchsorted(pair_rank, np.arange(pair_rank[-1] + 2), side='left')
    locked = np.zeros((n_thr, gt.num_instances), dtype=bool)
    for r in range(pair_rank[-1] + 1):
        a, b = rank_bounds[r], rank_bounds[r + 1]
        if a == b:
            continue
        preds = pair_pred[a:b]
        gts = pair_gt[a:b]
        starts = np.flatnonzero(np.r_[True, preds[1:] != preds[:-1]])
        elig = cand_all[:, a:b] & ~locked[:, gts]
        masked = np.where(elig, key[None, a:b], -np.inf)
        best = np.maximum.reduceat(masked, starts, axis=1)          # [T, n_preds_at_rank]
        hit = best > -np.inf
        if not hit.any():
            continue
        counts = np.diff(np.r_[starts, b - a])
        is_best = elig & (masked == np.repeat(best, counts, axis=1))
        local = np.where(is_best, np.arange(b - a)[None, :], b - a)
        first = np.minimum.reduceat(local, starts, axis=1)          # ties: GT file order
        t_idx, p_idx = np.nonzero(hit)
        locked[t_idx, gts[first[t_idx, p_idx]]] = True
        tp[t_idx, m[preds[starts[p_idx]]]] = True
    return tp


def average_precision_detection(gt: GroundTruth, preds: DetectionArrays,
                                tiou_thresholds: Sequence[float] | np.ndarray,
                                tie_order: str = 'stable',
                                nan_tiou: str = 'match') -> np.ndarray:
    """Per-class AP ``[T, C]`` (columns in ``gt.classes`` order), official semantics.

    Args:
        gt: ground truth of the subset.
        preds: predictions (labels must be valid GT class indices).
        tiou_thresholds: thresholds; ``tiou == thr`` is a match.
        tie_order: ``'stable'`` or ``'official'`` (see :func:`sort_by_class_and_score`).
        nan_tiou: ``'match'`` (official detection evaluator: ``NaN < thr`` is False) or
            ``'no_match'`` (0/0 never matches, like OpenTAD's epsilon clamp).
    """
    if nan_tiou not in _NAN_TIOU:
        raise ValueError(f'nan_tiou must be one of {_NAN_TIOU}, got {nan_tiou!r}')
    thresholds = np.asarray(tiou_thresholds, dtype=np.float64).reshape(-1)
    n_cls = len(gt.classes)
    ap = np.zeros((thresholds.shape[0], n_cls))
    if n_cls == 0 or len(preds) == 0:
        return ap
    if preds.label.size and (preds.label.min() < 0 or preds.label.max() >= n_cls):
        raise ValueError('prediction labels must be indices into gt.classes')
    if not np.all(np.isfinite(preds.scores)):
        raise ValueError('prediction scores must be finite (NaN/inf scores have no defined order)')

    order = sort_by_class_and_score(preds.label, preds.scores, tie_order)
    label_sorted = preds.label[order]
    tp = _greedy_match(gt, preds.video[order], label_sorted, preds.segments[order], thresholds,
                       nan_match=(nan_tiou == 'match'))

    npos = np.bincount(gt.label, minlength=n_cls).astype(np.float64)
    if (npos == 0).any():
        raise ValueError(f'{gt.source}: class {gt.classes[int(np.argmin(npos))]!r} has no '
                         f'ground-truth instance (classes must come from the GT)')
    bounds = np.searchsorted(label_sorted, np.arange(n_cls + 1), side='left')
    _ap_from_tp(tp, label_sorted, bounds, npos, ap)
    return ap


def _ap_from_tp(tp: np.ndarray, label_sorted: np.ndarray, bounds: np.ndarray, npos: np.ndarray,
                ap: np.ndarray) -> None:
    """Fill ``ap [T, C]`` from the TP flags ``[T, P]`` of class-sorted predictions, bitwise equal
    to :func:`interpolated_average_precision` of each (threshold, class).

    Only TP positions matter: the recall changes there (plus the sentinel step to recall 1, whose
    precision is 0), and the right-monotone precision at a TP is the max precision over the later
    TPs of the class (precision only falls between TPs). So the AP terms are computed for all
    classes and thresholds at once on the TPs; each (threshold, class) is then summed with
    ``np.sum`` over exactly the official compacted array, so the rounding is the official one.
    """
    n_thr, n_pred = tp.shape
    n_cls = ap.shape[1]
    if n_pred == 0:
        return
    cls_start = bounds[label_sorted]                        # first position of each one's class
    cum = np.cumsum(tp, axis=1, dtype=np.int64)
    t_idx, p_idx = np.nonzero(tp)                           # (threshold, class, position) order
    cs = cls_start[p_idx]
    before = np.where(cs > 0, cum[t_idx, np.maximum(cs - 1, 0)], 0)
    tp_cum = (cum[t_idx, p_idx] - before).astype(np.float64)
    cls = label_sorted[p_idx]
    rank = (p_idx - cls_start[p_idx] + 1).astype(np.float64)  # TP + FP so far: exact
    precision = tp_cum / rank
    recall = tp_cum / npos[cls]
    seg = t_idx * n_cls + cls                               # (threshold, class) segments
    n_tp = seg.shape[0]
    first = np.r_[True, seg[1:] != seg[:-1]] if n_tp else np.zeros(0, bool)
    prev_recall = np.r_[0.0, recall[:-1]] if n_tp else recall
    prev_recall[first] = 0.0
    # right-monotone precision per segment: reverse cummax on integer keys (exact), where the
    # key of a segment exceeds every key of the segments to its right
    values, vrank = np.unique(precision, return_inverse=True)
    seg_no = np.cumsum(first) - 1
    n_seg = int(seg_no[-1]) + 1 if n_tp else 0
    key = vrank.reshape(-1) + (n_seg - 1 - seg_no) * values.shape[0]
    key_max = np.maximum.accumulate(key[::-1])[::-1]
    mprec = values[key_max - (n_seg - 1 - seg_no) * values.shape[0]]
    terms = (recall - prev_recall) * mprec

    # per (threshold, class) with predictions: its TP terms, then a 0.0 term when the final
    # recall is not 1 (the official sentinel step); sum each in the official order
    has_pred = np.diff(bounds) > 0
    all_seg = (np.arange(n_thr)[:, None] * n_cls + np.flatnonzero(has_pred)[None, :]).reshape(-1)
    count = np.zeros(n_thr * n_cls, dtype=np.int64)
    np.add.at(count, seg, 1)
    last_recall = np.zeros(n_thr * n_cls)
    if n_tp:
        last = np.r_[first[1:], True]
        last_recall[seg[last]] = recall[last]
    pad = (last_recall != 1.0).astype(np.int64)
    size = count + pad
    start = np.cumsum(size) - size
    flat = np.zeros(int(size.sum()))
    flat[start[seg] + np.arange(n_tp) - (np.cumsum(count) - count)[seg]] = terms
    out = np.zeros(n_thr * n_cls)                           # row-major [T, C]
    for sg in all_seg.tolist():
        a = start[sg]
        out[sg] = np.sum(flat[a:a + size[sg]].copy())
    ap[...] = out.reshape(n_thr, n_cls)


def evaluate_detection(gt: GroundTruth,
                       predictions: DetectionArrays | Mapping[str, Sequence[Mapping[str, Any]]],
                       tiou_thresholds: Sequence[float] | np.ndarray = ANET_TIOU_THRESHOLDS,
                       tie_order: str = 'stable',
                       nan_tiou: str = 'match',
                       unknown_label: str = 'raise',
                       blocked_videos: Any = None) -> DetectionResult:
    """mAP at each tIoU threshold and average mAP, equal to the official ``ANETdetection``.

    Args:
        gt: ground truth (see :func:`~.ground_truth.load_ground_truth`).
        predictions: :class:`DetectionArrays` or a submission ``results`` dict.
        tiou_thresholds: default ``np.linspace(0.5, 0.95, 10)`` (ActivityNet).
        tie_order, nan_tiou: see :func:`average_precision_detection`.
        unknown_label, blocked_videos: see :func:`detections_from_results` (dict input only).
    """
    if not isinstance(predictions, DetectionArrays):
        predictions = detections_from_results(predictions, gt, unknown_label=unknown_label,
                                              blocked_videos=blocked_videos)
    thresholds = np.asarray(tiou_thresholds, dtype=np.float64).reshape(-1)
    ap = average_precision_detection(gt, predictions, thresholds, tie_order, nan_tiou)
    m_ap = ap.mean(axis=1) if ap.shape[1] else np.zeros(thresholds.shape[0])
    return DetectionResult(
        tiou_thresholds=thresholds,
        classes=list(gt.classes),
        ap=ap,
        mAP=m_ap,
        average_mAP=float(m_ap.mean()),
        num_predictions=len(predictions),
        num_gt=gt.num_instances,
        num_unknown_label=predictions.num_unknown_label)
