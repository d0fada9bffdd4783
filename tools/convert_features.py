"""Convert features once so that training reads fast memory-mapped ``.npy`` files.

    # MMAction2 CSV (header + T rows) -> .npy, one file per video (atomic writes; skips done files)
    python tools/convert_features.py csv2npy data/ActivityNet/csv_mean_100 data/ActivityNet/npy_100
    # two streams (folders or shared .h5/.npz keyed by video) -> one concatenated .npy per video,
    # every k-th row, plus an ActivityNet-style lengths JSON for SoLa stage 1
    python tools/convert_features.py streams data/thumos14/features_concat \
        --stream flow=data/thumos14/features/flow_val.h5 --stream rgb=data/thumos14/features/rgb_val.h5 \
        --key '{video}' --stride 5 --videos data/thumos14/val_Annotation.csv \
        --lengths-json data/thumos14/thumos_val_lengths.json
    # HACS durations pickle ('<id>.npy' -> rows) -> ActivityNet-style lengths JSON
    python tools/convert_features.py hacs data/hacs/training_duration.pkl data/hacs/hacs_train_lengths.json
"""
import argparse
import csv
import glob
import json
import os
import pickle
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sola_mm.datasets.feature_io import (load_features, load_video_features,  # noqa: E402
                                         resolve_feature_paths, save_features_atomic)


def lengths_entry(length: int) -> dict:
    """ActivityNet-style entry for an unlabeled video of ``length`` snippets (stage 1 input)."""
    return dict(duration_second=float(length), duration_frame=int(length),
                feature_frame=int(length), annotations=[])


def write_json(obj, path: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f'{path}.tmp.{os.getpid()}'
    with open(tmp, 'w') as f:
        json.dump(obj, f)
    os.replace(tmp, path)


def csv2npy(src: str, dst: str, force: bool = False) -> int:
    count = 0
    for path in sorted(glob.glob(os.path.join(src, '*.csv'))):
        out = os.path.join(dst, os.path.splitext(os.path.basename(path))[0] + '.npy')
        if not force and os.path.isfile(out):
            continue
        save_features_atomic(load_features(path), out)
        count += 1
    return count


def video_names(spec: str) -> list:
    if spec.endswith('.csv'):
        with open(spec, newline='') as f:
            names = [row.get('video') or row.get('video-name') for row in csv.DictReader(f)]
    elif spec.endswith('.json'):
        with open(spec) as f:
            data = json.load(f)
        names = list(data.get('database', data))
    else:
        with open(spec) as f:
            names = [line.strip() for line in f if line.strip()]
    return list(dict.fromkeys(n for n in names if n))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest='mode', required=True)
    p = sub.add_parser('csv2npy')
    p.add_argument('src')
    p.add_argument('dst')
    p.add_argument('--force', action='store_true')
    p = sub.add_parser('streams')
    p.add_argument('dst')
    p.add_argument('--stream', action='append', required=True, help='name=folder or shared file')
    p.add_argument('--videos', required=True, help='annotation CSV/JSON or a list of names')
    p.add_argument('--key', default=None)
    p.add_argument('--stride', type=int, default=1)
    p.add_argument('--ext', default='.npy')
    p.add_argument('--length-mismatch', default='error', choices=['error', 'truncate'])
    p.add_argument('--lengths-json', default=None)
    p = sub.add_parser('hacs')
    p.add_argument('pickle')
    p.add_argument('out_json')
    args = parser.parse_args()
    if args.mode == 'csv2npy':
        print(f'converted {csv2npy(args.src, args.dst, args.force)} file(s) into {args.dst}')
    elif args.mode == 'streams':
        streams = dict(s.split('=', 1) for s in args.stream)
        lengths = {}
        for video in video_names(args.videos):
            feats = load_video_features(resolve_feature_paths(video, streams=streams, ext=args.ext),
                                        video, key=args.key, stride=args.stride,
                                        length_mismatch=args.length_mismatch)
            save_features_atomic(feats, os.path.join(args.dst, video + '.npy'))
            lengths[video] = lengths_entry(feats.shape[0])
        if args.lengths_json:
            write_json(lengths, args.lengths_json)
        print(f'wrote {len(lengths)} video(s) into {args.dst}')
    else:
        with open(args.pickle, 'rb') as f:
            durations = pickle.load(f)  # plain dict of str -> int (checked: no other opcodes)
        out = {os.path.splitext(k)[0]: lengths_entry(int(v)) for k, v in durations.items()}
        write_json(out, args.out_json)
        print(f'wrote {len(out)} video(s) into {args.out_json}')


if __name__ == '__main__':
    main()
