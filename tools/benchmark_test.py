"""Benchmark a whole ``tools/test.py`` run on a generated ActivityNet-layout set, phase by phase.

    python tools/benchmark_test.py                                # 2,000 videos: BMN, G-TAD
    python tools/benchmark_test.py --videos 200 --videos-mmaction2 20 --extrapolate-to 2000
    python tools/benchmark_bmn.py --whole-test --videos 200       # the same, BMN rows only

Writes ``--videos`` validation videos (400-channel ``.npy`` TSN-like features, the demo
generator's classes and CUHK-like classifier file) under ``--data`` (reused when present), saves a
randomly initialised checkpoint of each model, and runs ``tools/test.py`` in a subprocess per row
with the real ActivityNet config (``configs/bmn_anet.py`` / ``configs/gtad_anet.py``) pointed at
the generated data. A hook injected through a wrapper config (:class:`PhaseTimerHook`) splits the
run into phases:

- setup: process start to the first test iteration (imports, Runner, checkpoint load),
- data: waiting for the dataloader (reading features, the pipeline, collation),
- forward: the localizer's network (``_forward``),
- post-processing: the rest of each test step (candidates, soft-NMS, the metric's ``process``),
- evaluation: the metric's ``evaluate`` (classifier fusion, mAP, AR@AN, submission files).

Rows (``--models``): ``bmn`` (BatchedBMN, fused BM layer), ``bmn_mmaction2`` (MMAction2's
``BMN``: dense BM layer, per-video predict), ``gtad`` (batch 1) and ``gtad_b16`` (batch 16); every
row runs on ``--videos`` videos unless ``--videos-mmaction2`` caps the MMAction2 row (its time is
then extrapolated per video and the table says so). Ratios are against the baseline row of the
same run (``bmn_mmaction2`` for BMN, ``gtad`` batch 1 for G-TAD).
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Dict, List, Optional

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from mmengine.hooks import Hook  # noqa: E402
from mmengine.registry import HOOKS  # noqa: E402

ROWS: Dict[str, dict] = {
    'bmn': dict(config='configs/bmn_anet.py', batch=1, family='bmn'),
    'bmn_mmaction2': dict(config='configs/bmn_anet.py', batch=1, family='bmn', baseline=True,
                          options={'model.localizer.type': 'BMN'}),
    'gtad': dict(config='configs/gtad_anet.py', batch=1, family='gtad', baseline=True),
    'gtad_b16': dict(config='configs/gtad_anet.py', batch=16, family='gtad'),
}
PHASES = ('setup', 'data', 'forward', 'postprocess', 'evaluation')


@HOOKS.register_module(force=True)
class PhaseTimerHook(Hook):
    """Times the phases of a test run and writes them to ``out`` (JSON) after the evaluation."""

    priority = 'VERY_LOW'

    def __init__(self, out: str, started: float) -> None:
        self.out = out
        self.started = started
        self.times = {phase: 0.0 for phase in PHASES}
        self.iters = 0
        self._mark = None
        self._iter_start = 0.0
        self._forward_before = 0.0

    def before_test_epoch(self, runner) -> None:
        self._mark = time.perf_counter()
        self.times['setup'] = time.time() - self.started
        model = runner.model.module if hasattr(runner.model, 'module') else runner.model
        localizer = getattr(model, 'localizer', model)
        inner = localizer._forward

        def timed_forward(*args, **kwargs):
            t0 = time.perf_counter()
            out = inner(*args, **kwargs)
            self.times['forward'] += time.perf_counter() - t0
            return out
        localizer._forward = timed_forward

    def before_test_iter(self, runner, batch_idx, data_batch=None) -> None:
        now = time.perf_counter()
        self.times['data'] += now - self._mark
        self._iter_start = now
        self._forward_before = self.times['forward']

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        now = time.perf_counter()
        step = now - self._iter_start
        self.times['postprocess'] += step - (self.times['forward'] - self._forward_before)
        self.iters += 1
        self._mark = now

    def after_test_epoch(self, runner, metrics=None) -> None:
        self.times['evaluation'] = time.perf_counter() - self._mark
        record = dict(self.times, iters=self.iters,
                      metrics={k: float(v) for k, v in (metrics or {}).items()
                               if isinstance(v, (int, float))})
        tmp = self.out + '.tmp'
        with open(tmp, 'w') as f:
            json.dump(record, f)
        os.replace(tmp, self.out)


def make_data(root: str, videos: int) -> Dict[str, str]:
    from sola_mm.datasets.demo_data import CLASS_NAMES, demo_ready, make_anet_demo
    stamp = dict(videos=videos, feat_dim=400, kind='benchmark_test')
    paths = dict(features=osp.join(root, 'features'), val=osp.join(root, 'anet_anno_val.json'),
                 classifier=osp.join(root, 'cuhk_val_simp_share.json'))
    if not demo_ready(root, stamp):
        written = make_anet_demo(root, num_train=0, num_val=videos, feat_dim=400,
                                 num_classes=len(CLASS_NAMES), min_len=60, max_len=300, seed=0)
        paths.update({k: v for k, v in written.items() if k in paths})
        with open(osp.join(root, 'DONE.json'), 'w') as f:
            json.dump(stamp, f)
    return paths


def _data_options(paths: Dict[str, str], batch: int, workers: int, ann: str) -> dict:
    opts = {}
    for loader in ('test_dataloader', 'val_dataloader'):
        opts.update({f'{loader}.dataset.ann_file': ann,
                     f'{loader}.dataset.data_prefix': dict(feature=paths['features'] + '/'),
                     f'{loader}.dataset.feature_ext': '.npy',
                     f'{loader}.batch_size': batch, f'{loader}.num_workers': workers,
                     f'{loader}.persistent_workers': False})
    for evaluator in ('test_evaluator', 'val_evaluator'):
        # a small subset may lack some classes the classifier predicts
        opts.update({f'{evaluator}.ann_file': ann, f'{evaluator}.unknown_label': 'ignore',
                     f'{evaluator}.classifier_file': paths['classifier']})
    return opts


def _subset_annotations(paths: Dict[str, str], videos: int, out: str) -> str:
    with open(paths['val']) as f:
        anno = json.load(f)
    keep = dict(list(anno.items())[:videos])
    with open(out, 'w') as f:
        json.dump(keep, f)
    return out


def write_wrapper(row: dict, options: dict, work: str, timing: str, started: float) -> str:
    """A config that inherits the row's config, applies the options and adds the timer hook."""
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(ROOT, row['config']))
    cfg.merge_from_dict(options)
    cfg.custom_imports = dict(imports=['sola_mm', 'tools.benchmark_test'],
                              allow_failed_imports=False)
    cfg.custom_hooks = list(cfg.get('custom_hooks', []) or []) + [
        dict(type='PhaseTimerHook', out=timing, started=started)]
    path = osp.join(work, 'config.py')
    cfg.dump(path)
    return path


def save_checkpoint(config: str, path: str) -> None:
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    import sola_mm  # noqa: F401
    from mmaction.registry import MODELS
    init_default_scope('mmaction')
    cfg = Config.fromfile(config)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), path)


def run_row(name: str, paths: Dict[str, str], videos: int, args: argparse.Namespace) -> dict:
    row = ROWS[name]
    work = osp.join(args.work_dir, name)
    os.makedirs(work, exist_ok=True)
    ann = _subset_annotations(paths, videos, osp.join(work, 'anno_val.json'))
    options = dict(_data_options(paths, row['batch'], args.workers, ann), **row.get('options', {}))
    timing = osp.join(work, 'phases.json')
    if osp.exists(timing):
        os.remove(timing)
    ckpt = osp.join(args.work_dir, f'{row["family"]}_init.pth')
    if not osp.exists(ckpt):
        save_checkpoint(osp.join(ROOT, row['config']), ckpt)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [ROOT] + [p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep) if p]))
    started = time.time()
    config = write_wrapper(row, options, work, timing, started)
    proc = subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'test.py'), config, ckpt,
                           '--work-dir', work], capture_output=True, text=True, env=env,
                          cwd=ROOT)
    total = time.time() - started
    if proc.returncode != 0 or not osp.exists(timing):
        raise RuntimeError(f'tools/test.py for {name} failed ({proc.returncode}):\n'
                           f'{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}')
    with open(timing) as f:
        record = json.load(f)
    record.update(name=name, videos=videos, batch=row['batch'], total=total)
    return record


def extrapolate(record: dict, full: int) -> float:
    """Seconds of the whole run at ``full`` videos: setup once, every other phase per video."""
    return record['setup'] + (record['total'] - record['setup']) * full / record['videos']


def print_table(records: List[dict], full: int) -> None:
    print(f'{"row":14s} {"videos":>6s} {"batch":>5s} ' +
          ' '.join(f'{p:>11s}' for p in PHASES) + f' {"total":>9s} {"total@" + str(full):>11s}')
    for r in records:
        print(f'{r["name"]:14s} {r["videos"]:6d} {r["batch"]:5d} ' +
              ' '.join(f'{r[p]:10.1f}s' for p in PHASES) +
              f' {r["total"]:8.1f}s {extrapolate(r, full):10.0f}s'
              + ('' if r['videos'] == full else ' (extrapolated: setup once, the rest per video)'))
    print('total@N: setup once plus the other phases per video, scaled to N videos')
    for family in ('bmn', 'gtad'):
        base = next((r for r in records if ROWS[r['name']].get('baseline')
                     and ROWS[r['name']]['family'] == family), None)
        if base is None:
            continue
        for r in records:
            if ROWS[r['name']]['family'] != family or r is base:
                continue
            forward = (base['forward'] / base['videos']) / max(r['forward'] / r['videos'], 1e-9)
            print(f'{r["name"]} vs {base["name"]} (same run): whole run at {full} videos '
                  f'{extrapolate(base, full) / extrapolate(r, full):.2f}x, forward per video '
                  f'{forward:.2f}x')


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--videos', type=int, default=2000)
    parser.add_argument('--videos-mmaction2', type=int, default=None,
                        help="cap the MMAction2 BMN row (seconds per video; extrapolated)")
    parser.add_argument('--models', nargs='+', default=['bmn', 'bmn_mmaction2', 'gtad',
                                                          'gtad_b16'], choices=list(ROWS))
    parser.add_argument('--extrapolate-to', type=int, default=None,
                        help='also give each total at this many videos (default --videos)')
    parser.add_argument('--workers', type=int, default=0, help='dataloader workers')
    parser.add_argument('--data', default='data/benchmark_test_anet',
                        help='generated data (reused when present)')
    parser.add_argument('--work-dir', default='work_dirs/benchmark_test')
    parser.add_argument('--json', default=None, help='also write the records here')
    args = parser.parse_args(argv)
    os.makedirs(args.work_dir, exist_ok=True)
    t0 = time.time()
    paths = make_data(args.data, args.videos)
    print(f'data: {args.videos} videos in {args.data} ({time.time() - t0:.0f} s)', flush=True)
    records = []
    for name in args.models:
        videos = args.videos
        if name == 'bmn_mmaction2' and args.videos_mmaction2:
            videos = min(args.videos, args.videos_mmaction2)
        records.append(run_row(name, paths, videos, args))
        r = records[-1]
        print(f'{name}: {r["total"]:.1f} s for {videos} videos, ' +
              ', '.join(f'{p} {r[p]:.1f} s' for p in PHASES), flush=True)
    print_table(records, args.extrapolate_to or args.videos)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(records, f, indent=1)


if __name__ == '__main__':
    main()
