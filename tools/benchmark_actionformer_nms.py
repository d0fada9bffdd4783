"""Benchmark ActionFormer's inference post-processing: our batched PyTorch Soft-NMS against the
official algorithm (a scalar Python transliteration of its C++ ``softnms`` loop), same inputs,
same outputs asserted, timed in the same run.

    python tools/benchmark_actionformer_nms.py [--preset thumos|anet|both] [--videos N]
                                               [--repeat R] [--device cpu|cuda] [--length T]

Presets (official test_cfg of ``thumos_i3d.yaml`` / ``anet_tsp.yaml``):

* ``thumos``: T = 2304 (6 levels), 20 classes, ``pre_nms_topk`` 2000, multiclass Soft-NMS
  (sigma 0.5), min_score 0.001, ``max_seg_num`` 200;
* ``anet``: T = 192 (6 levels), 1 class, class-agnostic Soft-NMS (sigma 0.75), score voting 0.9,
  ``max_seg_num`` 100.

The head outputs are synthetic and seeded: a background logit N(mu, 1.5) (THUMOS mu = -9: about
6k candidates per video after the per-level top-2000; ANet mu = -5, near the focal-loss prior
-4.6: about 340 of the 378 points pass 0.001) with a few action bumps per video, offsets of 0.5-8
strides, so candidates overlap the way a trained model's do. Both sides
start from the same candidates (``select_candidates``, which is tensor code in the official model
as well). Baseline, per video as officially: per class (ascending) the C++ loop transliterated
(``sola_mm.evaluation.functional.softnms_reference``, run to the end as the op does), cap, concat,
sort, cap; class-agnostic: the same plus ``seg_voting``. Ours: ``batched_nms`` of all videos and
classes at once. Kept labels / indices must be identical, scores within 1e-6 (1 ulp: the exp of
numpy and torch differ by an ulp), segments within 1e-4.
"""
import argparse
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import sola_mm  # noqa: E402,F401  (compat fixes)
from sola_mm.evaluation.functional import score_voting, softnms_reference  # noqa: E402
from sola_mm.models.localizers.actionformer.postprocess import (  # noqa: E402
    batched_nms, select_candidates)

PRESETS = dict(
    thumos=dict(length=2304, levels=6, classes=20, videos=4, background=-9.0,
                cfg=dict(pre_nms_thresh=0.001, pre_nms_topk=2000, iou_threshold=0.1,
                         min_score=0.001, max_seg_num=200, nms_sigma=0.5, duration_thresh=0.05,
                         multiclass_nms=True, voting_thresh=0.7)),
    anet=dict(length=192, levels=6, classes=1, videos=16, background=-5.0,
              cfg=dict(pre_nms_thresh=0.001, pre_nms_topk=2000, iou_threshold=0.1,
                       min_score=0.001, max_seg_num=100, nms_sigma=0.75, duration_thresh=0.001,
                       multiclass_nms=False, voting_thresh=0.9)))


def make_heads(preset: dict, videos: int, seed: int = 0):
    """Seeded head outputs: per level points [T_l, 4], logits [B, T_l, K], offsets, masks."""
    gen = torch.Generator().manual_seed(seed)
    points, logits, offsets, masks = [], [], [], []
    for level in range(preset['levels']):
        stride = 2**level
        t_len = preset['length'] // stride
        t = torch.arange(t_len, dtype=torch.float32) * stride
        points.append(torch.stack([t, torch.zeros_like(t), torch.full_like(t, 1e4),
                                   torch.full_like(t, float(stride))], 1))
        logit = (torch.randn(videos, t_len, preset['classes'], generator=gen) * 1.5
                 + preset['background'])
        for _ in range(4):  # action bumps: high logits over a stretch, for one class
            centre = torch.randint(0, t_len, (videos, ), generator=gen)
            width = max(1, t_len // 16)
            cls = torch.randint(0, preset['classes'], (videos, ), generator=gen)
            for b in range(videos):
                lo, hi = max(0, int(centre[b]) - width), min(t_len, int(centre[b]) + width)
                logit[b, lo:hi, cls[b]] += 6.0 + torch.rand(hi - lo, generator=gen) * 4
        logits.append(logit)
        offsets.append(torch.rand(videos, t_len, 2, generator=gen) * 7.5 + 0.5)
        masks.append(torch.ones(videos, t_len, dtype=torch.bool))
    return points, logits, offsets, masks


def official_nms(segs: np.ndarray, scores: np.ndarray, labels: np.ndarray, cfg: dict):
    """The official ``batched_nms`` for one video, with the C++ loop in Python."""
    def softnms(sel):
        inds, dets = softnms_reference(segs[sel], scores[sel], cfg['iou_threshold'],
                                       cfg['nms_sigma'], cfg['min_score'], 2)
        n = min(len(inds), cfg['max_seg_num'])
        return dets[:n, :2], dets[:n, 2], labels[sel][inds][:n]

    if cfg['multiclass_nms']:
        parts = [softnms(np.flatnonzero(labels == c)) for c in np.unique(labels)]
        new_segs = np.concatenate([p[0] for p in parts])
        new_scores = np.concatenate([p[1] for p in parts])
        new_labels = np.concatenate([p[2] for p in parts])
    else:
        new_segs, new_scores, new_labels = softnms(np.arange(len(scores)))
        if cfg['voting_thresh'] > 0:
            new_segs = score_voting(torch.from_numpy(new_segs)[None],
                                    torch.from_numpy(segs)[None],
                                    torch.from_numpy(scores)[None],
                                    torch.tensor([len(scores)]),
                                    cfg['voting_thresh'])[0].numpy()
    order = np.argsort(-new_scores, kind='stable')[:cfg['max_seg_num']]
    return new_segs[order], new_scores[order], new_labels[order]


def run(name: str, videos: int, repeat: int, device: str, length: int = None) -> float:
    preset = dict(PRESETS[name], length=length or PRESETS[name]['length'])
    cfg = preset['cfg']
    points, logits, offsets, masks = make_heads(preset, videos)
    cand = select_candidates(points, logits, offsets, masks, cfg['pre_nms_thresh'],
                             cfg['pre_nms_topk'], cfg['duration_thresh'])
    counts = cand.counts.tolist()
    print(f'[{name}] {videos} videos, T={preset["length"]}, {preset["classes"]} classes: '
          f'{sum(counts)} candidates ({min(counts)}-{max(counts)} per video)')

    def ours():
        c = cand
        if device != 'cpu':
            c = type(cand)(cand.segs.to(device), cand.scores.to(device), cand.labels.to(device),
                           cand.counts.to(device), None)
        out = batched_nms(c, cfg['iou_threshold'], cfg['min_score'], cfg['max_seg_num'], 'soft',
                          cfg['multiclass_nms'], cfg['nms_sigma'], cfg['voting_thresh'])
        if device != 'cpu':
            torch.cuda.synchronize()
        return out

    ours()  # warm-up
    t0 = time.perf_counter()
    for _ in range(repeat):
        det = ours()
    t_ours = (time.perf_counter() - t0) / repeat

    t0 = time.perf_counter()
    ref = [official_nms(*(x.numpy() for x in cand.video(b)), cfg) for b in range(videos)]
    t_ref = time.perf_counter() - t0

    for b, (r_segs, r_scores, r_labels) in enumerate(ref):
        n = int(det.counts[b])
        assert n == len(r_scores), (name, b, n, len(r_scores))
        np.testing.assert_array_equal(det.labels[b, :n].cpu().numpy(), r_labels)
        np.testing.assert_allclose(det.scores[b, :n].cpu().numpy(), r_scores, rtol=0, atol=1e-6)
        np.testing.assert_allclose(det.segs[b, :n].cpu().numpy(), r_segs, rtol=0, atol=1e-4)
    ratio = t_ref / t_ours
    print(f'[{name}] official algorithm (Python C++ loop, per video/class): {t_ref:.3f} s; '
          f'ours batched on {device}: {t_ours * 1e3:.1f} ms; same outputs; speed-up {ratio:.1f}x '
          f'(goal >= 10x)')
    return ratio


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--preset', choices=['thumos', 'anet', 'both'], default='both')
    parser.add_argument('--videos', type=int, default=None,
                        help='videos per preset (default: thumos 4, anet 16)')
    parser.add_argument('--repeat', type=int, default=3)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--length', type=int, default=None,
                        help='input length T instead of the preset\'s (a multiple of 32)')
    args = parser.parse_args(argv)
    names = ['thumos', 'anet'] if args.preset == 'both' else [args.preset]
    return {n: run(n, args.videos or PRESETS[n]['videos'], args.repeat, args.device, args.length)
            for n in names}


if __name__ == '__main__':
    main()
