"""Convert features once so that training reads fast memory-mapped ``.npy`` files.

    # MMAction2 CSV (header + T rows) -> .npy, one file per video (atomic writes; skips done files)
    python tools/convert_features.py csv2npy data/ActivityNet/csv_mean_100 data/ActivityNet/npy_100
    # two streams (folders or shared .h5/.npz keyed by video) -> one concatenated .npy per video,
    # every k-th row, plus an ActivityNet-style lengths JSON for SoLa stage 1
    python tools/convert_features.py streams data/thumos14/features_concat \
        --stream flow=data/thumos14/features/flow_val.h5 --stream rgb=data/thumos14/features/rgb_val.h5 \
        --key '{video}' --stride 5 --length-mismatch truncate --videos data/thumos14/val_Annotation.csv \
        --lengths-json data/thumos14/thumos_val_lengths.json
    # a folder of per-video features (any supported format) -> lengths JSON (unlabeled stage 1)
    python tools/convert_features.py lengths data/my_dataset/features data/my_dataset/lengths.json
    # HACS durations pickle ('<id>.npy' -> rows) -> ActivityNet-style JSON; with --segments the
    # HACS-Segments annotations (seconds, labels) of those videos too (the linear probe's labels)
    python tools/convert_features.py hacs data/hacs/training_duration.pkl \
        data/hacs/hacs_training.json --segments data/hacs/HACS_segments_v1.1.1.json
"""
import argparse
import csv
import glob
import io
import json
import os
import pickle
import sys
from typing import Dict, List, Mapping, Optional

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sola_mm.datasets.feature_io import (SUPPORTED, feature_shape,  # noqa: E402
                                         load_features, load_video_features,
                                         resolve_feature_paths, save_features_atomic)


def lengths_entry(length: int) -> dict:
    """ActivityNet-style entry for an unlabeled video of ``length`` snippets (stage 1 input).

    Stage 1 only needs the length; ``duration_second = duration_frame = feature_frame = length``
    keeps the ANet loaders' checks (duration > 0) and maps snippets 1:1 to "frames"."""
    return dict(duration_second=float(length), duration_frame=int(length),
                feature_frame=int(length), annotations=[])


def write_json(obj, path: str) -> None:
    """Write JSON through a temp file + rename (never half-written)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f'{path}.tmp.{os.getpid()}'
    with open(tmp, 'w') as f:
        json.dump(obj, f)
    os.replace(tmp, path)


def csv2npy(src: str, dst: str, force: bool = False) -> int:
    """Every ``src/*.csv`` (MMAction2 layout) -> ``dst/<name>.npy``; returns the files written."""
    count = 0
    for path in sorted(glob.glob(os.path.join(src, '*.csv'))):
        out = os.path.join(dst, os.path.splitext(os.path.basename(path))[0] + '.npy')
        if not force and os.path.isfile(out):
            continue
        save_features_atomic(load_features(path), out)
        count += 1
    return count


def video_names(spec: str) -> List[str]:
    """Video names from an annotation CSV (``video``/``video-name``), a JSON (ANet/official
    layout) or a text file with one name per line; first-appearance order, no duplicates."""
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


def convert_streams(dst: str, streams: Mapping[str, str], videos: List[str],
                    key: Optional[str] = None, stride: int = 1, ext: str = '.npy',
                    length_mismatch: str = 'error',
                    lengths_json: Optional[str] = None) -> Dict[str, dict]:
    """Streams (folders or shared files) -> one concatenated ``dst/<video>.npy`` per video, every
    ``stride``-th row; returns (and optionally writes) the ActivityNet-style lengths JSON."""
    lengths = {}
    for video in videos:
        feats = load_video_features(resolve_feature_paths(video, streams=streams, ext=ext),
                                    video, key=key, stride=stride,
                                    length_mismatch=length_mismatch)
        save_features_atomic(feats, os.path.join(dst, video + '.npy'))
        lengths[video] = lengths_entry(feats.shape[0])
    if lengths_json:
        write_json(lengths, lengths_json)
    return lengths


def folder_lengths(src: str, out_json: str, stride: int = 1) -> Dict[str, dict]:
    """Lengths JSON for every per-video feature file in ``src`` (read cheaply from headers)."""
    lengths = {}
    for path in sorted(glob.glob(os.path.join(src, '*'))):
        name, ext = os.path.splitext(os.path.basename(path))
        if ext.lower() not in SUPPORTED or '.tmp' in name:
            continue
        lengths[name] = lengths_entry(feature_shape(path, video=name, stride=stride)[0])
    if not lengths:
        raise FileNotFoundError(f'no feature file ({", ".join(SUPPORTED)}) in {src!r}')
    write_json(lengths, out_json)
    return lengths


class _PlainUnpickler(pickle.Unpickler):
    """Unpickler that builds plain containers only (dict/list/str/int): a durations pickle needs
    nothing else, and refusing classes means a crafted file cannot run code."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(f'durations pickle refers to {module}.{name}; only plain '
                                     'dict/list/str/int data is accepted')


def load_hacs_durations(path: str) -> Dict[str, int]:
    """SoLa's HACS ``{split}_duration.pkl``: ``{'<id>.npy': rows}`` -> ``{'<id>': rows}``."""
    with open(path, 'rb') as f:
        data = _PlainUnpickler(io.BytesIO(f.read())).load()
    if not isinstance(data, dict):
        raise ValueError(f'{path}: expected a dict of video -> length, got {type(data).__name__}')
    out = {}
    for k, v in data.items():
        if not isinstance(v, int) or v < 1:
            raise ValueError(f'{path}: video {k!r}: length must be a positive int, got {v!r}')
        out[os.path.splitext(str(k))[0]] = v
    return out


def hacs_entries(durations: Mapping[str, int], segments: Optional[str] = None) -> Dict[str, dict]:
    """ActivityNet-style entries of the HACS videos: ``rows`` snippets each; with ``segments``
    (the official HACS-Segments JSON, ``{"database": {id: {"duration", "annotations"}}}``) a
    listed video gets its duration in seconds and its segments (the probe's labels), the others
    stay unlabeled."""
    out = {k: lengths_entry(v) for k, v in durations.items()}
    if not segments:
        return out
    with open(segments) as f:
        database = json.load(f)
    database = database.get('database', database)
    for video, entry in out.items():
        info = database.get(video) or database.get('v_' + video)
        if info is None:
            continue
        duration = info.get('duration', info.get('duration_second'))
        if not isinstance(duration, (int, float)) or not duration > 0:
            raise ValueError(f'{segments}: video {video}: duration must be a number > 0 seconds, '
                             f'got {duration!r}')
        entry.update(duration_second=float(duration),
                     annotations=[dict(segment=[float(a['segment'][0]), float(a['segment'][1])],
                                       label=a['label']) for a in info.get('annotations', [])])
    return out


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
    p = sub.add_parser('lengths')
    p.add_argument('src', help='folder of per-video feature files')
    p.add_argument('out_json')
    p.add_argument('--stride', type=int, default=1)
    p = sub.add_parser('hacs')
    p.add_argument('pickle')
    p.add_argument('out_json')
    p.add_argument('--segments', default=None,
                   help='official HACS-Segments JSON: add durations (s) and segments')
    args = parser.parse_args()
    if args.mode == 'csv2npy':
        print(f'converted {csv2npy(args.src, args.dst, args.force)} file(s) into {args.dst}')
    elif args.mode == 'streams':
        streams = dict(s.split('=', 1) for s in args.stream)
        lengths = convert_streams(args.dst, streams, video_names(args.videos), args.key,
                                  args.stride, args.ext, args.length_mismatch, args.lengths_json)
        print(f'wrote {len(lengths)} video(s) into {args.dst}')
    elif args.mode == 'lengths':
        lengths = folder_lengths(args.src, args.out_json, args.stride)
        print(f'wrote {len(lengths)} video(s) into {args.out_json}')
    else:
        out = hacs_entries(load_hacs_durations(args.pickle), args.segments)
        write_json(out, args.out_json)
        labeled = sum(bool(e['annotations']) for e in out.values())
        print(f'wrote {len(out)} video(s) ({labeled} with segments) into {args.out_json}')


if __name__ == '__main__':
    main()
