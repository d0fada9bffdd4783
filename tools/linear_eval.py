"""Linear evaluation (SoLa paper protocol) of raw vs SoLa features, printed side by side.

    python tools/linear_eval.py CONFIG [--checkpoint SOLA_CKPT] [--work-dir DIR]
        [--temporal-scale N] [--boundary-k 2] [--epochs 16] [--lr 0.01] [--momentum 0.9]
        [--batch-size 256] [--score-epochs 5 14] [--sampling chunk|all] [--chunk-size 100]
        [--seed 0] [--max-videos N] [--out res.json]

CONFIG is a stage-2 config (``model.neck`` + train/val dataloaders) or the stage-1 config. The
probe is fitted on the train annotation file's videos and scored on the val file's. Without
``--checkpoint`` the tool uses ``sola_stage1.checkpoint`` of the config or the finished stage 1
under ``--work-dir`` (the checkpoint a stage-2 run chose, or the best one of a stage-1-alone run);
with none of them only raw features are probed. See ``sola_mm/evaluation/linear_probe.py`` for
the labelling rule and the score, and docs/protocol.md for the whole protocol.
"""
import argparse
import glob
import json
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import sola_mm  # noqa: E402,F401
from sola_mm.engine.hooks.stage1 import read_stage1_marker  # noqa: E402
from sola_mm.engine.launch import load_config  # noqa: E402
from mmengine.config import DictAction  # noqa: E402

from sola_mm.apis.linear_eval import run_linear_eval  # noqa: E402
from sola_mm.evaluation.linear_probe import format_side_by_side  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Linear probe of raw vs SoLa features')
    p.add_argument('config')
    p.add_argument('--checkpoint', help='SoLa stage-1 (or stage-2) checkpoint')
    p.add_argument('--work-dir', help='stage-2 work dir holding sola_stage1/stage1_done.json')
    p.add_argument('--temporal-scale', type=int, default=-1,
                   help='resize videos to N snippets; -1: the config\'s, 0: native length')
    p.add_argument('--boundary-k', type=int, default=2)
    p.add_argument('--epochs', type=int, default=16)
    p.add_argument('--lr', type=float, default=0.01)
    p.add_argument('--momentum', type=float, default=0.9)
    p.add_argument('--batch-size', type=int, default=256)
    p.add_argument('--score-epochs', type=int, nargs=2, default=(5, 14),
                   help='first and last epoch (0-based, inclusive) averaged into the score '
                        "(the authors': 5 14, i.e. epochs 6-15)")
    p.add_argument('--sampling', choices=('chunk', 'all'), default='chunk',
                   help="chunk: one random snippet per --chunk-size chunk per epoch (the "
                        "authors'); all: every snippet every epoch")
    p.add_argument('--chunk-size', type=int, default=100)
    p.add_argument('--no-normalize', action='store_true', help='skip the L2 normalisation')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--max-videos', type=int, default=None, help='per split, evenly spaced')
    p.add_argument('--out', help='write the results (without per-epoch lists) as JSON')
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    return p.parse_args(argv)


def find_checkpoint(cfg, args):
    """The SoLa checkpoint to probe: ``--checkpoint``; else ``sola_stage1.checkpoint`` of the
    config; else, in ``--work-dir``, the stage-1 checkpoint a stage-2 run chose
    (``sola_stage1/stage1_done.json``), the best checkpoint of a stage-1-alone run
    (``best_probe_score_epoch_*.pth``, its ``last_checkpoint`` when it kept none); else None."""
    if args.checkpoint:
        return args.checkpoint
    spec = cfg.get('sola_stage1') or {}
    if spec.get('checkpoint'):
        return spec['checkpoint']
    if not args.work_dir:
        return None
    stage1_dir = osp.join(args.work_dir, spec.get('work_subdir', 'sola_stage1'))
    chosen = read_stage1_marker(stage1_dir)
    if chosen:
        return chosen
    if cfg.get('model', {}).get('type') == 'SoLaPretrainer':  # tools/train.py on stage 1 alone
        best = sorted(glob.glob(osp.join(args.work_dir, 'best_probe_score_epoch_*.pth')),
                      key=osp.getmtime)
        if best:
            return best[-1]
        pointer = osp.join(args.work_dir, 'last_checkpoint')
        if osp.isfile(pointer):
            with open(pointer) as f:
                return f.read().strip()
    raise FileNotFoundError(f'--work-dir {args.work_dir}: no finished SoLa stage 1 there (no '
                            f'{stage1_dir}/stage1_done.json, no stage-1 checkpoint); pass --checkpoint')


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    checkpoint = find_checkpoint(cfg, args)
    results = run_linear_eval(
        cfg, checkpoint, temporal_scale=args.temporal_scale, max_videos=args.max_videos,
        boundary_k=args.boundary_k, epochs=args.epochs, lr=args.lr, momentum=args.momentum,
        batch_size=args.batch_size, score_epochs=tuple(args.score_epochs),
        normalize=not args.no_normalize, seed=args.seed, sampling=args.sampling,
        chunk_size=args.chunk_size)
    first = next(iter(results.values()))
    print(f'linear probe: {first["num_train"]} train / {first["num_val"]} val snippets per epoch '
          f'(sampling={args.sampling}), score = mean val accuracy over epochs '
          f'{args.score_epochs[0]}-{args.score_epochs[1]} (0-based)'
          + (f'; SoLa checkpoint {checkpoint}' if checkpoint else '; no SoLa checkpoint given'))
    print(format_side_by_side(results))
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump({k: {m: v for m, v in r.items() if m != 'per_epoch'}
                       for k, r in results.items()}, f, indent=1)
    return results


if __name__ == '__main__':
    main()
