"""Benchmark the evaluation code at ActivityNet-1.3 validation scale (generated data).

    python tools/benchmark_eval.py [--videos 4728] [--detections 100] [--nms-baseline-videos N]

1. Detection mAP (tIoU 0.5:0.05:0.95) of ~4.7k videos x 100 detections: the vectorised
   ``evaluate_detection`` against a straightforward per-class Python loop of the same algorithm
   (``average_precision_detection_loop``), timed in the same run; the per-class AP must be
   bitwise identical.
2. BMN post-processing (soft-NMS alpha 0.4, thresholds 0.5 / 0.9, top 100, seconds) of the same
   number of videos: ``bmn_post_processing`` (batched) against MMAction2's own per-video loop
   (``mmaction.models.localizers.utils.post_processing``); the proposal lists must be identical.
   ``--nms-baseline-videos`` times the MMAction2 loop on the first N videos only (the ratio is then
   per video and says so).

The data are seeded and shaped like the real thing: 200 classes, 1-3 instances per video
(ANet-1.3 has 1.5 on average), 50 proposals x top-2 classes per video around the GT plus
background, scores rounded to 4 decimals (ties included); BMN candidates from start/end curves
with the BMN rule (local maxima or > 0.5 max) on T = 100.
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import sola_mm  # noqa: E402,F401  (compat fixes: mmaction.models imports)
from sola_mm.evaluation.functional import (ANET_TIOU_THRESHOLDS, DetectionArrays,  # noqa: E402
                                           GroundTruth, average_precision_detection_loop,
                                           bmn_post_processing, evaluate_detection)


def make_detection_data(num_videos: int, per_video: int, num_classes: int = 200, seed: int = 0):
    """GT and predictions (as arrays) at ANet scale."""
    rng = np.random.default_rng(seed)
    durations = rng.uniform(20, 240, num_videos).round(2)
    n_inst = rng.choice([1, 2, 3], num_videos, p=[0.65, 0.25, 0.10])
    g_video = np.repeat(np.arange(num_videos), n_inst)
    vid_class = rng.integers(0, num_classes, num_videos)          # one activity per video
    g_label = vid_class[g_video]
    dur = durations[g_video]
    length = dur * rng.beta(1.2, 2.5, g_video.size)
    start = rng.uniform(0, 1, g_video.size) * (dur - length)
    g_seg = np.stack([start, start + length], axis=1).round(2)
    gt = GroundTruth([f'v_{i:06d}' for i in range(num_videos)],
                     [f'class_{c:03d}' for c in range(num_classes)], g_video, g_label, g_seg,
                     durations)

    n_prop = per_video // 2
    p_video = np.repeat(np.arange(num_videos), n_prop)
    # proposals: jittered GT of the video (60 %) or random background segments
    first = np.r_[0, np.cumsum(n_inst)[:-1]]
    pick = first[p_video] + rng.integers(0, 1 << 30, p_video.size) % n_inst[p_video]
    base = g_seg[pick]
    span = base[:, 1] - base[:, 0]
    jitter = rng.normal(0, 0.15, (p_video.size, 2)) * span[:, None]
    d = durations[p_video]
    rand_len = d * rng.uniform(0.02, 0.9, p_video.size)
    rand_start = rng.uniform(0, 1, p_video.size) * (d - rand_len)
    rand = np.stack([rand_start, rand_start + rand_len], axis=1)
    near = rng.uniform(0, 1, p_video.size) < 0.6
    seg = np.where(near[:, None], base + jitter, rand).round(2)
    score = np.where(near, rng.uniform(0.3, 1, p_video.size), rng.uniform(0, 0.6, p_video.size))
    # top-2 classes of a 90 %-accurate classifier, blocked like BSN / BMN / G-TAD
    top1 = np.where(rng.uniform(0, 1, num_videos) < 0.9, vid_class,
                    rng.integers(0, num_classes, num_videos))
    top2 = (top1 + rng.integers(1, num_classes, num_videos)) % num_classes
    c1, c2 = rng.uniform(0.5, 1, num_videos), rng.uniform(0, 0.5, num_videos)
    video = np.concatenate([p_video, p_video])
    label = np.concatenate([top1[p_video], top2[p_video]])
    segments = np.concatenate([seg, seg])
    scores = np.concatenate([score * c1[p_video], score * c2[p_video]]).round(4)
    order = np.lexsort((np.r_[np.zeros(p_video.size), np.ones(p_video.size)], video))
    # classes = those with GT (as loaded from a file); other predicted labels are dropped
    present = np.unique(g_label)
    remap = np.full(num_classes, -1)
    remap[present] = np.arange(present.size)
    gt.classes = [gt.classes[c] for c in present]
    gt.label = remap[g_label]
    label = remap[label[order]]
    keep = label >= 0
    return gt, DetectionArrays(video[order][keep], label[keep], segments[order][keep],
                               scores[order][keep])


def make_bmn_candidates(num_videos: int, tscale: int = 100, seed: int = 1):
    """BMN candidate rows ``[N, 7]`` (tmin, tmax, start, end, clr, reg, score) per video."""
    rng = np.random.default_rng(seed)
    results, infos = [], []
    t = np.arange(tscale)
    for v in range(num_videos):
        curves = []
        for _ in range(2):
            c = 0.08 * rng.uniform(0, 1, tscale)
            for pos in rng.integers(0, tscale, rng.integers(1, 4)):
                c += rng.uniform(0.4, 0.9) * np.exp(-0.5 * ((t - pos) / 1.5) ** 2)
            curves.append(c)
        s, e = curves
        sb = np.zeros(tscale, bool)
        eb = np.zeros(tscale, bool)
        sb[0] = eb[-1] = True
        i = t[1:-1]
        sb[i] = ((s[i] > s[i + 1]) & (s[i] > s[i - 1])) | (s[i] > 0.5 * s.max())
        eb[i] = ((e[i] > e[i + 1]) & (e[i] > e[i - 1])) | (e[i] > 0.5 * e.max())
        dd, ss = np.nonzero((t[None, :] + t[:, None] + 1 < tscale) & sb[None, :]
                            & eb[np.minimum(t[None, :] + t[:, None] + 1, tscale - 1)])
        ee = ss + dd + 1
        clr = rng.uniform(0, 1, dd.size)
        reg = rng.uniform(0, 1, dd.size)
        results.append(np.stack([ss / tscale, ee / tscale, s[ss], e[ee], clr, reg,
                                 s[ss] * e[ee] * clr * reg], axis=1))
        frames = int(rng.integers(600, 7000))
        infos.append(dict(video_name=f'v_{v:06d}', duration_frame=frames,
                          duration_second=frames / 29.97))
    return results, infos


def best_of(repeat: int, fn, *args):
    """(best wall time of ``repeat`` calls, result of the last call)."""
    best, out = float('inf'), None
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter()
        out = fn(*args)
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--videos', type=int, default=4728, help='ANet-1.3 val: 4728 with GT')
    parser.add_argument('--detections', type=int, default=100, help='detections per video')
    parser.add_argument('--nms-baseline-videos', type=int, default=None,
                        help='time MMAction2\'s loop on the first N videos only (default all)')
    parser.add_argument('--repeat', type=int, default=3,
                        help='best of N runs for each timing (the MMAction2 loop over all '
                             'videos runs once: it is long enough to average the noise)')
    parser.add_argument('--skip-map', action='store_true')
    parser.add_argument('--skip-nms', action='store_true')
    args = parser.parse_args()

    if not args.skip_map:
        gt, preds = make_detection_data(args.videos, args.detections)
        print(f'[mAP] {len(gt.video_ids)} videos, {gt.num_instances} GT instances, '
              f'{len(gt.classes)} classes, {len(preds)} detections, 10 tIoU thresholds')
        t_fast, fast = best_of(args.repeat, evaluate_detection, gt, preds, ANET_TIOU_THRESHOLDS)
        t_slow, slow = best_of(args.repeat, average_precision_detection_loop, gt, preds,
                               ANET_TIOU_THRESHOLDS)
        same = np.array_equal(fast.ap, slow)
        print(f'[mAP] best of {args.repeat} runs each')
        print(f'[mAP] vectorised evaluate_detection: {t_fast:.3f} s   average mAP '
              f'{fast.average_mAP:.6f}')
        print(f'[mAP] per-class Python loop:        {t_slow:.3f} s   average mAP '
              f'{slow.mean(axis=1).mean():.6f}')
        print(f'[mAP] per-class AP bitwise identical: {same}   speed-up: {t_slow / t_fast:.1f}x')
        if not same:
            raise SystemExit('mAP mismatch between the vectorised code and the loop')

    if not args.skip_nms:
        from mmaction.models.localizers.utils import post_processing
        results, infos = make_bmn_candidates(args.videos)
        counts = np.array([len(r) for r in results])
        print(f'[soft-NMS] {len(results)} videos, BMN candidates per video: mean '
              f'{counts.mean():.0f}, min {counts.min()}, max {counts.max()}; alpha 0.4, '
              f'thresholds 0.5/0.9, top 100')
        cfg = (0.4, 0.5, 0.9, 100, 16)
        t_fast, ours = best_of(args.repeat, bmn_post_processing, results, infos, *cfg)
        n_base = len(results) if args.nms_baseline_videos is None else args.nms_baseline_videos
        t0 = time.perf_counter()
        ref = [post_processing(results[i], infos[i], *cfg) for i in range(n_base)]
        t_slow = time.perf_counter() - t0
        same = all(a == b for a, b in zip(ours[:n_base], ref))
        per_fast = t_fast / len(results)
        per_slow = t_slow / n_base
        print(f'[soft-NMS] batched bmn_post_processing (best of {args.repeat}): {t_fast:.3f} s for '
              f'{len(results)} videos '
              f'({1e3 * per_fast:.2f} ms/video)')
        print(f'[soft-NMS] MMAction2 post_processing:   {t_slow:.3f} s for {n_base} videos '
              f'({1e3 * per_slow:.2f} ms/video)')
        print(f'[soft-NMS] identical proposal lists ({n_base} videos): {same}   speed-up: '
              f'{per_slow / per_fast:.1f}x' + ('' if n_base == len(results) else ' (per video)'))
        if not same:
            raise SystemExit('soft-NMS output differs from MMAction2')


if __name__ == '__main__':
    main()
