"""Benchmark the frozen SoLa neck per stage-2 epoch: the authors' order (whole native-length videos)
with and without NeckLocalizer's output cache, against the old order (resize first, one batch).

    python tools/benchmark_neck_cache.py                    # ANet-like: C=400, H=512, 512 videos
    python tools/benchmark_neck_cache.py --videos 64 --channels 2048 --min-len 200 --max-len 2000

Each mode runs ``--epochs`` passes over the same synthetic videos (lengths uniform in
[min-len, max-len], batches of ``--batch``) through ``NeckLocalizer.extract_feat`` only (the
localizer is not timed):

* ``resized``: the old order, every video resized to ``--scale`` snippets, stacked, one neck call
  per batch (the baseline of the ratios);
* ``native``: the neck on each whole video, then the resize (``neck_cache_bytes=0``);
* ``native+cache``: the same with the cache; the first epoch fills it, later ones read it.

Prints seconds per epoch (first and later epochs apart), the ratio to ``resized``, and the bytes
the cache holds (the memory it costs, bounded by ``--cache-bytes``).
"""
from __future__ import annotations

import argparse
import os.path as osp
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def _samples(lengths, scale, offset):
    from mmaction.structures import ActionDataSample
    out = []
    for i, _ in enumerate(lengths):
        sample = ActionDataSample()
        sample.set_metainfo(dict(neck_post=dict(resize=scale, key=f'video{offset + i}')))
        out.append(sample)
    return out


def run(args) -> dict:
    import numpy as np
    import torch

    import sola_mm  # noqa: F401
    from mmaction.registry import MODELS
    from sola_mm.datasets.feature_io import resize_temporal
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    lengths = rng.integers(args.min_len, args.max_len + 1, args.videos)
    videos = [torch.randn(args.channels, int(n)) for n in lengths]
    batches = [list(range(i, min(i + args.batch, len(videos))))
               for i in range(0, len(videos), args.batch)]
    results = {}
    for mode in ('resized', 'native', 'native+cache'):
        model = MODELS.build(dict(
            type='NeckLocalizer', localizer=dict(type='GTAD', feat_dim=args.channels),
            neck=dict(type='SoLa', in_channels=args.channels, hidden_channels=args.hidden,
                      frozen=True),
            neck_cache_bytes=args.cache_bytes if mode == 'native+cache' else 0)).eval()
        model.to(args.device)
        times = []
        for _ in range(args.epochs):
            start = time.perf_counter()
            with torch.no_grad():
                for idx in batches:
                    x = [videos[i].to(args.device) for i in idx]
                    if mode == 'resized':
                        model.extract_feat(torch.stack([resize_temporal(v, args.scale) for v in x]))
                    else:
                        model.extract_feat(x, _samples(idx, args.scale, idx[0]))
            if args.device.startswith('cuda'):
                torch.cuda.synchronize()
            times.append(time.perf_counter() - start)
        cached = model.neck_cache.nbytes if mode == 'native+cache' else 0
        results[mode] = dict(first=times[0], later=float(np.mean(times[1:])) if len(times) > 1
                             else times[0], cache_bytes=cached)
    base = results['resized']['later']
    print(f'{args.videos} videos of {args.min_len}-{args.max_len} snippets x {args.channels} '
          f'channels, SoLa hidden {args.hidden}, batch {args.batch}, {args.device}; seconds per '
          f'epoch (ratio to resized, later epochs)')
    for mode, r in results.items():
        print(f'{mode:13s} first {r["first"]:.3f} s  later {r["later"]:.3f} s  '
              f'x{r["later"] / base:.2f}  cache {r["cache_bytes"] / 2**20:.1f} MiB')
    return results


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--videos', type=int, default=512)
    p.add_argument('--channels', type=int, default=400)
    p.add_argument('--hidden', type=int, default=512)
    p.add_argument('--min-len', type=int, default=50)
    p.add_argument('--max-len', type=int, default=400)
    p.add_argument('--scale', type=int, default=100)
    p.add_argument('--batch', type=int, default=16)
    p.add_argument('--epochs', type=int, default=3)
    p.add_argument('--cache-bytes', type=int, default=2 * 1024**3)
    p.add_argument('--device', default='cpu')
    return run(p.parse_args(argv))


if __name__ == '__main__':
    main()
