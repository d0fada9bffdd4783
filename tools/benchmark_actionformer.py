"""Training-step time and peak memory of sola_mm's ActionFormer vs the official model code.

Both models run in this process on CPU, with the official THUMOS (``thumos_i3d.yaml``: batch 2,
T = 2304, C = 2048) and ActivityNet (``anet_tsp.yaml``: batch 16, T = 192, C = 512) settings, the
same weights (ours loads the official state dict), the same inputs and ground truth, and the same
AdamW groups. A step = forward + loss + backward + gradient clipping + AdamW step. The losses of
the two are checked equal before timing.

The official code is not part of sola_mm: pass the folder of an extracted
happyharrycn/actionformer_release (commit 61ea7eb) with ``--official`` or ``AF_OFFICIAL_ROOT``.
Its compiled NMS op is not needed for training: ``libs.utils`` is replaced by a stub that only
provides the name ``batched_nms`` (nothing else of the official code is changed). Without the
folder, only our model is measured and the ratios are not printed.

Time: the best of ``--repeat`` steps after a warm-up step, the two models alternating, as wall
time and as process CPU time (with one thread, what the step consumed; robust on a shared box).
Peak memory, measured after all timings: glibc is told to serve every allocation above 64 KiB with
mmap (``mallopt(M_MMAP_THRESHOLD)``, so freed tensors leave the RSS), the peak RSS is reset
(``/proc/self/clear_refs``) before a step, and ``VmHWM - VmRSS`` is the step's own peak above what
was already allocated (model, inputs, AdamW state).

    python tools/benchmark_actionformer.py --official /path/to/actionformer_release
    python tools/benchmark_actionformer.py --shapes anet --repeat 2   # no official code: ours only
"""
from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import sys
import time
import types
from pathlib import Path
from typing import Callable, Dict, List, Optional

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: official configs (thumos_i3d.yaml / anet_tsp.yaml over the defaults of libs/core/config.py)
SHAPES = {
    'thumos': dict(batch=2, model=dict(input_dim=2048, num_classes=20, max_seq_len=2304,
                                       max_buffer_len_factor=6.0, n_mha_win_size=19,
                                       backbone_arch=(2, 2, 5), embd_dim=512, fpn_dim=512,
                                       head_dim=512),
                   train_cfg=dict(init_loss_norm=100, clip_grad_l2norm=1.0, droppath=0.1,
                                  label_smoothing=0.0, loss_weight=1.0),
                   lr=1e-4),
    'anet': dict(batch=16, model=dict(input_dim=512, num_classes=1, max_seq_len=192,
                                      max_buffer_len_factor=1.0,
                                      n_mha_win_size=[7, 7, 7, 7, 7, -1], n_head=4,
                                      embd_dim=256, fpn_dim=256, head_dim=256, use_abs_pe=True),
                 train_cfg=dict(init_loss_norm=200, clip_grad_l2norm=1.0, droppath=0.1,
                                label_smoothing=0.1, loss_weight=2.0),
                 lr=1e-3),
}
M_MMAP_THRESHOLD = -3  # mallopt parameter (malloc.h)


def _status(key: str) -> int:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(key + ':'):
                return int(line.split()[1]) * 1024
    return 0


def _reset_peak() -> bool:
    gc.collect()
    try:
        ctypes.CDLL('libc.so.6').malloc_trim(0)
    except OSError:
        pass
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


def load_official(root: str):
    """Import the official ``libs.modeling`` from ``root`` (stub ``libs.utils``)."""
    libs = Path(root) / 'libs'
    if not (libs / 'modeling' / 'meta_archs.py').is_file():
        raise FileNotFoundError(f'{root} is not an extracted actionformer_release (no '
                                'libs/modeling/meta_archs.py)')
    sys.path.insert(0, str(root))
    stub = types.ModuleType('libs.utils')
    stub.__path__ = [str(libs / 'utils')]
    stub.batched_nms = None  # inference only; not used by a training step
    sys.modules['libs.utils'] = stub
    from libs.core.config import DEFAULTS  # noqa: E402
    from libs.modeling import make_meta_arch  # noqa: E402
    return DEFAULTS, make_meta_arch


def _merge(defaults: dict, shape: dict) -> dict:
    model = {**defaults['model'], **shape['model']}
    model['train_cfg'] = {**defaults['train_cfg'], **shape['train_cfg']}
    model['test_cfg'] = dict(defaults['test_cfg'])
    return model


def make_inputs(shape: dict, seed: int = 0):
    """Per-video features (lengths up to max_seq_len) and GT on the grid (float32)."""
    g = torch.Generator().manual_seed(seed)
    m = shape['model']
    T, C, K = m['max_seq_len'], m['input_dim'], m['num_classes']
    feats, segs, labels = [], [], []
    for b in range(shape['batch']):
        length = T if b % 2 == 0 else int(T * 0.9)
        feats.append(torch.randn(C, length, generator=g))
        n = 1 + int(torch.randint(0, 8, (1, ), generator=g))
        start = torch.rand(n, generator=g) * length * 0.8
        dur = 1 + torch.rand(n, generator=g) * length * 0.3
        segs.append(torch.stack([start, torch.clamp(start + dur, max=length)], 1).float())
        labels.append(torch.randint(0, K, (n, ), generator=g))
    return feats, segs, labels


def _adamw(model, lr: float, wd: float = 0.05):
    from sola_mm.engine.optim_constructor import decay_groups
    named = dict(model.named_parameters())
    decay, no_decay = decay_groups(model)
    return torch.optim.AdamW([dict(params=[named[n] for n in decay], weight_decay=wd),
                              dict(params=[named[n] for n in no_decay], weight_decay=0.0)],
                             lr=lr)


def make_steps(shape: dict, official_root: Optional[str]) -> Dict[str, Callable]:
    from mmengine.structures import InstanceData

    from mmaction.structures import ActionDataSample
    from sola_mm.models.localizers.actionformer import ActionFormer, OFFICIAL_TEST_CFG

    feats, segs, labels = make_inputs(shape)
    clip = shape['train_cfg']['clip_grad_l2norm']
    steps = {}
    official = None
    if official_root:
        defaults, make_meta_arch = load_official(official_root)
        cfg = _merge(defaults, shape)
        torch.manual_seed(0)
        official = make_meta_arch('LocPointTransformer', **cfg).train()
        ours_cfg = cfg
    else:
        from sola_mm.models.localizers.actionformer import OFFICIAL_TRAIN_CFG
        ours_cfg = dict(shape['model'], train_cfg={**OFFICIAL_TRAIN_CFG, **shape['train_cfg']},
                        test_cfg=dict(OFFICIAL_TEST_CFG))
    ours = ActionFormer(**ours_cfg).train()
    if official is not None:
        missing, unexpected = ours.load_state_dict(official.state_dict(), strict=False)
        assert missing == ['loss_normalizer'] and not unexpected, (missing, unexpected)
    samples = []
    for s, lab in zip(segs, labels):
        ds = ActionDataSample()
        ds.gt_instances = InstanceData(gt_segments=s, gt_labels=lab)
        samples.append(ds)
    video_list = [dict(feats=f, segments=s, labels=lab) for f, s, lab in zip(feats, segs, labels)]

    def step_fn(model, loss_fn):
        opt = _adamw(model, shape['lr'])

        def step():
            opt.zero_grad(set_to_none=True)
            loss = loss_fn()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            opt.step()
            return float(loss.detach())
        return step

    def ours_loss():
        out = ours(feats, samples, mode='loss')
        return out['loss_cls'] + out['loss_reg']

    steps['ours'] = step_fn(ours, ours_loss)
    if official is not None:
        steps['official'] = step_fn(official, lambda: official(video_list)['final_loss'])
        # same weights, inputs, drop-path draws: the first losses must agree
        torch.manual_seed(1)
        with torch.no_grad():
            a = float(ours_loss())
        torch.manual_seed(1)
        with torch.no_grad():
            b = float(official(video_list)['final_loss'])
        ours.loss_normalizer.fill_(shape['train_cfg']['init_loss_norm'])
        official.loss_normalizer = shape['train_cfg']['init_loss_norm']
        if abs(a - b) > 1e-4 * max(1.0, abs(b)):
            raise AssertionError(f'losses differ: ours {a} vs official {b}')
        steps['loss_check'] = (a, b)
    return steps


def time_steps(steps: Dict[str, Callable], repeat: int) -> Dict[str, Dict[str, float]]:
    """Best wall and CPU time (``time.process_time``: what the step itself consumed, robust on a
    shared machine) of each, after one warm-up step (AdamW state), alternating the models."""
    times: Dict[str, Dict[str, List[float]]] = {k: dict(wall=[], cpu=[]) for k in steps}
    for name, step in steps.items():
        torch.manual_seed(2)
        step()
    for _ in range(repeat):
        for name, step in steps.items():
            w0, c0 = time.perf_counter(), time.process_time()
            step()
            times[name]['cpu'].append(time.process_time() - c0)
            times[name]['wall'].append(time.perf_counter() - w0)
    return {k: dict(time_s=min(v['wall']), cpu_s=min(v['cpu'])) for k, v in times.items()}


def _mmap_all_allocations() -> bool:
    try:
        return bool(ctypes.CDLL('libc.so.6').mallopt(M_MMAP_THRESHOLD, 65536))
    except (OSError, AttributeError):
        return False


def peak_memory(step: Callable) -> float:
    """MB above the RSS before one step (nan where /proc/self/clear_refs is unavailable)."""
    if not _reset_peak():
        return float('nan')
    before = _status('VmRSS')
    step()
    return (_status('VmHWM') - before) / 2 ** 20


def run(shapes: List[str], official_root: Optional[str], repeat: int) -> dict:
    results = {}
    built = {name: make_steps(SHAPES[name], official_root) for name in shapes}
    for name, steps in built.items():
        check = steps.pop('loss_check', None)
        res = time_steps(steps, repeat)
        if check is not None:
            res['first_loss'] = dict(zip(('ours', 'official'), check))
        results[name] = res
    _mmap_all_allocations()
    for name, steps in built.items():
        for impl, step in steps.items():
            results[name][impl]['peak_mb'] = max(peak_memory(step) for _ in range(2))
    for name in shapes:
        res = results[name]
        if 'official' in res:
            res['speedup'] = res['official']['time_s'] / res['ours']['time_s']
            res['cpu_speedup'] = res['official']['cpu_s'] / res['ours']['cpu_s']
            res['memory_ratio'] = res['ours']['peak_mb'] / res['official']['peak_mb']
        shape = SHAPES[name]
        m = shape['model']
        print(f"{name}: batch {shape['batch']}, T={m['max_seq_len']}, C={m['input_dim']}, "
              f"threads {torch.get_num_threads()}")
        for impl in ('ours', 'official'):
            if impl in res:
                r = res[impl]
                print(f"  {impl:9s} step {r['time_s']:.3f} s (CPU {r['cpu_s']:.3f} s), "
                      f"peak +{r['peak_mb']:.0f} MB")
        if 'speedup' in res:
            print(f"  speed ours/official {res['speedup']:.2f}x (CPU time "
                  f"{res['cpu_speedup']:.2f}x), memory {100 * res['memory_ratio']:.0f}% of official")
        else:
            print('  (official code not given: --official or AF_OFFICIAL_ROOT)')
    return results


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--official', default=os.environ.get('AF_OFFICIAL_ROOT'),
                        help='extracted actionformer_release folder (or AF_OFFICIAL_ROOT)')
    parser.add_argument('--shapes', nargs='+', default=['thumos', 'anet'], choices=list(SHAPES))
    parser.add_argument('--repeat', type=int, default=3)
    parser.add_argument('--threads', type=int, default=None)
    parser.add_argument('--json', default=None, help='also write the figures here')
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.official and not Path(args.official).is_dir():
        sys.exit(f'--official {args.official}: no such folder')
    if not args.official:
        print('official code not given (--official / AF_OFFICIAL_ROOT): measuring ours only')
    results = run(args.shapes, args.official, args.repeat)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == '__main__':
    main()
