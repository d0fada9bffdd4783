"""Benchmark BMN: our BatchedBMN (fused boundary-matching layer) against MMAction2's BMN.

    python tools/benchmark_bmn.py                      # ANet shape: train batch 16, test 1 and 16
    python tools/benchmark_bmn.py --train-batch 4 --repeats 3 --test-batches 1 4

Both models are built in the same process with the same weights (MMAction2's ``BMN``, and
``BatchedBMN`` loading its state dict) and run on the same inputs, one repetition of each in turn
(ours, theirs, ours, theirs, ...) so that the load of a shared machine hits both alike; the table
gives medians and the ratio theirs / ours.

- train step: forward, BMN loss (labels from random ground truth through BMN's own label code, the
  same random pem sampling for both), backward and an Adam update, float32, ``--train-batch``
  videos (ANet config: 16).
- test forward: ``_forward`` without gradients, per video, at each of ``--test-batches``.
- CPU: the process's CPU seconds (all threads) beside the wall time; on a machine shared with
  other jobs the CPU-time ratio is the steadier one.
- peak memory: the peak resident set size during the call minus the size just before it, sampled
  by a background thread every millisecond (the first call of each is a warm-up and is excluded).

``--whole-test`` runs ``tools/test.py`` instead (see :mod:`tools.benchmark_test`).
"""
from __future__ import annotations

import argparse
import os
import os.path as osp
import statistics
import sys
import threading
import time
from typing import Callable, Dict, Tuple

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

ANET = dict(temporal_dim=100, boundary_ratio=0.5, num_samples=32, num_samples_per_bin=3,
            feat_dim=400, soft_nms_alpha=0.4, soft_nms_low_threshold=0.5,
            soft_nms_high_threshold=0.9, post_process_top_k=100)


def rss_mib() -> float:
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**20


class PeakRSS:
    """Context manager: peak RSS above the entry level (MiB), sampled by a thread."""

    def __init__(self, interval: float = 0.001) -> None:
        self.interval = interval

    def __enter__(self) -> 'PeakRSS':
        self.base = rss_mib()
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mib())
            time.sleep(self.interval)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mib())

    @property
    def added(self) -> float:
        return self.peak - self.base


def measure(fn: Callable[[], object]) -> Tuple[float, float, float, object]:
    """(wall seconds, CPU seconds of the process, peak MiB added, result) of one call."""
    with PeakRSS() as mem:
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return seconds, cpu, mem.added, out


def interleaved(fns: Dict[str, Callable[[], object]], repeats: int
                ) -> Dict[str, Dict[str, list]]:
    """Warm each function up once, then run ``repeats`` rounds of all of them in turn."""
    for fn in fns.values():
        fn()
    runs = {name: dict(time=[], cpu=[], mem=[], out=[]) for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            for key, value in zip(('time', 'cpu', 'mem', 'out'), measure(fn)):
                runs[name][key].append(value)
    return runs


def build_models(cfg: dict, seed: int = 0):
    import torch

    import sola_mm  # noqa: F401  (compat fixes first: mmaction.models imports)
    from mmaction.models.localizers import BMN
    from mmaction.registry import MODELS
    torch.manual_seed(seed)
    theirs = BMN(**cfg)
    ours = MODELS.build(dict(type='BatchedBMN', **cfg))
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


def random_samples(batch: int, seed: int = 0) -> list:
    import numpy as np
    import torch
    from mmaction.structures import ActionDataSample
    from mmengine.structures import InstanceData
    rng = np.random.default_rng(seed)
    samples = []
    for i in range(batch):
        starts = np.sort(rng.uniform(0, 0.8, size=int(rng.integers(1, 4))))
        gt = np.stack([starts, np.minimum(1, starts + rng.uniform(0.02, 0.4, starts.size))], 1)
        sample = ActionDataSample()
        sample.gt_instances = InstanceData(gt_bbox=torch.tensor(gt, dtype=torch.float32))
        sample.set_metainfo(dict(video_name=f'v_{i}'))
        samples.append(sample)
    return samples


def train_step_fn(model, x, samples):
    import torch
    optim = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3,
                             weight_decay=1e-4)

    def step():
        torch.manual_seed(0)  # BMNLoss samples pem cells at random: the same for both models
        optim.zero_grad(set_to_none=True)
        loss = model.loss(x, samples)['loss']
        loss.backward()
        optim.step()
        return loss.item()
    return step


def forward_fn(model, x):
    import torch

    def forward():
        with torch.no_grad():
            return model._forward(x)[0]
    return forward


def report(title: str, runs: Dict[str, Dict[str, list]], per: int = 1, unit: str = '') -> dict:
    med = {name: [statistics.median(r[key]) / (per if key != 'mem' else 1)
                  for key in ('time', 'cpu', 'mem')] for name, r in runs.items()}
    (t_o, c_o, m_o), (t_t, c_t, m_t) = med['ours'], med['mmaction2']
    print(f'{title:24s} ours {t_o:7.3f} s{unit} (CPU {c_o:7.3f} s) peak +{m_o:6.0f} MiB | '
          f'MMAction2 {t_t:7.3f} s{unit} (CPU {c_t:7.3f} s) peak +{m_t:6.0f} MiB | '
          f'ratio theirs/ours: wall {t_t / t_o:5.1f}x, CPU {c_t / c_o:5.1f}x; memory ours/theirs '
          f'{m_o / max(m_t, 1e-9):6.1%} (medians of {len(runs["ours"]["time"])} interleaved runs)',
          flush=True)
    return dict(ours_s=t_o, theirs_s=t_t, ours_cpu_s=c_o, theirs_cpu_s=c_t, ours_mib=m_o,
                theirs_mib=m_t, ratio=t_t / t_o, cpu_ratio=c_t / c_o)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--train-batch', type=int, default=16)
    parser.add_argument('--test-batches', type=int, nargs='*', default=[1, 16])
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--threads', type=int, default=None, help='torch threads (default: all)')
    parser.add_argument('--tscale', type=int, default=ANET['temporal_dim'],
                        help='temporal_dim (ANet 100; small values for a quick check)')
    parser.add_argument('--feat-dim', type=int, default=ANET['feat_dim'])
    parser.add_argument('--num-samples', type=int, default=ANET['num_samples'])
    parser.add_argument('--whole-test', action='store_true',
                        help='time tools/test.py on generated data instead (tools/benchmark_test.py '
                        'options follow)')
    args, rest = parser.parse_known_args()
    if args.whole_test:
        from tools.benchmark_test import main as whole_test
        whole_test(['--models', 'bmn', 'bmn_mmaction2'] + rest)
        return
    if rest:
        parser.error(f'unrecognized arguments: {" ".join(rest)}')
    import torch
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = dict(ANET, temporal_dim=args.tscale, feat_dim=args.feat_dim,
               num_samples=args.num_samples)
    ours, theirs = build_models(cfg)
    ours.eval(), theirs.eval()  # no dropout or batch norm in BMN: only the test forwards first
    print(f'BMN T={cfg["temporal_dim"]} C={cfg["feat_dim"]} N={cfg["num_samples"]}, float32, '
          f'{torch.get_num_threads()} threads; MMAction2 BMN vs BatchedBMN(fused_bm=True)')
    results = {}
    gen = torch.Generator().manual_seed(0)
    for batch in args.test_batches:
        x = torch.randn(batch, cfg['feat_dim'], cfg['temporal_dim'], generator=gen)
        runs = interleaved(dict(ours=forward_fn(ours, x),
                                mmaction2=forward_fn(theirs, x)), args.repeats)
        results[f'test{batch}'] = report(f'test forward, batch {batch}', runs, per=batch,
                                         unit='/video')
        diff = (runs['ours']['out'][0] - runs['mmaction2']['out'][0]).abs().max().item()
        print(f'  max |ours - MMAction2| on the confidence maps: {diff:.1e}')
    if args.train_batch:
        x = torch.randn(args.train_batch, cfg['feat_dim'], cfg['temporal_dim'], generator=gen)
        samples = random_samples(args.train_batch)
        runs = interleaved(dict(ours=train_step_fn(ours, x, samples),
                                mmaction2=train_step_fn(theirs, x, samples)), args.repeats)
        results['train'] = report(f'train step, batch {args.train_batch}', runs)
        first = runs['ours']['out'][0], runs['mmaction2']['out'][0]
        print(f'  loss after the warm-up step: ours {first[0]:.7f}, MMAction2 {first[1]:.7f}')
    return results


if __name__ == '__main__':
    main()
