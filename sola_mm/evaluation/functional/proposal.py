"""Average recall vs. average number of proposals (AR@AN) and AUC, equal to the official evaluator.

Semantics of the official ``ANETproposal`` / ``average_recall_vs_avg_nr_proposals``
(activitynet/ActivityNet ``Evaluation/eval_proposal.py``), reproduced bitwise:

* Only videos with at least one GT instance in the subset are evaluated; a GT video without
  proposals contributes zero matches.
* **Global ratio**: ``ratio = max_avg_nr_proposals * n_videos / n_proposals_loaded``, where the
  denominator counts *all* loaded proposals (videos outside the GT included). Each video keeps its
  top ``min(int(n_v * ratio), n_v)`` proposals by score.
* **AN is a fraction of each video's own proposals**: ``pcn = arange(1, 101) / 100 *
  (max_avg * n_videos / total_kept)``; video v uses its first ``min(int(n_kept_v * pcn_j),
  n_kept_v)`` proposals (C ``int`` truncation, so AN=29 uses 28 of 100).
* **Recall** at tIoU t: fraction of all GT instances with *any* used proposal of tIoU >= t (no
  one-to-one matching); a 0/0 tIoU (NaN) is a miss. ``avg_recall`` = mean over thresholds.
* ``AUC = trapezoid(avg_recall, proposals_per_video)``; the number BSN/BMN/G-TAD report is
  ``100 * AUC / proposals_per_video[-1]``. ``np.trapz`` is gone in numpy 2.4: ``np.trapezoid``.

The official code loops over videos, thresholds and the 100 AN points in Python; here the first
hit rank of every GT at every threshold is computed once and compared with all AN points at once.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from .detection import ANET_TIOU_THRESHOLDS
from .ground_truth import GroundTruth, expand_video_ids, load_video_list
from .tiou import paired_tiou

__all__ = ['ProposalArrays', 'ProposalResult', 'evaluate_proposals', 'proposals_from_results']

_TIE_ORDERS = ('stable', 'official')


@dataclass
class ProposalArrays:
    """Proposals as flat arrays in load order.

    Attributes:
        video: ``[P]`` int64 index into ``gt.video_ids``; -1 for videos not in the GT.
        segments: ``[P, 2]`` float64 seconds.
        scores: ``[P]`` float64.
        num_blocked: proposals dropped because their video is blocked.
    """

    video: np.ndarray
    segments: np.ndarray
    scores: np.ndarray
    num_blocked: int = 0

    def __len__(self) -> int:
        return int(self.scores.shape[0])


@dataclass
class ProposalResult:
    """Output of :func:`evaluate_proposals` (names follow the official evaluator)."""

    tiou_thresholds: np.ndarray
    recall: np.ndarray              # [T, 100]
    avg_recall: np.ndarray          # [100]
    proposals_per_video: np.ndarray  # [100]
    auc_raw: float                  # trapezoid(avg_recall, proposals_per_video)
    auc: float                      # 100 * auc_raw / proposals_per_video[-1] (what papers report)
    num_videos: int
    num_gt: int
    num_proposals: int

    def ar_at(self, an: float) -> float:
        """Average recall at average number ``an`` of proposals (``avg_recall[k-1]`` for AN=k).

        The point whose ``proposals_per_video`` is closest to ``an`` is used; an AN more than
        half a step away from every point raises ``ValueError``. Without any proposal the
        recall is 0 at every AN.
        """
        if self.proposals_per_video[-1] <= 0:  # no proposal at all: nothing is recalled
            return 0.0
        idx = int(np.argmin(np.abs(self.proposals_per_video - an)))
        step = self.proposals_per_video[0]
        if abs(self.proposals_per_video[idx] - an) > 0.5 * step + 1e-9:
            raise ValueError(f'AN={an} is not one of the evaluated points '
                             f'({self.proposals_per_video[0]:.3g}..'
                             f'{self.proposals_per_video[-1]:.3g})')
        return float(self.avg_recall[idx])

    def to_dict(self, ans: Sequence[int] = (1, 5, 10, 50, 100)) -> dict[str, Any]:
        """JSON-serialisable summary."""
        out: dict[str, Any] = {f'AR@{k}': self.ar_at(k) for k in ans
                               if k <= self.proposals_per_video[-1] + 1e-9}
        out.update(AUC=self.auc, auc_raw=self.auc_raw,
                   tiou_thresholds=self.tiou_thresholds.tolist(),
                   avg_recall=self.avg_recall.tolist(),
                   proposals_per_video=self.proposals_per_video.tolist(),
                   recall=self.recall.tolist(), num_videos=self.num_videos, num_gt=self.num_gt,
                   num_proposals=self.num_proposals)
        return out


def proposals_from_results(results: Mapping[str, Sequence[Mapping[str, Any]]],
                           gt: GroundTruth,
                           blocked_videos: Any = None) -> ProposalArrays:
    """``{video: [{score, segment, (label)}]}`` -> :class:`ProposalArrays` (labels unused)."""
    blocked = expand_video_ids(load_video_list(blocked_videos))
    vids: list[np.ndarray] = []
    segs: list[Any] = []
    scores: list[Any] = []
    n_blocked = 0
    for name, rows in results.items():
        vidx = gt.find_video(name)
        if name in blocked:
            n_blocked += len(rows)
            continue
        if not rows:
            continue
        try:
            segs.extend([r['segment'] for r in rows])
            scores.extend([r['score'] for r in rows])
        except KeyError as exc:
            raise ValueError(f'video {name!r}: every proposal needs "segment" and "score", '
                             f'missing {exc}') from None
        vids.append(np.full(len(rows), -1 if vidx is None else vidx, dtype=np.int64))
    video = np.concatenate(vids) if vids else np.zeros(0, np.int64)
    return ProposalArrays(video, np.asarray(segs, np.float64).reshape(-1, 2),
                          np.asarray(scores, np.float64), n_blocked)


def evaluate_proposals(gt: GroundTruth,
                       proposals: ProposalArrays | Mapping[str, Sequence[Mapping[str, Any]]],
                       tiou_thresholds: Sequence[float] | np.ndarray = ANET_TIOU_THRESHOLDS,
                       max_avg_nr_proposals: float = 100,
                       tie_order: str = 'stable',
                       blocked_videos: Any = None) -> ProposalResult:
    """AR@AN curve and AUC with the official ActivityNet proposal semantics (module docstring).

    Args:
        gt: ground truth of the subset (labels are ignored).
        proposals: :class:`ProposalArrays` or a ``results`` dict ``{video: [{score, segment}]}``.
        tiou_thresholds: default ``np.linspace(0.5, 0.95, 10)``.
        max_avg_nr_proposals: the official ``max_avg_nr_proposals`` (100 for ActivityNet).
        tie_order: ``'stable'`` (ties by load order) or ``'official'`` (per-video
            ``score.argsort()[::-1]``, the official expression).
        blocked_videos: dict input only, see :func:`proposals_from_results`.
    """
    if tie_order not in _TIE_ORDERS:
        raise ValueError(f'tie_order must be one of {_TIE_ORDERS}, got {tie_order!r}')
    if not isinstance(proposals, ProposalArrays):
        proposals = proposals_from_results(proposals, gt, blocked_videos=blocked_videos)
    thresholds = np.asarray(tiou_thresholds, dtype=np.float64).reshape(-1)
    n_thr = thresholds.shape[0]

    # videos evaluated: those with GT instances, in order of first appearance
    gt_videos, first = np.unique(gt.video, return_index=True)
    gt_videos = gt_videos[np.argsort(first)]
    n_videos = gt_videos.shape[0]
    n_gt = gt.num_instances
    n_loaded = len(proposals)
    if n_videos == 0:
        raise ValueError(f'{gt.source}: no ground-truth instance in the evaluated subset')
    ratio = max_avg_nr_proposals * float(n_videos) / n_loaded if n_loaded else 0.0

    # proposals of GT videos, sorted by (video, descending score)
    vslot = np.full(len(gt.video_ids), -1, dtype=np.int64)
    vslot[gt_videos] = np.arange(n_videos)
    pv = np.where(proposals.video >= 0, vslot[np.maximum(proposals.video, 0)], -1)
    sel = np.flatnonzero(pv >= 0)
    if tie_order == 'stable':
        order = sel[np.lexsort((-proposals.scores[sel], pv[sel]))]
    else:
        by_v = sel[np.argsort(pv[sel], kind='stable')]
        pv_s = pv[by_v]
        bnd = np.flatnonzero(np.r_[True, pv_s[1:] != pv_s[:-1], True])
        order = np.empty_like(by_v)
        for a, b in zip(bnd[:-1], bnd[1:]):
            rows = by_v[a:b]
            order[a:b] = rows[proposals.scores[rows].argsort()[::-1]]
    pv_sorted = pv[order]
    n_per_video = np.bincount(pv_sorted, minlength=n_videos)
    vstart = np.cumsum(n_per_video) - n_per_video
    rank = np.arange(order.shape[0]) - vstart[pv_sorted]
    # official: nr = min(int(n_v * ratio), n_v); int() truncates toward zero
    n_kept = np.minimum(np.trunc(n_per_video * ratio).astype(np.int64), n_per_video)
    total_kept = int(n_kept.sum())
    keep = rank < n_kept[pv_sorted]
    kept_idx = order[keep]
    kept_video = pv_sorted[keep]
    kept_rank = rank[keep]

    # tIoU of every GT with every kept proposal of its video -> first hit rank per threshold
    gslot = vslot[gt.video]                                   # GT -> evaluated video slot
    g_order = np.argsort(gslot, kind='stable')
    k_per_video = np.bincount(kept_video, minlength=n_videos)
    kstart = np.cumsum(k_per_video) - k_per_video
    pair_g = np.repeat(g_order, k_per_video[gslot[g_order]])
    reps = k_per_video[gslot[g_order]]
    pair_j = np.arange(pair_g.shape[0]) - np.repeat(np.cumsum(reps) - reps, reps)
    pair_p = kstart[gslot[pair_g]] + pair_j                 # index into kept_*
    tiou = paired_tiou(proposals.segments[kept_idx[pair_p]], gt.segments[pair_g])
    big = np.iinfo(np.int64).max
    first_hit = np.full((n_thr, n_gt), big, dtype=np.int64)
    for t in range(n_thr):
        hit = tiou >= thresholds[t]                         # NaN -> miss (official)
        np.minimum.at(first_hit[t], pair_g[hit], kept_rank[pair_p[hit]])

    if total_kept > 0:
        pcn = np.arange(1, 101) / 100.0 * (max_avg_nr_proposals * float(n_videos) / total_kept)
    else:
        pcn = np.arange(1, 101) / 100.0 * 0.0
    # official: a video without kept proposals has a [n_gt, 1] zero score matrix -> width 1;
    # a video whose kept count is 0 but has proposals keeps width 0
    width = np.where(n_per_video > 0, n_kept, 1)
    n_used = np.minimum((width[:, None] * pcn[None, :]).astype(np.int64), width[:, None])
    used_per_gt = n_used[gslot]                                # [G, 100]
    matches = (first_hit[:, :, None] < used_per_gt[None, :, :]).sum(axis=1)  # [T, 100]
    recall = matches.astype(np.float64) / float(n_gt)
    avg_recall = recall.mean(axis=0)
    proposals_per_video = pcn * (float(total_kept) / n_videos)
    auc_raw = float(np.trapezoid(avg_recall, proposals_per_video))
    auc = 100.0 * auc_raw / proposals_per_video[-1] if proposals_per_video[-1] > 0 else 0.0
    return ProposalResult(thresholds, recall, avg_recall, proposals_per_video, auc_raw,
                          float(auc), n_videos, n_gt, n_loaded)
