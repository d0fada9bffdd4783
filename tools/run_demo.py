"""The README's demo: synthetic ActivityNet-layout data -> SoLa stage 1 -> localizer -> metrics.

    python tools/run_demo.py [--config configs/demo/sola_gtad_demo.py] [--baseline] [--fresh]

Writes the data to data/demo_anet (once), trains in work_dirs/demo/<config name>, then runs
tools/test.py on the final checkpoint and prints its metrics. ``--baseline`` also trains the
config without SoLa, for the comparison in the README.
"""
import argparse
import os.path as osp
import shutil
import subprocess
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
BASELINES = {'sola_bmn_demo.py': 'bmn_demo.py', 'sola_gtad_demo.py': 'gtad_demo.py'}


def run(cmd: list) -> None:
    print('+', ' '.join(cmd), flush=True)
    subprocess.run(cmd, cwd=ROOT, check=True)


def train_and_test(config: str, work_root: str, fresh: bool) -> float:
    name = osp.splitext(osp.basename(config))[0]
    work_dir = osp.join(work_root, name)
    if fresh and osp.isdir(work_dir):
        shutil.rmtree(work_dir)
    start = time.time()
    run([sys.executable, 'tools/train.py', config, '--work-dir', work_dir])
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    print(f'== {name}: metrics of the final checkpoint on the demo validation set', flush=True)
    run([sys.executable, 'tools/test.py', config, checkpoint, '--work-dir', work_dir])
    return time.time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config', default='configs/demo/sola_gtad_demo.py')
    parser.add_argument('--baseline', action='store_true', help='also train the no-SoLa baseline')
    parser.add_argument('--fresh', action='store_true', help='start from an empty work dir')
    parser.add_argument('--work-root', default='work_dirs/demo')
    args = parser.parse_args()
    run([sys.executable, 'tools/make_demo_data.py', '--out', 'data/demo_anet'])
    seconds = train_and_test(args.config, args.work_root, args.fresh)
    print(f'== demo finished in {seconds:.0f} s (stage 1 + stage 2 + evaluation)')
    if args.baseline:
        base = osp.join(osp.dirname(args.config), BASELINES[osp.basename(args.config)])
        train_and_test(base, args.work_root, args.fresh)


if __name__ == '__main__':
    main()
