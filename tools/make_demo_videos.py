"""Write small synthetic videos with known actions (coloured moving shapes) for the video demo.

    python tools/make_demo_videos.py --out data/demo_video [--train 8] [--val 2] [--seed 0]

Writes ``OUT/videos/demo_XXX.mp4`` and ``OUT/anno_{train,val}.json`` / ``annotations.json``
(ActivityNet layout: ``duration_second, duration_frame, fps, annotations``).
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from sola_mm.extraction.demo_videos import make_video_demo  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description='synthetic demo videos with known actions')
    p.add_argument('--out', default='data/demo_video')
    p.add_argument('--train', type=int, default=8)
    p.add_argument('--val', type=int, default=2)
    p.add_argument('--seed', type=int, default=0)
    args = p.parse_args(argv)
    paths = make_video_demo(args.out, num_train=args.train, num_val=args.val, seed=args.seed)
    print(f'{args.train + args.val} videos in {paths["videos"]}, annotations {paths["train"]}, '
          f'{paths["val"]}')
    return paths


if __name__ == '__main__':
    main()
