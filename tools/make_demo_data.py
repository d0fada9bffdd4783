"""Write the synthetic demo dataset (ActivityNet layout) used by the README's demo command.

    python tools/make_demo_data.py --out data/demo_anet [--seed 0] [--format .npy|.csv]
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sola_mm.datasets.demo_data import demo_ready, make_anet_demo  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='data/demo_anet')
    parser.add_argument('--layout', choices=['anet'], default='anet')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--format', default='.npy', choices=['.npy', '.csv'])
    parser.add_argument('--num-train', type=int, default=120)
    parser.add_argument('--num-val', type=int, default=40)
    parser.add_argument('--feat-dim', type=int, default=128)
    parser.add_argument('--num-classes', type=int, default=5)
    parser.add_argument('--force', action='store_true', help='rewrite even if already there')
    args = parser.parse_args()
    stamp = {k: v for k, v in vars(args).items() if k not in ('out', 'force')}
    if not args.force and demo_ready(args.out, stamp):
        print(f'demo data already in {args.out}')
        return
    paths = make_anet_demo(args.out, args.num_train, args.num_val, args.feat_dim,
                           args.num_classes, seed=args.seed, fmt=args.format)
    with open(os.path.join(args.out, 'DONE.json'), 'w') as f:
        json.dump(stamp, f)
    print(json.dumps(paths, indent=1))


if __name__ == '__main__':
    main()
