"""Export SoLa-enhanced features: the frozen SoLa applied to every video at full length.

    python tools/enhance_features.py CONFIG SOLA_CKPT --in FEATURE_DIR --out OUT_DIR
        [--ext .npy|.csv] [--overwrite] [--device cpu]

Output files have the input's names, shapes and format (``.npy`` or MMAction2 CSV); a rerun skips
the files already written; every file is written to a temp file and renamed (never half-written).
Point a baseline config's ``feature_dir`` at OUT_DIR to train a localizer on SoLa features without
the neck.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import sola_mm  # noqa: E402,F401
from sola_mm.engine.launch import load_config  # noqa: E402
from mmengine.config import DictAction  # noqa: E402

from sola_mm.apis.enhance import build_frozen_neck, data_spec, enhance_folder  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description='Apply a frozen SoLa to a folder of feature files')
    p.add_argument('config', help='a config with model.neck (stage 1 or stage 2)')
    p.add_argument('checkpoint', help='SoLa stage-1 (or stage-2) checkpoint')
    p.add_argument('--in', dest='in_dir', help='feature folder (default: the config\'s)')
    p.add_argument('--out', dest='out_dir', required=True)
    p.add_argument('--ext', help='only files with this extension (default: .npy and .csv)')
    p.add_argument('--overwrite', action='store_true', help='rewrite files that already exist')
    p.add_argument('--device', default='cpu')
    p.add_argument('--no-progress', action='store_true')
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = p.parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    spec = data_spec(cfg)
    neck = build_frozen_neck(cfg, args.checkpoint).to(args.device)
    in_dir = args.in_dir or spec['feature_dir']
    counts = enhance_folder(neck, in_dir, args.out_dir, ext=args.ext, feat_dim=neck.in_channels,
                            overwrite=args.overwrite, progress=not args.no_progress)
    print(f'SoLa features: {counts["written"]} written, {counts["skipped"]} already present, '
          f'in {args.out_dir}')
    return counts


if __name__ == '__main__':
    main()
