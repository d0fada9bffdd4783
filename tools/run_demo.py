"""The README's demo: synthetic ActivityNet-layout data -> SoLa stage 1 -> localizer -> metrics.

    python tools/run_demo.py [--config configs/demo/sola_gtad_demo.py] [--baseline] [--fresh]
        [--verbose]

Writes the data to data/demo_anet (once), trains in work_dirs/demo/<config name>
(``tools/train.py``), runs ``tools/test.py`` on the final checkpoint and draws the temporal
self-similarity maps of two validation videos before/after SoLa (``tools/visualize_tsm.py``).
``--baseline`` also trains the config without SoLa.

The console shows one progress bar per training stage (on a terminal; elsewhere a line every 10%
of the epochs), then ONE table: each config's detection mAP@0.5/0.75/0.95/average and AR@100 / AUC
of its proposals, all in percent, and where its checkpoint, logs, detection JSON and plots are.
Everything the tools print goes to ``<work_dir>/console.log`` (mmengine's own logs to
``<work_dir>/<timestamp>/``); ``--verbose`` prints it on the console as well.
"""
import argparse
import glob
import json
import os
import os.path as osp
import re
import shutil
import subprocess
import sys
import time
from typing import Dict, List, Optional

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
BASELINES = {'sola_bmn_demo.py': 'bmn_demo.py', 'sola_gtad_demo.py': 'gtad_demo.py'}
EPOCH = re.compile(r'Epoch\(train\)\s*\[(\d+)\]\[(\d+)/(\d+)\].*?\bloss: ([-\d.e]+)')
PROBE = re.compile(r'probe/score: ([-\d.e]+)')
COLUMNS = ['mAP@0.5', 'mAP@0.75', 'mAP@0.95', 'avg mAP', 'AR@100', 'AUC']


class Progress:
    """One bar per training stage, drawn from the tools' log lines."""

    def __init__(self, stages: Dict[str, int], stream=sys.stdout) -> None:
        self.stages = stages  # title -> epochs
        self.stream = stream
        self.tty = stream.isatty()
        self.stage: Optional[str] = None
        self.shown = -1
        self.extra = ''

    def start(self, stage: str) -> None:
        self.finish()
        self.stage, self.shown, self.extra = stage, -1, ''

    def finish(self, note: str = '') -> None:
        if self.stage is not None and self.tty:
            self.stream.write('\n')
        if note:
            self.stream.write(f'  {note}\n')
        self.stage = None
        self.stream.flush()

    def epoch(self, epoch: int, loss: str) -> None:
        if self.stage is None:
            return
        total = self.stages[self.stage]
        tenth = min(10, epoch * 10 // max(total, 1))
        if not self.tty and tenth == self.shown:
            return
        self.shown = tenth
        bar = '#' * (epoch * 20 // max(total, 1)) + '-' * (20 - epoch * 20 // max(total, 1))
        line = f'  {self.stage:<34} [{bar}] {epoch:>4}/{total} epochs  loss {float(loss):.4f}'
        line += self.extra
        self.stream.write(('\r' + line) if self.tty else line + '\n')
        self.stream.flush()

    def note(self, extra: str) -> None:
        self.extra = extra


def run(cmd: List[str], log: str, progress: Optional[Progress] = None,
        verbose: bool = False) -> None:
    """Run a tool; its whole output goes to ``log`` (and the console with --verbose), progress
    lines feed the bar. A failure prints the end of the output and where all of it is."""
    os.makedirs(osp.dirname(log), exist_ok=True)
    tail: List[str] = []
    with open(log, 'a') as out:
        out.write(f'+ {" ".join(cmd)}\n')
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, bufsize=1)
        for line in proc.stdout:
            out.write(line)
            tail = (tail + [line])[-40:]
            if verbose:
                sys.stdout.write(line)
            elif progress is not None:
                _follow(progress, line)
        code = proc.wait()
    if code != 0:
        if progress is not None:
            progress.finish()
        sys.stdout.write(''.join(tail))
        sys.exit(f'{" ".join(cmd[1:3])} failed (exit {code}); its whole output: {log}')


def _follow(progress: Progress, line: str) -> None:
    if 'SoLa stage 1 (Similarity Matching) starts' in line:
        progress.start('stage 1: SoLa Similarity Matching')
    elif 'reusing finished SoLa stage 1' in line:
        progress.finish('stage 1: SoLa Similarity Matching: reused the finished run')
    elif 'SoLa stage 1 finished; using' in line:
        progress.finish('stage 1 hands over ' + osp.basename(line.split('using', 1)[1].strip()))
    elif 'Checkpoints will be saved to' in line and progress.stage is None:
        progress.start(progress.stage2)
    elif (match := PROBE.search(line)) is not None:
        progress.note(f'  linear probe {float(match.group(1)):.3f}')
    elif (match := EPOCH.search(line)) is not None and match.group(2) == match.group(3):
        progress.epoch(int(match.group(1)), match.group(4))


def _epochs(config: str) -> Dict[str, int]:
    """Epochs of stage 1 (when the config has one) and stage 2, from the configs."""
    sys.path.insert(0, ROOT)
    import sola_mm  # noqa: F401  (compat fixes)
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(ROOT, config))
    stages = {}
    spec = cfg.get('sola_stage1')
    if spec and not spec.get('checkpoint'):
        options = dict(spec.get('cfg_options') or {})
        epochs = options.get('train_cfg.max_epochs')
        if epochs is None:
            epochs = Config.fromfile(spec['config']).train_cfg.max_epochs
        stages['stage 1: SoLa Similarity Matching'] = int(epochs)
    head = cfg.model.get('localizer', cfg.model).get('type', 'localizer')
    title = f'stage 2: {head} on frozen SoLa' if 'neck' in cfg.model else f'{head} (no SoLa)'
    stages[title] = int(cfg.train_cfg.max_epochs)
    return stages


def train_and_test(config: str, work_root: str, fresh: bool, verbose: bool, plots: bool) -> dict:
    name = osp.splitext(osp.basename(config))[0]
    work_dir = osp.join(work_root, name)
    if fresh and osp.isdir(work_dir):
        shutil.rmtree(work_dir)
    log = osp.join(ROOT, work_dir, 'console.log')
    stages = _epochs(config)
    progress = Progress(stages)
    progress.stage2 = list(stages)[-1]
    print(f'== {name}', flush=True)
    start = time.time()
    run([sys.executable, 'tools/train.py', config, '--work-dir', work_dir], log, progress, verbose)
    progress.finish()
    with open(osp.join(ROOT, work_dir, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    print('  testing the final checkpoint on the demo validation set', flush=True)
    run([sys.executable, 'tools/test.py', config, checkpoint, '--work-dir', work_dir], log,
        verbose=verbose)
    result = dict(name=name, work_dir=work_dir, checkpoint=checkpoint, log=log,
                  seconds=time.time() - start, metrics=_metrics(osp.join(ROOT, work_dir)))
    result['logs'] = sorted(glob.glob(osp.join(ROOT, work_dir, '2*', '*.log')))
    result['detections'] = osp.join(work_dir, 'detections.json')
    if plots:
        videos = sorted(_val_videos(config))[:2]
        out = osp.join(work_dir, 'tsm_plots')
        run([sys.executable, 'tools/visualize_tsm.py', config, checkpoint, '--videos', *videos,
             '--out', out], log, verbose=verbose)
        result['plots'] = out
    return result


def _val_videos(config: str) -> List[str]:
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(ROOT, config))
    with open(osp.join(ROOT, cfg.val_dataloader.dataset.ann_file)) as f:
        return list(json.load(f))


def _metrics(work_dir: str) -> Dict[str, float]:
    """The table's columns in percent, from the files tools/test.py wrote: detection mAP and
    AR@100 are stored as fractions, AUC already in percent (ActivityNet's convention)."""
    values = {}
    path = osp.join(work_dir, 'detection_metrics.json')
    if osp.isfile(path):
        with open(path) as f:
            det = json.load(f)
        for thr, value in zip(det['tiou_thresholds'], det['mAP']):
            if f'mAP@{thr:g}' in COLUMNS:
                values[f'mAP@{thr:g}'] = 100 * value
        values['avg mAP'] = 100 * det['average_mAP']
    path = osp.join(work_dir, 'proposal_metrics.json')
    if osp.isfile(path):
        with open(path) as f:
            prop = json.load(f)
        if 'AR@100' in prop:
            values['AR@100'] = 100 * prop['AR@100']
        values['AUC'] = prop['AUC']
    return values


def _show(path: str) -> str:
    """A path relative to the checkout when it is inside it, else absolute."""
    path = osp.abspath(osp.join(ROOT, path))
    return osp.relpath(path, ROOT) if path.startswith(ROOT + os.sep) else path


def table(results: List[dict]) -> str:
    """The final table: one row per config, then where each config's files are."""
    head = ['config'] + COLUMNS
    rows = [[r['name']] + [f'{r["metrics"][c]:.1f}' if c in r['metrics'] else '-'
                           for c in COLUMNS] for r in results]
    widths = [max(len(x) for x in col) for col in zip(head, *rows)]
    fmt = '  '.join(f'{{:<{w}}}' if i == 0 else f'{{:>{w}}}' for i, w in enumerate(widths))
    lines = ['', 'Demo results on the demo validation set (all in percent; detection mAP with the '
             "demo's top-2 video classes, AR@100 / AUC of the proposals):",
             fmt.format(*head), fmt.format(*['-' * w for w in widths])]
    lines += [fmt.format(*row) for row in rows]
    for r in results:
        rel = [_show(p) for p in r['logs'][-2:]]  # this run's training and test
        lines += ['', f'{r["name"]} ({r["seconds"]:.0f} s), in {r["work_dir"]}/:',
                  f'  checkpoint      {_show(r["checkpoint"])}',
                  f'  logs            {_show(r["log"])} (everything '
                  'printed); mmengine logs: ' + ', '.join(rel),
                  f'  detection JSON  {r["detections"]} (ActivityNet submission format; '
                  'detection_metrics.json has per-class AP)']
        if r.get('plots'):
            lines.append(f'  plots           {r["plots"]}/ (temporal self-similarity before/after '
                         'SoLa, 2 val videos)')
    return '\n'.join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config', default='configs/demo/sola_gtad_demo.py')
    parser.add_argument('--baseline', action='store_true', help='also train the no-SoLa baseline')
    parser.add_argument('--fresh', action='store_true', help='start from an empty work dir')
    parser.add_argument('--verbose', action='store_true', help="print the tools' whole output")
    parser.add_argument('--work-root', default='work_dirs/demo')
    args = parser.parse_args()
    data_log = osp.join(ROOT, args.work_root, 'make_demo_data.log')
    run([sys.executable, 'tools/make_demo_data.py', '--out', 'data/demo_anet'], data_log,
        verbose=args.verbose)
    print('demo data in data/demo_anet/ (120 train / 40 val synthetic videos, ActivityNet '
          'layout)', flush=True)
    results = [train_and_test(args.config, args.work_root, args.fresh, args.verbose, plots=True)]
    if args.baseline:
        base = osp.join(osp.dirname(args.config), BASELINES[osp.basename(args.config)])
        results.insert(0, train_and_test(base, args.work_root, args.fresh, args.verbose,
                                         plots=False))
    print(table(results), flush=True)


if __name__ == '__main__':
    main()
