"""Temporal self-similarity maps of chosen videos before and after SoLa, as PNG.

    python tools/visualize_tsm.py CONFIG SOLA_CKPT --videos v_a v_b --out DIR
        [--temporal-scale N] [--feature-dir DIR] [--ann-file A.json ...]

One PNG per video (``DIR/<video>_tsm.png``): the cosine self-similarity of the input features and
of the SoLa output side by side, ground-truth segments marked (red bars along both axes, dashed
lines at the boundaries). Videos are looked up in the config's train and val annotation files.
``--temporal-scale``: -1 (default) resizes as the config does, 0 keeps the native length.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import sola_mm  # noqa: E402,F401
from sola_mm.engine.launch import load_config  # noqa: E402
from mmengine.config import DictAction  # noqa: E402

from sola_mm.apis.enhance import build_frozen_neck, data_spec  # noqa: E402
from sola_mm.datasets.anet_feature_dataset import load_anet_annotations  # noqa: E402
from sola_mm.datasets.feature_io import load_features  # noqa: E402
from sola_mm.visualization.tsm import video_tsm_figure  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description='TSM before/after SoLa')
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('--videos', nargs='+', required=True)
    p.add_argument('--out', required=True, help='output folder')
    p.add_argument('--temporal-scale', type=int, default=-1)
    p.add_argument('--feature-dir')
    p.add_argument('--ann-file', nargs='+', help='annotation files (default: train + val)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = p.parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    spec = data_spec(cfg)
    scale = spec['temporal_scale'] if args.temporal_scale == -1 else (args.temporal_scale or None)
    database = {}
    for ann in args.ann_file or [spec['train_ann'], spec['val_ann']]:
        if ann:
            database.update(load_anet_annotations(ann))
    neck = build_frozen_neck(cfg, args.checkpoint)
    feature_dir = args.feature_dir or spec['feature_dir']
    written = []
    for video in args.videos:
        if video not in database:
            raise KeyError(f'video {video!r} is in none of the annotation files '
                           f'{args.ann_file or [spec["train_ann"], spec["val_ann"]]}')
        path = osp.join(feature_dir, video + spec['feature_ext'])
        feats = load_features(path, video=video, feat_dim=neck.in_channels)
        out = osp.join(args.out, f'{video}_tsm.png')
        video_tsm_figure(neck, feats.copy(), dict(database[video], video_name=video), out,
                         temporal_scale=scale)
        written.append(out)
        print(out)
    return written


if __name__ == '__main__':
    main()
