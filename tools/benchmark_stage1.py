"""Benchmark SoLa stage 1 (Similarity Matching): training throughput and feature loading.

1. Training throughput in windows/s: forward + backward + AdamW step of ``SoLaPretrainer`` on
   random windows [B, C, W] (default B=256, W=23, H=P=512, C=400 and 2048), through mmengine's
   ``train_step`` (what the Runner runs, ``vnr`` diagnostic included). Baselines measured in the
   same run: the bare PyTorch loop (no mmengine wrapper, no ``vnr``), and the bare loop plus a
   ``vnr`` computed by a second pass of the conv stack (what ``SoLa.forward_with_gate`` avoids), so
   the ratios show what the wrapper and the diagnostic cost. Calls are interleaved and the median
   is reported, so load from other processes affects every variant alike.
2. Feature loading per epoch for N generated videos (default 200) of 100 snippets x C, written to a
   temp dir as MMAction2 csv_mean_100 files (header + 100 rows) and as ``.npy``: time for
   ``SimilarityWindowDataset`` to load them all (its first pass), time for one epoch of windows
   without the cache (``cache=False``: every item rereads its file), and with the cache.

Not a test: prints figures, ratios and the command line. Example:
    python tools/benchmark_stage1.py
    python tools/benchmark_stage1.py --channels 400 --iters 3 --videos 50
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from typing import Callable, Dict, List

import numpy as np
import torch

import sola_mm  # noqa: F401  (registers modules)
from mmaction.registry import MODELS
from mmengine.optim import OptimWrapper
from sola_mm.datasets.sm_window_dataset import SimilarityWindowDataset


def time_interleaved(fns: Dict[str, Callable[[], None]], iters: int,
                     warmup: int) -> Dict[str, float]:
    """Median seconds per call of each function, calls interleaved (A, B, C, A, B, C, ...) so that
    load from other processes on the machine hits every variant alike."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: Dict[str, List[float]] = {name: [] for name in fns}
    for _ in range(iters):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: float(np.median(t)) for name, t in times.items()}


def bench_training(channels: int, hidden: int, batch: int, window: int, iters: int,
                   warmup: int) -> Dict[str, float]:
    torch.manual_seed(0)
    cfg = dict(type='SoLaPretrainer', neck=dict(type='SoLa', in_channels=channels,
                                                  hidden_channels=hidden),
               projector_hidden=hidden)
    model = MODELS.build(cfg)
    with torch.no_grad():
        model.neck.alpha.fill_(0.3)  # a trained-like gate, so every gradient is non-zero
    optim = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01))
    x = torch.randn(batch, channels, window)
    data = dict(inputs=list(x), data_samples=None)

    def mmengine_step() -> None:
        model.train_step(data, optim)

    def bare_step() -> None:
        optim.optimizer.zero_grad()
        model.similarity_outputs(x)['loss'].backward()
        optim.optimizer.step()

    def bare_step_vnr() -> None:  # vnr by a second pass of the conv stack
        bare_step()
        model.neck.vector_norm_ratio(x)

    t = time_interleaved(dict(mm=mmengine_step, bare=bare_step, bare_vnr=bare_step_vnr), iters,
                         warmup)
    return {**{f't_{k}': v for k, v in t.items()}, **{f'wps_{k}': batch / v for k, v in t.items()}}


def write_videos(root: str, num: int, length: int, channels: int) -> None:
    rng = np.random.default_rng(0)
    header = ','.join(f'f{i}' for i in range(channels))
    database = {}
    for fmt in ('csv', 'npy'):
        os.makedirs(os.path.join(root, fmt), exist_ok=True)
    for v in range(num):
        name = f'v_{v:05d}'
        feats = rng.standard_normal((length, channels)).astype(np.float32)
        np.save(os.path.join(root, 'npy', name + '.npy'), feats)
        np.savetxt(os.path.join(root, 'csv', name + '.csv'), feats, delimiter=',', header=header,
                   comments='', fmt='%.8g')
        database[name] = dict(duration_second=float(length), duration_frame=16 * length,
                              feature_frame=16 * length, annotations=[])
    with open(os.path.join(root, 'anno.json'), 'w') as f:
        json.dump(database, f)


def bench_loading(num: int, length: int, channels: int, window: int) -> Dict[str, float]:
    results: Dict[str, float] = {}
    with tempfile.TemporaryDirectory() as root:
        write_videos(root, num, length, channels)
        for fmt in ('csv', 'npy'):
            kwargs = dict(ann_file=os.path.join(root, 'anno.json'),
                          data_prefix=dict(feature=os.path.join(root, fmt)),
                          feature_ext='.' + fmt, window=window, feat_dim=channels, seed=0)
            start = time.perf_counter()
            cached = SimilarityWindowDataset(**kwargs)
            results[f'{fmt}_init'] = time.perf_counter() - start
            uncached = SimilarityWindowDataset(cache=False, **kwargs)
            for name, dataset in (('uncached', uncached), ('cached', cached)):
                start = time.perf_counter()
                for i in range(len(dataset)):
                    dataset[(i, 1)]
                results[f'{fmt}_{name}_epoch'] = time.perf_counter() - start
        results['csv_bytes'] = sum(os.path.getsize(os.path.join(root, 'csv', f))
                                   for f in os.listdir(os.path.join(root, 'csv')))
        results['npy_bytes'] = sum(os.path.getsize(os.path.join(root, 'npy', f))
                                   for f in os.listdir(os.path.join(root, 'npy')))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--channels', type=int, nargs='+', default=[400, 2048])
    parser.add_argument('--hidden', type=int, default=512)
    parser.add_argument('--batch', type=int, default=256)
    parser.add_argument('--window', type=int, default=23)
    parser.add_argument('--iters', type=int, default=5, help='timed iterations (median)')
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--videos', type=int, default=200)
    parser.add_argument('--length', type=int, default=100, help='snippets per generated video')
    parser.add_argument('--skip-training', action='store_true')
    parser.add_argument('--skip-loading', action='store_true')
    args = parser.parse_args()

    print('command:', ' '.join([os.path.basename(sys.executable), *sys.argv]))
    print(f'torch {torch.__version__}, threads {torch.get_num_threads()}, '
          f'cpus {os.cpu_count()}, device cpu')
    if not args.skip_training:
        print(f'\n[training] SoLaPretrainer, B={args.batch} W={args.window} H=P={args.hidden}, '
              f'AdamW, median of {args.iters} after {args.warmup} warmup')
        for channels in args.channels:
            r = bench_training(channels, args.hidden, args.batch, args.window, args.iters,
                               args.warmup)
            print(f'  C={channels:5d}: train_step (Runner path, with vnr) {r["t_mm"] * 1e3:7.1f} ms/it '
                  f'= {r["wps_mm"]:6.0f} windows/s')
            print(f'           bare loop, no vnr (baseline)      {r["t_bare"] * 1e3:7.1f} ms/it '
                  f'= {r["wps_bare"]:6.0f} windows/s')
            print(f'           bare loop + vnr by a 2nd conv pass {r["t_bare_vnr"] * 1e3:6.1f} ms/it '
                  f'= {r["wps_bare_vnr"]:6.0f} windows/s')
            print(f'           time ratios vs baseline: train_step {r["t_mm"] / r["t_bare"]:.3f}, '
                  f'bare + 2nd-pass vnr {r["t_bare_vnr"] / r["t_bare"]:.3f}')
    if not args.skip_loading:
        channel_list: List[int] = args.channels
        for channels in channel_list:
            print(f'\n[loading] {args.videos} videos x {args.length} snippets x {channels} channels, '
                  f'window {args.window}')
            r = bench_loading(args.videos, args.length, channels, args.window)
            print(f'  files: csv {r["csv_bytes"] / 2**20:.1f} MiB, npy {r["npy_bytes"] / 2**20:.1f} MiB')
            for fmt in ('csv', 'npy'):
                print(f'  {fmt}: load all (dataset build) {r[f"{fmt}_init"]:7.3f} s | epoch without '
                      f'cache {r[f"{fmt}_uncached_epoch"]:7.3f} s | epoch with cache '
                      f'{r[f"{fmt}_cached_epoch"]:7.3f} s')
            print(f'  ratios: csv/npy load {r["csv_init"] / r["npy_init"]:.1f}x, '
                  f'csv/npy uncached epoch {r["csv_uncached_epoch"] / r["npy_uncached_epoch"]:.1f}x,'
                  f' uncached/cached epoch (csv) '
                  f'{r["csv_uncached_epoch"] / r["csv_cached_epoch"]:.1f}x, (npy) '
                  f'{r["npy_uncached_epoch"] / r["npy_cached_epoch"]:.1f}x')


if __name__ == '__main__':
    main()
