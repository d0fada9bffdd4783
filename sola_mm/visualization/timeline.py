"""Timeline figure of one video: detections as bars over time, ground truth underneath.

Top panel: the detections (best ``top_k`` above ``score_thr``), one lane per class (classes
ordered by their best score), overlapping detections of a class stacked in sub-rows; each bar's
opacity follows its score and it is labelled with the score. Bottom panel (when ground truth is
given): the annotated instances, one lane per class, same colours. Class names sit on the y axis,
so the figure stays readable with many classes (the height grows with the lanes).
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence


__all__ = ['plot_timeline', 'select_detections']


def select_detections(detections: Sequence[dict], top_k: int = 20,
                      score_thr: float = 0.0) -> List[dict]:
    """The best ``top_k`` detections with ``score >= score_thr``, best first."""
    kept = [d for d in detections if float(d['score']) >= score_thr]
    return sorted(kept, key=lambda d: -float(d['score']))[:top_k]


def _pack(intervals: List[tuple]) -> List[int]:
    """Greedy sub-row for each (start, end) so that bars of one row do not overlap."""
    ends: List[float] = []
    rows = []
    for s, e in intervals:
        for r, end in enumerate(ends):
            if s >= end:
                ends[r] = e
                rows.append(r)
                break
        else:
            ends.append(e)
            rows.append(len(ends) - 1)
    return rows


def _lanes(items: Sequence[dict], classes: List[str]):
    """(class, sub-row) lane of each item and the lane labels, top to bottom."""
    lanes: List[tuple] = []
    where: Dict[int, int] = {}
    for cls in classes:
        idx = [i for i, d in enumerate(items) if str(d['label']) == cls]
        idx.sort(key=lambda i: float(items[i]['segment'][0]))
        rows = _pack([tuple(map(float, items[i]['segment'])) for i in idx])
        base = len(lanes)
        for r in range(max(rows, default=-1) + 1):
            lanes.append((cls, r))
        for i, r in zip(idx, rows):
            where[i] = base + r
    return lanes, where


def plot_timeline(detections: Sequence[dict], duration: float,
                  annotations: Optional[Sequence[dict]] = None, title: str = '',
                  out_file: Optional[str] = None, top_k: int = 20, score_thr: float = 0.0,
                  dpi: int = 100):
    """Draw (and save to ``out_file``, atomically) the timeline; returns the matplotlib figure.

    ``detections``: ``[{label, score, segment: [start_s, end_s]}]``; ``annotations``: ground
    truth ``[{label, segment}]`` or None."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    dets = select_detections(detections, top_k, score_thr)
    gts = list(annotations or [])
    det_classes = list(dict.fromkeys(str(d['label']) for d in dets))
    gt_classes = list(dict.fromkeys(str(a['label']) for a in gts))
    palette = plt.get_cmap('tab10' if len(set(det_classes + gt_classes)) <= 10 else 'tab20')
    colour = {c: palette(i % palette.N) for i, c in enumerate(dict.fromkeys(det_classes +
                                                                            gt_classes))}
    det_lanes, det_row = _lanes(dets, det_classes)
    gt_lanes, gt_row = _lanes(gts, gt_classes)
    n_det, n_gt = max(len(det_lanes), 1), len(gt_lanes)
    panels = [n_det] + ([n_gt] if annotations is not None else [])
    height = 1.2 + 0.38 * sum(max(p, 1) for p in panels) + 0.5 * len(panels)
    fig, axes = plt.subplots(len(panels), 1, figsize=(11, height), sharex=True, squeeze=False,
                             gridspec_kw=dict(height_ratios=[max(p, 1) for p in panels]))
    axes = axes[:, 0]
    top = max((float(d['score']) for d in dets), default=1.0) or 1.0

    def lane_axis(ax, lanes, heading):
        ax.set_ylim(len(lanes) - 0.5 if lanes else 0.5, -0.5)
        ax.set_yticks(range(len(lanes)))
        ax.set_yticklabels([c if r == 0 else '' for c, r in lanes], fontsize=8)
        ax.set_ylabel(heading, fontsize=9)
        ax.grid(axis='x', alpha=0.3)

    ax = axes[0]
    for i, d in enumerate(dets):
        s, e = (float(v) for v in d['segment'])
        score = float(d['score'])
        y = det_row[i]
        ax.barh(y, max(e - s, 1e-3), left=s, height=0.75, color=colour[str(d['label'])],
                alpha=0.35 + 0.65 * score / top, edgecolor='black', linewidth=0.5)
        ax.text(s + (e - s) / 2, y, f'{score:.2f}', ha='center', va='center', fontsize=7)
    lane_axis(ax, det_lanes, f'detections (top {len(dets)})')
    if not dets:
        ax.text(duration / 2, 0, 'no detection', ha='center', va='center', fontsize=9)
    if annotations is not None:
        ax = axes[1]
        for i, a in enumerate(gts):
            s, e = (float(v) for v in a['segment'])
            ax.barh(gt_row[i], max(e - s, 1e-3), left=s, height=0.75,
                    color=colour[str(a['label'])], edgecolor='black', linewidth=0.5, hatch='//')
        lane_axis(ax, gt_lanes, 'ground truth')
        if not gts:
            ax.text(duration / 2, 0, 'no annotated action', ha='center', va='center', fontsize=9)
    axes[-1].set_xlim(0, max(float(duration), 1e-3))
    axes[-1].set_xlabel('time (s)')
    if title:
        axes[0].set_title(title, fontsize=10)
    fig.tight_layout()
    if out_file:
        import os
        os.makedirs(os.path.dirname(os.path.abspath(out_file)), exist_ok=True)
        root, ext = os.path.splitext(out_file)
        tmp = f'{root}.tmp.{os.getpid()}{ext}'
        fig.savefig(tmp, dpi=dpi)
        os.replace(tmp, out_file)
    return fig
