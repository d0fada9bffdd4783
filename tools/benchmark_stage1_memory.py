"""Benchmark SoLa stage 1 at HACS scale: memory and epoch time of the feature cache modes.

Generates a HACS-like folder (``--videos`` files of ``<id>.npy`` at native length, ``--channels``
2048, lengths drawn around ``--length`` as HACS's median 324, stored as ``--dtype``) plus the
lengths JSON, then, in a fresh process per mode, builds ``SimilarityWindowDataset`` and runs one
epoch of windows (``SimilarityWindowSampler``, batch ``--batch``, W = 23; with ``--train`` also the
``SoLaPretrainer`` step on every batch) and reports the build time, the epoch time and the peak
resident memory (``ru_maxrss``) of that process. Modes:

* ``memory`` (``cache=True``, the baseline: every video in one float32 array in RAM);
* ``mmap`` (``cache='mmap'``, what ``configs/sola_pretrain_hacs.py`` uses: headers at build time,
  W rows per item from the file).

Each mode runs on the first half of the videos and on all of them, each in a fresh process.
Extrapolation to ``--full-videos`` (HACS training: 37618): the epoch time in proportion to the
number of videos (one window each); the build time as a fixed cost (a 2-video build: mmengine's
dataset build runs a ``gc.collect``) plus the per-video cost measured; the peak RSS along the line
through the two sizes. The files are read back while still in the page cache (just written), so
the mmap figures are the warm-cache case; a cold read from disk adds the I/O of 23 rows per
item. The generated folder is deleted at the end unless ``--keep``.

Not a test: prints figures, ratios and the command line. Example:
    python tools/benchmark_stage1_memory.py --videos 1000
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Dict

import numpy as np

MODES = {'memory': True, 'mmap': 'mmap'}


def generate(root: str, videos: int, length: int, channels: int, dtype: str, seed: int = 0) -> int:
    """``videos`` feature files under ``root/features`` and ``root/lengths.json``; returns the
    number of snippets written. Rows are slices of one random block (generation speed), shifted
    per video so that no two files are equal."""
    rng = np.random.default_rng(seed)
    block = rng.standard_normal((4 * length, channels)).astype(dtype)
    os.makedirs(os.path.join(root, 'features'), exist_ok=True)
    lengths = np.clip(rng.normal(length, length / 4, videos).round().astype(int), 24, 3 * length)
    database = {}
    for i, n in enumerate(lengths):
        start = int(rng.integers(0, len(block) - n))
        name = f'vid{i:06d}'
        np.save(os.path.join(root, 'features', name + '.npy'),
                block[start:start + n] + np.asarray(i % 7, dtype=dtype))
        database[name] = dict(duration_second=float(n), duration_frame=int(n),
                              feature_frame=int(n), annotations=[])
    with open(os.path.join(root, 'lengths.json'), 'w') as f:
        json.dump(database, f)
    for name, count in (('warmup', 2), ('half', videos // 2)):
        with open(os.path.join(root, f'{name}.json'), 'w') as f:
            json.dump({k: database[k] for k in list(database)[:count]}, f)
    return int(lengths.sum())


def run_mode(root: str, mode: str, channels: int, batch: int, train: bool,
             ann: str = 'lengths') -> Dict[str, float]:
    """One epoch in this process: build time, epoch time, peak RSS (MiB) before and after."""
    import torch

    import sola_mm  # noqa: F401
    from mmaction.registry import DATASETS, MODELS
    from mmengine.dataset import pseudo_collate
    from mmengine.optim import OptimWrapper
    from sola_mm.datasets.sm_window_dataset import SimilarityWindowSampler
    torch.set_num_threads(1)
    model = optim = None
    if train:
        torch.manual_seed(0)
        model = MODELS.build(dict(type='SoLaPretrainer', neck=dict(
            type='SoLa', in_channels=channels, hidden_channels=512), projector_hidden=512))
        optim = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=1e-4))
    def build(ann_file: str):
        return DATASETS.build(dict(
            type='SimilarityWindowDataset', ann_file=ann_file,
            data_prefix=dict(feature=os.path.join(root, 'features') + '/'), feature_ext='.npy',
            feat_dim=channels, temporal_scale=None, window=23, seed=0, cache=MODES[mode]))

    warm = build(os.path.join(root, 'warmup.json'))  # lazy imports and registries, not timed
    pseudo_collate([warm[(i, 0)] for i in range(len(warm))])
    start = time.perf_counter()
    warm = build(os.path.join(root, 'warmup.json'))  # the fixed cost of a build (2 videos)
    fixed = time.perf_counter() - start
    del warm
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    dataset = build(os.path.join(root, ann + '.json'))
    build_s = time.perf_counter() - start
    sampler = SimilarityWindowSampler(dataset, shuffle=True, seed=0)
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch, sampler=sampler,
                                         num_workers=0, collate_fn=pseudo_collate)
    start = time.perf_counter()
    batches = 0
    for data in loader:
        batches += 1
        if model is not None:
            model.train_step(data, optim)
    epoch = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return dict(build_s=build_s, fixed_build_s=fixed, epoch_s=epoch, rss_before_mib=before,
                rss_peak_mib=peak, videos=len(dataset), batches=batches)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--videos', type=int, default=1000, help='files generated')
    parser.add_argument('--length', type=int, default=300, help='mean snippets per video')
    parser.add_argument('--channels', type=int, default=2048)
    parser.add_argument('--dtype', default='float16', choices=['float16', 'float32'])
    parser.add_argument('--batch', type=int, default=256)
    parser.add_argument('--train', action='store_true', help='also run the SoLa training step')
    parser.add_argument('--full-videos', type=int, default=37618,
                        help='extrapolate to this many videos (HACS training: 37618)')
    parser.add_argument('--root', default=None, help='folder for the generated data (a temp dir '
                        'by default)')
    parser.add_argument('--keep', action='store_true', help='keep the generated data')
    parser.add_argument('--child', choices=sorted(MODES), help=argparse.SUPPRESS)
    parser.add_argument('--ann', default='lengths', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:  # one mode in a fresh process, so that its peak RSS is its own
        print(json.dumps(run_mode(args.root, args.child, args.channels, args.batch, args.train,
                                  args.ann)))
        return
    root = args.root or tempfile.mkdtemp(prefix='sola_stage1_memory_')
    try:
        start = time.perf_counter()
        snippets = generate(root, args.videos, args.length, args.channels, args.dtype)
        size = sum(os.path.getsize(os.path.join(root, 'features', f))
                   for f in os.listdir(os.path.join(root, 'features')))
        print(f'generated {args.videos} videos, {snippets} snippets x {args.channels} '
              f'{args.dtype} ({size / 2**30:.2f} GiB on disk) in {time.perf_counter() - start:.0f} s')
        results = {}
        here = os.path.abspath(__file__)
        env = dict(os.environ, OMP_NUM_THREADS='1')
        for mode in MODES:
            for ann in ('half', 'lengths'):
                cmd = [sys.executable, here, '--child', mode, '--root', root, '--ann', ann,
                       '--channels', str(args.channels), '--batch', str(args.batch)]
                out = subprocess.run(cmd + ['--train'] * args.train, capture_output=True,
                                     text=True, env=env, check=True)
                results[mode, ann] = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    half = args.videos // 2

    def extrapolate(mode: str, key: str) -> float:
        """The figure at --full-videos (module docstring)."""
        r = results[mode, 'lengths']
        if key == 'epoch_s':
            return r[key] * args.full_videos / r['videos']
        if key == 'build_s':
            fixed = r['fixed_build_s']
            return fixed + max(r[key] - fixed, 0.0) * args.full_videos / r['videos']
        slope = max(r[key] - results[mode, 'half'][key], 0.0) / (args.videos - half)
        return r[key] + slope * (args.full_videos - args.videos)

    print(f'\n{"mode":8s} {"videos":>7s} {"build s":>9s} {"epoch s":>9s} {"peak RSS MiB":>13s}')
    for (mode, ann), r in results.items():
        print(f'{mode:8s} {r["videos"]:7d} {r["build_s"]:9.2f} {r["epoch_s"]:9.2f} '
              f'{r["rss_peak_mib"]:13.0f}')
    full = {mode: {key: extrapolate(mode, key) for key in ('build_s', 'epoch_s', 'rss_peak_mib')}
            for mode in MODES}
    print(f'\nextrapolated to {args.full_videos} videos (one process):')
    for mode, r in full.items():
        print(f'{mode:8s} build {r["build_s"]:8.0f} s   epoch {r["epoch_s"]:8.0f} s   peak RSS '
              f'{r["rss_peak_mib"] / 1024:8.1f} GiB')
    m, f = full['mmap'], full['memory']
    print(f'mmap / memory: build time x{m["build_s"] / f["build_s"]:.3f}, epoch time '
          f'x{m["epoch_s"] / f["epoch_s"]:.2f}, peak RSS x{m["rss_peak_mib"] / f["rss_peak_mib"]:.4f}')
    measured = results['mmap', 'lengths']
    print(f'({half} and {args.videos} videos measured, {measured["batches"]} batches of '
          f'{args.batch}{" with the SoLa step" if args.train else ", loading only"}; linear '
          'extrapolation; warm page cache)')
    print('command: python tools/benchmark_stage1_memory.py ' + ' '.join(sys.argv[1:]))


if __name__ == '__main__':
    main()
