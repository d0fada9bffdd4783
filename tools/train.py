"""Train a sola_mm / MMAction2 config with mmengine's Runner (same flags as MMAction2's train.py).

    python tools/train.py configs/sola_gtad_anet.py [--work-dir DIR] [--resume [CKPT]] [--amp]
        [--auto-scale-lr] [--cfg-options k=v ...] [--launcher none|pytorch|slurm|mpi]
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import sola_mm  # noqa: E402,F401  (compat fixes + registration)
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

from sola_mm.datasets.preflight import DataError, check_data  # noqa: E402
from sola_mm.engine.launch import apply_batch_policy, load_config, prepare_runtime  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a temporal action localizer')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from the given checkpoint, or from the latest checkpoint in '
                        'the work_dir when no path is given')
    parser.add_argument('--amp', action='store_true', help='enable automatic mixed precision')
    parser.add_argument('--no-validate', action='store_true', help='skip validation during training')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the lr by the actual total batch size (auto_scale_lr)')
    parser.add_argument('--seed', type=int, default=None, help='random seed')
    parser.add_argument('--diff-rank-seed', action='store_true', help='a different seed per rank')
    parser.add_argument('--deterministic', action='store_true',
                        help='deterministic options for CUDNN and torch')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value (e.g. '
                        'train_dataloader.dataset.ann_file=x.json)')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


MMENGINE_DEFAULT_HOOKS = ('runtime_info', 'timer', 'sampler_seed', 'logger', 'param_scheduler',
                          'checkpoint')


def drop_disabled_hooks(cfg: Config) -> None:
    """``default_hooks.<name>=None`` removes a hook. mmengine allows that only for its own six
    names (and asserts otherwise); ours (``sola_stage1``, ``rng_state``, ``protocol``, ...) are
    dropped here, so that disabling them gives our errors rather than a bare AssertionError."""
    hooks = cfg.get('default_hooks') or {}
    for name in [n for n, hook in hooks.items() if hook is None and n not in MMENGINE_DEFAULT_HOOKS]:
        hooks.pop(name)


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    if args.no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    # Config.setdefault returns a copy when it inserts a new key: assign, then read back
    if args.auto_scale_lr:
        if cfg.get('auto_scale_lr') is None:
            cfg.auto_scale_lr = dict(base_batch_size=16)
        cfg.auto_scale_lr['enable'] = True
    if cfg.get('randomness') is None:
        cfg.randomness = dict(seed=None)  # mmengine's default: a random seed, logged
    randomness = cfg.randomness
    if args.seed is not None:
        randomness['seed'] = args.seed
    if args.deterministic:
        randomness['deterministic'] = True
    if args.diff_rank_seed:
        randomness['diff_rank_seed'] = True
    drop_disabled_hooks(cfg)
    cfg.launcher = args.launcher
    # several processes keep the configured global batch and lr (config key `batch_policy`)
    return apply_batch_policy(prepare_runtime(cfg))


def main() -> None:
    args = parse_args()
    cfg = load_config(args.config, args.cfg_options)
    cfg = merge_args(cfg, args)
    try:  # missing or bad data: one short report, before the Runner prints anything
        check_data(cfg, args.config)
    except DataError as err:
        sys.exit(str(err))
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else None
    if runner is None:
        from mmengine.registry import RUNNERS
        runner = RUNNERS.build(cfg)
    runner.train()


if __name__ == '__main__':
    main()
