"""Write the synthetic demo dataset (ActivityNet or THUMOS-14 layout) used by the demo configs.

    python tools/make_demo_data.py --out data/demo_anet [--seed 0] [--format .npy|.csv]
    python tools/make_demo_data.py --layout thumos --out data/demo_thumos
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sola_mm.datasets.demo_data import demo_ready, make_anet_demo, make_thumos_demo  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default=None,
                        help='default data/demo_anet or data/demo_thumos')
    parser.add_argument('--layout', choices=['anet', 'thumos'], default='anet')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--format', default='.npy', choices=['.npy', '.csv'])
    parser.add_argument('--num-train', type=int, default=None, help='anet 120, thumos 16')
    parser.add_argument('--num-val', type=int, default=None, help='anet 40, thumos 8 (test)')
    parser.add_argument('--feat-dim', type=int, default=None, help='anet 128, thumos 64')
    parser.add_argument('--num-classes', type=int, default=None, help='anet 5, thumos 4')
    parser.add_argument('--force', action='store_true', help='rewrite even if already there')
    args = parser.parse_args()
    defaults = dict(anet=('data/demo_anet', 120, 40, 128, 5),
                    thumos=('data/demo_thumos', 16, 8, 64, 4))[args.layout]
    for name, value in zip(('out', 'num_train', 'num_val', 'feat_dim', 'num_classes'), defaults):
        if getattr(args, name) is None:
            setattr(args, name, value)
    stamp = {k: v for k, v in vars(args).items() if k not in ('out', 'force')}
    if not args.force and demo_ready(args.out, stamp):
        print(f'demo data already in {args.out}')
        return
    if args.layout == 'thumos':
        paths = make_thumos_demo(args.out, args.num_train, args.num_val, args.feat_dim,
                                 args.num_classes, seed=args.seed)
    else:
        paths = make_anet_demo(args.out, args.num_train, args.num_val, args.feat_dim,
                               args.num_classes, seed=args.seed, fmt=args.format)
    with open(os.path.join(args.out, 'DONE.json'), 'w') as f:
        json.dump(stamp, f)
    print(json.dumps(paths, indent=1))


if __name__ == '__main__':
    main()
