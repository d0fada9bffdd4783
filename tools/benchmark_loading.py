"""Benchmark feature loading: epoch data time of sola_mm's loaders vs MMAction2's CSV loader.

Measured in the same run, on generated features written to a temp dir (nothing is downloaded):

1. **ActivityNet layout** (MMAction2's ``csv_mean_100``: one CSV per video, header + T rows of C
   values; default 200 videos x 100 snippets x 400 channels):

   * baseline: MMAction2's ``ActivityNetDataset`` with ``LoadLocalizationFeature`` (parses the CSV
     with ``np.loadtxt`` on every access, i.e. every epoch);
   * ours on the same CSV files (``ANetFeatureDataset`` + ``LoadTALFeature``: the same parse plus
     the checks), then ours on ``.npy`` files converted once by ``tools/convert_features.py
     csv2npy`` (memory-mapped reads; the one-time conversion cost is printed too).

   Two figures per loader: the loading transform alone over an epoch (``feature`` column), and the
   whole data pipeline of an epoch, ``dataset[i]`` for every item (``+ labels + pack`` column:
   loading, ``GenerateLocalizationLabels``, ``PackLocalizationInputs``; the last two are the same
   code for both, so the ratio there is smaller).
2. **THUMOS sliding windows** (``ThumosWindowDataset``, two streams flow + rgb stored per frame,
   every 5th row, windows of 256 snippets at stride 128): an epoch of test windows from per-video
   ``.npy`` folders (memory-mapped: only the window is read) and from G-TAD's shared
   ``flow.h5``/``rgb.h5`` files keyed by video; baseline: the same windows cut from a per-video
   CSV parsed on each access (what a CSV loader has to do).

Each variant runs ``--repeats`` times, interleaved so that load from other processes hits every
variant alike; the best (minimum) epoch time is reported, single process (``num_workers=0``).
Not a test: prints figures and ratios. Examples:

    python tools/benchmark_loading.py
    python tools/benchmark_loading.py --videos 100 --repeats 5 --skip-thumos
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

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault('OMP_NUM_THREADS', '1')

import sola_mm  # noqa: E402,F401  (compat fixes + registration)
from mmengine.registry import init_default_scope  # noqa: E402

from mmaction.registry import DATASETS  # noqa: E402
from sola_mm.datasets.feature_io import save_features_atomic  # noqa: E402


def _convert_tool():
    """tools/convert_features.py as a module (the one-time CSV -> .npy conversion)."""
    import importlib.util
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'convert_features.py')
    spec = importlib.util.spec_from_file_location('convert_features_tool', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _timeit(fn: Callable[[], None]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _best_interleaved(variants: Dict[str, Callable[[], None]], repeats: int) -> Dict[str, float]:
    times: Dict[str, List[float]] = {k: [] for k in variants}
    for _ in range(repeats):
        for name, fn in variants.items():
            times[name].append(_timeit(fn))
    return {k: min(v) for k, v in times.items()}


def _write_anet(root: str, videos: int, snippets: int, channels: int, seed: int) -> Dict[str, str]:
    rng = np.random.default_rng(seed)
    csv_dir, ann = os.path.join(root, 'csv'), {}
    for i in range(videos):
        name = f'v_bench{i:05d}'
        save_features_atomic(rng.standard_normal((snippets, channels)).astype(np.float32),
                             os.path.join(csv_dir, name + '.csv'))
        dur = float(rng.uniform(30, 200))
        s = float(rng.uniform(0, dur / 2))
        ann[name] = dict(duration_second=dur, duration_frame=int(dur * 30),
                         feature_frame=int(dur * 30) // 16 * 16, fps=30.0,
                         annotations=[dict(segment=[s, s + dur / 4], label='Bench')])
    ann_file = os.path.join(root, 'anet_anno.json')
    with open(ann_file, 'w') as f:
        json.dump(ann, f)
    return dict(csv=csv_dir, npy=os.path.join(root, 'npy'), ann=ann_file)


def bench_anet(args, root: str) -> None:
    print(f'\n== ActivityNet layout: {args.videos} videos x {args.snippets} snippets x '
          f'{args.channels} channels (csv_mean_100 files, {args.repeats} repeats, best) ==')
    paths = _write_anet(root, args.videos, args.snippets, args.channels, args.seed)
    csv_bytes = sum(os.path.getsize(os.path.join(paths['csv'], f))
                    for f in os.listdir(paths['csv']))
    convert_s = _timeit(lambda: _convert_tool().csv2npy(paths['csv'], paths['npy']))
    pack = dict(type='PackLocalizationInputs', keys=('gt_bbox', ), meta_keys=('video_name', ))
    labels = dict(type='GenerateLocalizationLabels')
    mm = DATASETS.build(dict(type='ActivityNetDataset', ann_file=paths['ann'],
                             data_prefix=dict(video=paths['csv']),
                             pipeline=[dict(type='LoadLocalizationFeature'), labels, pack]))

    def ours(fmt: str):
        folder = paths['npy'] if fmt == '.npy' else paths['csv']
        return DATASETS.build(dict(
            type='ANetFeatureDataset', ann_file=paths['ann'], data_prefix=dict(feature=folder),
            feature_ext=fmt, feat_dim=args.channels, temporal_scale=args.snippets,
            pipeline=[dict(type='LoadTALFeature'), labels, pack]))

    sets = {'mmaction2 LoadLocalizationFeature (csv)': mm, 'sola_mm LoadTALFeature (csv)':
            ours('.csv'), 'sola_mm LoadTALFeature (npy)': ours('.npy')}
    assert all(len(d) == args.videos for d in sets.values())
    # same numbers from every loader (CSV text is written with 7 significant digits)
    ref = mm[0]['inputs'].numpy()
    for name, ds in sets.items():
        np.testing.assert_allclose(ds[0]['inputs'].numpy(), ref, rtol=1e-6, err_msg=name)

    def load_only(ds):
        transform = ds.pipeline.transforms[0]
        infos = [ds.get_data_info(i) for i in range(len(ds))]
        return lambda: [transform(dict(info)) for info in infos]

    def full(ds):
        return lambda: [ds[i] for i in range(len(ds))]

    feature = _best_interleaved({k: load_only(d) for k, d in sets.items()}, args.repeats)
    whole = _best_interleaved({k: full(d) for k, d in sets.items()}, args.repeats)
    base = 'mmaction2 LoadLocalizationFeature (csv)'
    print(f'{"loader":40s} {"feature s/epoch":>16s} {"ms/video":>9s} {"speed-up":>9s} '
          f'{"+ labels + pack":>16s} {"speed-up":>9s}')
    for name in sets:
        print(f'{name:40s} {feature[name]:16.3f} {1e3 * feature[name] / args.videos:9.3f} '
              f'{feature[base] / feature[name]:8.1f}x {whole[name]:16.3f} '
              f'{whole[base] / whole[name]:8.1f}x')
    ours_csv, ours_npy = 'sola_mm LoadTALFeature (csv)', 'sola_mm LoadTALFeature (npy)'
    print(f'CSV vs .npy feature loading per epoch (ours): {feature[ours_csv]:.3f} s vs '
          f'{feature[ours_npy]:.3f} s -> {feature[ours_csv] / feature[ours_npy]:.1f}x')
    print(f'RATIO epoch data time, MMAction2 CSV loader / ours (npy): feature loading '
          f'{feature[base] / feature[ours_npy]:.1f}x, whole data pipeline '
          f'{whole[base] / whole[ours_npy]:.1f}x (target >= 20x)')
    print(f'one-time conversion csv2npy: {convert_s:.2f} s for {csv_bytes / 2**20:.1f} MiB of '
          f'CSV (= {convert_s / feature[base]:.1f} epochs of the CSV loader)')


def bench_thumos(args, root: str) -> None:
    import h5py
    rng = np.random.default_rng(args.seed)
    frames, half = args.thumos_frames, args.thumos_channels // 2
    print(f'\n== THUMOS windows: {args.thumos_videos} videos x {frames} frames x '
          f'({half} flow + {half} rgb) per frame, every 5th row, T=256 stride 128 ==')
    ann_rows, feats = [], {}
    for stream in ('flow', 'rgb'):
        os.makedirs(os.path.join(root, stream), exist_ok=True)
    for i in range(args.thumos_videos):
        video = f'video_test_{i + 1:07d}'
        feats[video] = {s: rng.standard_normal((frames, half)).astype(np.float32)
                        for s in ('flow', 'rgb')}
        for s, x in feats[video].items():
            np.save(os.path.join(root, s, video + '.npy'), x)
        ann_rows.append(f'{video},HighJump,40,1.0,3.0,30,90')
    for s in ('flow', 'rgb'):
        with h5py.File(os.path.join(root, f'{s}.h5'), 'w') as f:
            for video in feats:
                f[video] = feats[video][s]
    os.makedirs(os.path.join(root, 'csv'), exist_ok=True)
    for video in feats:  # one CSV per video: the two streams side by side, per frame
        save_features_atomic(np.concatenate([feats[video]['flow'], feats[video]['rgb']], 1),
                             os.path.join(root, 'csv', video + '.csv'))
    ann = os.path.join(root, 'ann.csv')
    with open(ann, 'w') as f:
        f.write('video,type,type_idx,start,end,startFrame,endFrame\n' + '\n'.join(ann_rows) + '\n')
    common = dict(type='ThumosWindowDataset', ann_file=ann, fps=30.0, feature_stride=5,
                  snippet_stride=5, window_size=256, window_stride=128, test_mode=True,
                  pipeline=[dict(type='LoadTALFeature')])
    npy = DATASETS.build(dict(common, streams=dict(flow=os.path.join(root, 'flow'),
                                                   rgb=os.path.join(root, 'rgb'))))
    h5 = DATASETS.build(dict(common, streams=dict(flow=os.path.join(root, 'flow.h5'),
                                                  rgb=os.path.join(root, 'rgb.h5')),
                             feature_key='{video}'))
    csv_ds = DATASETS.build(dict(common, data_prefix=dict(feature=os.path.join(root, 'csv')),
                                 feature_ext='.csv'))
    ref = npy[len(npy) - 1]['raw_feature']
    for ds in (h5, csv_ds):
        np.testing.assert_allclose(ds[len(ds) - 1]['raw_feature'], ref, rtol=1e-6)
    runs = {'CSV per video, parsed per window': csv_ds, 'shared .h5 keyed by video': h5,
            'per-video .npy (mmap)': npy}
    times = _best_interleaved({k: (lambda d=d: [d[i] for i in range(len(d))])
                               for k, d in runs.items()}, args.repeats)
    base = 'CSV per video, parsed per window'
    print(f'{len(npy)} windows per epoch')
    for name, t in times.items():
        print(f'{name:36s} {t:8.3f} s/epoch {1e3 * t / len(npy):9.2f} ms/window '
              f'{times[base] / t:8.1f}x')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--videos', type=int, default=200)
    parser.add_argument('--snippets', type=int, default=100)
    parser.add_argument('--channels', type=int, default=400)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--thumos-videos', type=int, default=6)
    parser.add_argument('--thumos-frames', type=int, default=3000)
    parser.add_argument('--thumos-channels', type=int, default=512)
    parser.add_argument('--skip-thumos', action='store_true')
    parser.add_argument('--tmp', default=None, help='work dir (default: a temp dir, removed)')
    args = parser.parse_args()
    init_default_scope('mmaction')
    print('command: python ' + ' '.join(sys.argv))
    with tempfile.TemporaryDirectory(dir=args.tmp) as root:
        bench_anet(args, os.path.join(root, 'anet'))
        if not args.skip_thumos:
            bench_thumos(args, os.path.join(root, 'thumos'))


if __name__ == '__main__':
    main()
