"""Test a checkpoint (MMAction2's test.py flags); prints the metrics ANet-style, writes the results.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--dump results.pkl]
        [--cfg-options k=v ...] [--show] [--show-dir DIR] [--interval N] [--wait-time S]
        [--launcher none|pytorch|slurm|mpi]

The registered TAL metrics (TALDetectionMetric, TALProposalMetric) write their submission files
(``detections.json`` / ``proposals.json``, ActivityNet format) and the full metrics
(``detection_metrics.json`` with per-class AP, ``proposal_metrics.json``) into the work dir unless
their ``out_dir`` is set in the config.
"""
import argparse
import os
import os.path as osp
import sys
import time
from typing import Any, Dict

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import sola_mm  # noqa: E402,F401
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

from sola_mm.engine.launch import load_config, prepare_runtime  # noqa: E402

TAL_METRICS = ('TALDetectionMetric', 'TALProposalMetric')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (and evaluate) a temporal action localizer')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the directory to save the evaluation metrics')
    parser.add_argument('--dump', type=str,
                        help='dump predictions to a pickle file (.pkl) for offline evaluation')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value')
    parser.add_argument('--show-dir', help='write the detection timeline of every test video '
                        '(<video>.png) here (TALVisualizationHook)')
    parser.add_argument('--show', action='store_true', help='show results (visualization hook)')
    parser.add_argument('--interval', type=int, default=1,
                        help='visualize every N samples (visualization hook)')
    parser.add_argument('--wait-time', type=float, default=2,
                        help='seconds each shown window stays (visualization hook)')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def _evaluators(cfg_evaluator: Any) -> list:
    if cfg_evaluator is None:
        return []
    if isinstance(cfg_evaluator, (list, tuple)):
        return list(cfg_evaluator)
    if isinstance(cfg_evaluator, dict) and 'metrics' in cfg_evaluator:
        return _evaluators(cfg_evaluator['metrics'])
    return [cfg_evaluator]


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Apply the command line to the config (same rules as MMAction2's tools/test.py)."""
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    if args.show or args.show_dir is not None:
        # the detection timeline of each test video (TALVisualizationHook, TALVisualizer)
        if cfg.get('default_hooks') is None:
            cfg.default_hooks = dict()
        hooks = cfg.default_hooks
        if 'visualization' not in hooks:
            hooks['visualization'] = dict(type='TALVisualizationHook')
        hooks['visualization'].update(enable=True, show=args.show, wait_time=args.wait_time,
                                      out_dir=args.show_dir, interval=args.interval)
        if (cfg.get('visualizer') or {}).get('type') in (None, 'ActionVisualizer'):
            cfg.visualizer = dict(type='TALVisualizer',
                                  vis_backends=(cfg.get('visualizer') or {}).get('vis_backends'))
    # the TAL metrics write their submission / metrics files next to the logs by default
    for metric in _evaluators(cfg.get('test_evaluator')):
        if isinstance(metric, dict) and metric.get('type') in TAL_METRICS \
                and metric.get('out_dir') is None:
            metric['out_dir'] = cfg.work_dir
    if args.dump is not None:
        if not args.dump.endswith(('.pkl', '.pickle')):
            raise ValueError(f'--dump {args.dump}: the dump file must be a .pkl or .pickle file')
        evaluator = cfg.test_evaluator
        evaluator = list(evaluator) if isinstance(evaluator, (list, tuple)) else [evaluator]
        cfg.test_evaluator = evaluator + [dict(type='DumpResults', out_file_path=args.dump)]
    cfg.load_from = args.checkpoint
    cfg.resume = False
    # a finished stage-1 neck is inside the checkpoint: never run or reuse stage 1 when testing
    cfg.custom_hooks = [h for h in cfg.get('custom_hooks', []) if h.get('type') != 'SoLaStage1Hook']
    return cfg


def format_metrics(metrics: Dict[str, Any]) -> str:
    """ANet-style summary: mAP at 0.5 / 0.75 / 0.95 and average, AR@AN and AUC, then the rest."""
    lines = []
    shown = set()

    def row(title: str, keys: list) -> None:
        present = [k for k in keys if k in metrics]
        if present:
            lines.append(title + '  ' + '  '.join(f'{k} {float(metrics[k]):.4f}'
                                                  for k in present))
            shown.update(present)

    headline = ['mAP@0.5', 'mAP@0.75', 'mAP@0.95', 'mAP_avg']
    if not any(k in metrics for k in headline[:3]):  # THUMOS thresholds
        headline = [k for k in metrics if k.startswith('mAP@')] + ['mAP_avg']
    row('Detection:', headline)
    row('Proposals:', [k for k in metrics if k.startswith('AR@')] + ['AUC'])
    rest = {k: v for k, v in metrics.items() if k not in shown}
    if rest:
        lines.append('All metrics: ' + ', '.join(
            f'{k} {round(float(v), 6) if isinstance(v, (int, float)) else v}'
            for k, v in rest.items()))
    return '\n'.join(lines)


def main() -> None:
    args = parse_args()
    cfg = load_config(args.config, args.cfg_options)
    cfg = merge_args(cfg, args)
    cfg = prepare_runtime(cfg)
    runner = Runner.from_cfg(cfg)
    started = time.time()
    metrics = runner.test()
    print(format_metrics(metrics))
    for name in ('detections.json', 'proposals.json'):
        path = osp.join(cfg.work_dir, name)
        if osp.isfile(path) and osp.getmtime(path) >= started - 1:
            print(f'Submission file: {path}')


if __name__ == '__main__':
    main()
