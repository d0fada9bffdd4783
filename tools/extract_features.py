"""Snippet features of videos from a frozen MMAction2 recognizer, in the formats our datasets read.

    python tools/extract_features.py RECOGNIZER_CONFIG CHECKPOINT INPUT --out DIR
        [--preset anet|thumos_gtad|actionformer_i3d] [--clip-len N] [--frame-interval N]
        [--stride N] [--align start|center] [--backend pyav|decord] [--batch-size 32]
        [--format npy|h5|csv] [--class-names FILE] [--ann-file ANN] [--overwrite] [--device cpu]
        [--launcher none|pytorch|slurm]

INPUT is a video, a folder of videos or a list file (one path per line). CHECKPOINT is a path or
URL of the recognizer's weights (``none``: random weights, for trying the pipeline). Output, per
video ``NAME``: ``DIR/NAME.npy`` ([T, C]), ``DIR/meta/NAME.json`` (fps, frames, snippet grid), and
``DIR/video_info.json`` for all videos (ActivityNet annotation layout: the timing of the
features, with the annotations of ``--ann-file`` and one ``video_info_<subset>.json`` per subset).
A finished video is skipped on a rerun; a failed one is reported and the others go on; the exit
status is 1 when a video failed. ``--launcher pytorch`` (torchrun) gives each rank a shard.
Two-stream (RGB + optical flow) features are out of scope: this extracts RGB features.
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import sola_mm  # noqa: E402,F401
from mmengine.config import DictAction  # noqa: E402

from sola_mm.apis.extract import extract_features, write_video_info  # noqa: E402
from sola_mm.evaluation.functional.classifier import load_class_names  # noqa: E402
from sola_mm.extraction import BACKENDS, DEFAULT_BACKEND, PRESETS  # noqa: E402
from sola_mm.extraction import FeatureExtractor, snippet_spec  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description='Extract snippet features from videos')
    p.add_argument('config', help='MMAction2 recognizer config')
    p.add_argument('checkpoint', help='recognizer checkpoint (path or URL; "none": random)')
    p.add_argument('input', help='a video, a folder of videos, or a list file (.txt)')
    p.add_argument('--out', required=True, help='output folder')
    p.add_argument('--preset', choices=sorted(PRESETS), help='snippet sampling convention')
    p.add_argument('--clip-len', type=int, help='frames per snippet')
    p.add_argument('--frame-interval', type=int, help='step between a snippet\'s frames')
    p.add_argument('--stride', type=int, help='frames between consecutive snippets')
    p.add_argument('--align', choices=['start', 'center'])
    p.add_argument('--backend', choices=BACKENDS, default=DEFAULT_BACKEND)
    p.add_argument('--batch-size', type=int, default=32, help='snippets per backbone call')
    p.add_argument('--format', choices=['npy', 'h5', 'csv'], default='npy')
    p.add_argument('--class-names', help='names of the recognizer\'s classes (one per line, or '
                   'a JSON list): also writes its video-level scores (video_scores.json)')
    p.add_argument('--spatial-type', choices=['avg', 'max'], default='avg')
    p.add_argument('--temporal-type', choices=['avg', 'max'], default='avg')
    p.add_argument('--ann-file', help='annotation JSON of the videos (ActivityNet layout, '
                   'seconds): its annotations and subsets go into video_info*.json')
    p.add_argument('--video-root', help='root of the relative paths of a list file')
    p.add_argument('--overwrite', action='store_true', help='re-extract finished videos')
    p.add_argument('--device', default='cpu')
    p.add_argument('--no-progress', action='store_true')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='overrides of the recognizer config')
    p.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    p.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = p.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def _init_dist(launcher: str):
    """(rank, world_size); the process group through mmengine (gloo on CPU-only machines)."""
    if launcher == 'none':
        return 0, 1
    import torch
    from mmengine.dist import get_dist_info, init_dist
    if torch.cuda.is_available():
        init_dist(launcher)
    else:
        from sola_mm.engine.launch import init_cpu_distributed
        init_cpu_distributed(launcher)
    return get_dist_info()


def main(argv=None) -> int:
    args = parse_args(argv)
    rank, world = _init_dist(args.launcher)
    spec = snippet_spec(args.preset, clip_len=args.clip_len, frame_interval=args.frame_interval,
                        stride=args.stride, align=args.align)
    class_names = load_class_names(args.class_names) if args.class_names else None
    checkpoint = None if args.checkpoint.lower() == 'none' else args.checkpoint
    extractor = FeatureExtractor(args.config, checkpoint, snippet=spec, backend=args.backend,
                                 batch_size=args.batch_size, device=args.device,
                                 spatial_type=args.spatial_type, temporal_type=args.temporal_type,
                                 with_scores=class_names is not None,
                                 cfg_options=args.cfg_options)
    report = extract_features(extractor, args.input, args.out, fmt='.' + args.format,
                              overwrite=args.overwrite, progress=not args.no_progress,
                              video_root=args.video_root, class_names=class_names,
                              rank=rank, world_size=world)
    failed = report['failed']
    if world > 1:
        from mmengine.dist import all_gather_object, barrier
        barrier()
        merged = {}
        for part in all_gather_object(failed):
            merged.update(part)
        failed = merged
    if rank != 0:
        return 1 if failed else 0
    annotations = None
    if args.ann_file:
        from sola_mm.datasets.anet_feature_dataset import read_annotation_database
        annotations = read_annotation_database(args.ann_file, '{annotations, subset}')
    info = write_video_info(args.out, report['all_names'], class_names, annotations)
    print(f'Features: {len(report["written"])} written, {len(report["skipped"])} already there'
          + (f' (rank 0 of {world})' if world > 1 else '') + f', in {args.out}')
    if info:
        print(f'Video info: {info}')
    if failed:
        print(f'{len(failed)} video(s) FAILED:')
        for path, msg in failed.items():
            print(f'  {msg}')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
