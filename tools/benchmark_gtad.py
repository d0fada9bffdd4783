"""Benchmark one G-TAD training step: wall time, peak memory and achieved FLOP/s, fused vs plain.

    python tools/benchmark_gtad.py                       # ANet (C=400, T=D=100, batch 16) and
                                                         # THUMOS (C=2048, T=256, D=64, batch 8)
    python tools/benchmark_gtad.py --shapes anet --batch 4 --paths fused plain
    python tools/benchmark_gtad.py --shapes anet --paths fused --amp bf16
    python tools/benchmark_gtad.py --shapes anet --paths fused --inference-batches 1 16

A training step is forward, the official loss (labels from random ground truth through the model's
own label code), backward and an Adam update, in float32. ``fused`` is G-TAD with the first head
conv applied before the Align1D interpolation (``fused_sgalign=True``, the configs' default);
``plain`` materialises the official ``[B, C * (Ri + Rc), D, T]`` SGAlign tensor and is the memory
baseline. Every (shape, path) runs in a fresh subprocess with the same seed, so the two paths see
the same weights and inputs; the parent compares their losses and gradients and prints ratios.

Peak memory: ``torch.cuda.max_memory_allocated`` on CUDA; on CPU the peak resident set size
(``ru_maxrss``) minus the resident size after setup (model, inputs, cached interpolation matrices),
which is what the step itself adds. FLOPs are counted by a dispatch mode while the first step runs
(dense ops with PyTorch's FLOP formulas, sparse products as ``2 * nnz * columns``) and divided by
the wall time of the fastest later step; the reference is a square float32 ``torch.mm`` timed in
the same process, best of 10 runs before and 10 after the steps (also per CPU-second of the
process, which a machine shared with other jobs disturbs less than the wall time). On CPU the
plain path needs roughly ``3 * B * C * (Ri + Rc) * D * T * 4`` bytes (about 18 GB at the
ActivityNet shape): it is skipped when the machine has less available memory.
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import resource
import subprocess
import sys
import time
from typing import Dict, List

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

SHAPES: Dict[str, dict] = {
    # official widths 256/128/512; GCNeXt width 128
    'anet': dict(variant='anet', feat_dim=400, temporal_dim=100, max_duration=100, batch=16,
                 inner_bins=32, context_bins=4, kernel_2d=1),
    'thumos': dict(variant='thumos', feat_dim=2048, temporal_dim=256, max_duration=64, batch=8,
                   inner_bins=16, context_bins=16, kernel_2d=3,
                   loss_weights=dict(tem=1., pem_reg=1., pem_cls=10.), pem_cls_count_offset=10.),
}


def _rss_mib() -> float:
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**20


def _available_mib() -> float:
    try:
        with open('/proc/meminfo') as f:
            for line in f:
                if line.startswith('MemAvailable:'):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float('inf')


def plain_estimate_mib(shape: dict, batch: int, h_dim_1d: int = 256) -> float:
    """Rough need of the plain path: the SGAlign tensor, its gradient and one transient copy."""
    bins = shape['inner_bins'] + shape['context_bins']
    return 3 * batch * h_dim_1d * bins * shape['max_duration'] * shape['temporal_dim'] * 4 / 2**20


def child(args: argparse.Namespace) -> None:
    """One (shape, path) measurement; prints a JSON line."""
    import numpy as np
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils.flop_counter import flop_registry

    import sola_mm  # noqa: F401
    from mmengine.structures import InstanceData
    from mmaction.structures import ActionDataSample
    from sola_mm.models.localizers.gtad import GTAD

    class FlopCounter(TorchDispatchMode):
        def __init__(self) -> None:
            super().__init__()
            self.dense = 0
            self.sparse = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            tensors = [a for a in args if isinstance(a, torch.Tensor)]
            sparse = [a for a in tensors if a.layout != torch.strided]
            if sparse and isinstance(out, torch.Tensor):
                self.sparse += 2 * sparse[0]._nnz() * out.shape[-1]
            elif func._overloadpacket in flop_registry:
                self.dense += flop_registry[func._overloadpacket](*args, **kwargs, out_val=out)
            return out

    shape = dict(SHAPES[args.shape])
    batch = args.batch or shape.pop('batch')
    shape.pop('batch', None)
    device = torch.device(args.device)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model = GTAD(**shape, fused_sgalign=args.path == 'fused').to(device)
    optim = torch.optim.Adam(model.parameters(), lr=4e-3, weight_decay=1e-4)
    T = shape['temporal_dim']
    x = torch.randn(batch, shape['feat_dim'], T, device=device)
    samples = []
    for i in range(batch):
        sample = ActionDataSample()
        starts = np.sort(rng.uniform(0, 0.8, size=int(rng.integers(1, 4))))
        gt = np.stack([starts, np.minimum(1, starts + rng.uniform(0.02, 0.4, starts.size))], 1)
        if shape['variant'] == 'anet':
            sample.gt_instances = InstanceData(gt_bbox=torch.tensor(gt))
        else:
            model.label_style = 'anet'  # normalised GT is enough for a timing step
            sample.gt_instances = InstanceData(gt_bbox=torch.tensor(gt))
        sample.set_metainfo(dict(video_name=f'v_{i}'))
        samples.append(sample)
    model.goi_align.matrices(x)  # build the cached interpolation matrices during setup

    def step():
        np.random.seed(0)
        optim.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.amp == 'bf16'):
            losses = model(x, samples, mode='loss')
        total = sum(losses.values())
        total.backward()
        optim.step()
        if device.type == 'cuda':
            torch.cuda.synchronize()
        return total

    # reference: a square float32 matmul on the same device, same threads, best of 10 runs
    # before and again after the steps (the highest rate found is the peak)
    n = args.matmul_size or (8192 if device.type == 'cuda' else 2048)
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)

    def matmul_peak() -> tuple:
        torch.mm(a, b)
        if device.type == 'cuda':
            torch.cuda.synchronize()
        times, cpu = [], []
        for _ in range(10):
            t0, c0 = time.perf_counter(), time.process_time()
            torch.mm(a, b)
            if device.type == 'cuda':
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        # per CPU-second too: steadier on a machine shared with other jobs
        return 2 * n**3 / min(times), 2 * n**3 / min(cpu)

    matmul_flops, matmul_cpu_flops = matmul_peak()

    if device.type == 'cuda':
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        base = _rss_mib()
    counter = FlopCounter()
    t0 = time.perf_counter()
    with counter:
        total = step()
    first = time.perf_counter() - t0
    if device.type == 'cuda':
        peak = (torch.cuda.max_memory_allocated() - base) / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base
    grads = {n_: p.grad.detach().double().norm().item() for n_, p in model.named_parameters()
             if p.grad is not None}
    times, cpu_times = [], []
    for _ in range(max(0, args.steps - 1)):
        t0, c0 = time.perf_counter(), time.process_time()
        step()
        times.append(time.perf_counter() - t0)
        cpu_times.append(time.process_time() - c0)
    wall = min(times) if times else first
    flops = counter.dense + counter.sparse
    after, after_cpu = matmul_peak()
    matmul_flops, matmul_cpu_flops = max(matmul_flops, after), max(matmul_cpu_flops, after_cpu)
    print(json.dumps(dict(shape=args.shape, path=args.path, batch=batch, device=str(device),
                          threads=torch.get_num_threads(), loss=total.item(),
                          grad_norms=grads, peak_mib=peak, first_step_s=first, step_s=wall,
                          cpu_s=min(cpu_times) if cpu_times else None, amp=args.amp,
                          flops=flops, sparse_flops=counter.sparse,
                          achieved_flops=flops / wall, matmul_flops=matmul_flops,
                          matmul_cpu_flops=matmul_cpu_flops,
                          matmul_size=n)))


def inference(shape_name: str, args: argparse.Namespace) -> dict:
    """Test-time throughput of ``predict`` at each batch size, rounds interleaved; medians."""
    import statistics

    import torch

    import sola_mm  # noqa: F401
    from mmaction.structures import ActionDataSample
    from sola_mm.models.localizers.gtad import GTAD
    shape = {k: v for k, v in SHAPES[shape_name].items() if k != 'batch'}
    if shape['variant'] != 'anet':
        print(f'[{shape_name}] inference: ActivityNet variant only, skipped')
        return {}
    torch.manual_seed(0)
    model = GTAD(**shape).to(args.device).eval()
    batches = sorted(set(args.inference_batches))
    gen = torch.Generator().manual_seed(0)
    inputs = {b: torch.randn(b, shape['feat_dim'], shape['temporal_dim'], generator=gen)
              .to(args.device) for b in batches}
    samples = {}
    for b in batches:
        samples[b] = []
        for i in range(b):
            sample = ActionDataSample()
            sample.set_metainfo(dict(video_name=f'v_{i}', duration_second=120.))
            samples[b].append(sample)
    wall = {b: [] for b in batches}
    cpu = {b: [] for b in batches}
    for b in batches:
        model.predict(inputs[b], samples[b])  # warm-up
    for _ in range(args.repeats):
        for b in batches:
            t0, c0 = time.perf_counter(), time.process_time()
            model.predict(inputs[b], samples[b])
            wall[b].append((time.perf_counter() - t0) / b)
            cpu[b].append((time.process_time() - c0) / b)
    first = batches[0]
    out = {}
    for b in batches:
        w, c = statistics.median(wall[b]), statistics.median(cpu[b])
        out[b] = dict(wall_per_video=w, cpu_per_video=c)
        print(f'[{shape_name}] predict, batch {b:3d}: {w * 1e3:7.1f} ms/video (CPU '
              f'{c * 1e3:7.1f} ms); throughput vs batch {first}: wall '
              f'{statistics.median(wall[first]) / w:.2f}x, CPU '
              f'{statistics.median(cpu[first]) / c:.2f}x (median of {args.repeats} interleaved '
              'rounds)', flush=True)
    return dict(shape=shape_name, inference=out)


def run_child(shape: str, path: str, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, osp.abspath(__file__), '--child', '--shape', shape, '--path', path,
           '--device', args.device, '--steps', str(args.steps), '--amp', args.amp]
    if args.batch:
        cmd += ['--batch', str(args.batch)]
    if args.matmul_size:
        cmd += ['--matmul-size', str(args.matmul_size)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f'benchmark child {shape}/{path} failed ({proc.returncode}):\n'
                           f'{proc.stderr[-3000:]}')
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--shapes', nargs='+', default=['anet', 'thumos'], choices=list(SHAPES))
    parser.add_argument('--paths', nargs='+', default=['fused', 'plain'],
                        choices=['fused', 'plain'])
    parser.add_argument('--batch', type=int, default=None,
                        help='override the batch (default: ANet 16, THUMOS 8)')
    parser.add_argument('--steps', type=int, default=2,
                        help='training steps per run: the first is measured for memory and '
                        'FLOPs, the best of the others for time')
    parser.add_argument('--device', default=None, help='cpu or cuda (default: cuda if present)')
    parser.add_argument('--matmul-size', type=int, default=None)
    parser.add_argument('--force-plain', action='store_true',
                        help='run the plain path on CPU even if memory looks insufficient')
    parser.add_argument('--amp', choices=['none', 'bf16'], default='none',
                        help='bf16 autocast for the training step (the sparse products stay '
                        'float32); FLOPs are counted the same, the %% is against the fp32 matmul')
    parser.add_argument('--inference-batches', type=int, nargs='*', default=[],
                        help='also time predict (forward + post-processing, fused, no gradients) '
                        'per video at these batch sizes, interleaved, in one process')
    parser.add_argument('--repeats', type=int, default=3, help='rounds of --inference-batches')
    parser.add_argument('--json', default=None, help='also write the results to this file')
    parser.add_argument('--child', action='store_true', help=argparse.SUPPRESS)
    parser.add_argument('--shape', help=argparse.SUPPRESS)
    parser.add_argument('--path', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.device is None:
        import torch
        args.device = 'cuda' if torch.cuda.is_available() else 'cpu'
    if args.child:
        child(args)
        return

    results: List[dict] = []
    for shape in args.shapes:
        runs = {}
        batch = args.batch or SHAPES[shape]['batch']
        for path in args.paths:
            if path == 'plain' and args.device == 'cpu' and not args.force_plain:
                need, avail = plain_estimate_mib(SHAPES[shape], batch), _available_mib()
                if need > 0.9 * avail:
                    print(f'[{shape}] plain path skipped: needs ~{need / 1024:.1f} GiB, '
                          f'{avail / 1024:.1f} GiB available (use --batch or --force-plain)')
                    continue
            res = run_child(shape, path, args)
            runs[path] = res
            results.append(res)
            print(f"[{shape}] {path:5s} batch {res['batch']:3d} on {res['device']} "
                  f"({res['threads']} threads): step {res['step_s']:.2f} s "
                  f"(first {res['first_step_s']:.2f} s), peak {res['peak_mib']:.0f} MiB, "
                  f"{res['flops'] / 1e9:.1f} GFLOP/step ({res['sparse_flops'] / 1e9:.1f} sparse) "
                  f"-> {res['achieved_flops'] / 1e9:.1f} GFLOP/s = "
                  f"{100 * res['achieved_flops'] / res['matmul_flops']:.1f}% of a "
                  f"{res['matmul_size']}^2 fp32 matmul ({res['matmul_flops'] / 1e9:.1f} GFLOP/s)"
                  + (f"; by CPU time: {res['cpu_s']:.2f} CPU-s, "
                     f"{100 * res['flops'] / res['cpu_s'] / res['matmul_cpu_flops']:.1f}% of the "
                     "matmul's FLOP per CPU-second" if res['cpu_s'] else '')
                  + (' [bf16 autocast]' if res['amp'] == 'bf16' else ''), flush=True)
        if 'fused' in runs and 'plain' in runs:
            f, p = runs['fused'], runs['plain']
            worst = max(abs(f['grad_norms'][k] - p['grad_norms'][k]) /
                        max(abs(p['grad_norms'][k]), 1e-12) for k in p['grad_norms'])
            print(f"[{shape}] fused / plain: memory {f['peak_mib'] / p['peak_mib']:.3f}, "
                  f"time {f['step_s'] / p['step_s']:.3f}, FLOPs {f['flops'] / p['flops']:.3f}; "
                  f"loss {f['loss']:.8f} vs {p['loss']:.8f} "
                  f"(|diff| {abs(f['loss'] - p['loss']):.2e}), worst relative gradient-norm "
                  f"difference {worst:.2e}")
    for shape in args.shapes if args.inference_batches else []:
        results.append(inference(shape, args))
    if args.json:
        with open(args.json, 'w') as fh:
            json.dump(results, fh, indent=1)


if __name__ == '__main__':
    main()
