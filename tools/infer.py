"""Labelled, timed actions for your own videos (or feature files) with a trained localizer.

    python tools/infer.py CONFIG CHECKPOINT INPUT [--out DIR] [--ann-file ANN]
        [--video-info-file CSV] [--classifier FILE] [--extractor-config C]
        [--extractor-checkpoint CKPT] [--class-names FILE] [--fps F] [--top-k 20]
        [--score-thr 0] [--print-top 5] [--device cpu] [--cfg-options k=v ...]

INPUT: a video, a feature file, or a folder (or .txt list) of either. Videos go through the
frozen recognizer of the config's ``extractor`` section (or ``--extractor-config/-checkpoint``);
features -> SoLa (if the config has it) -> localizer -> the config's test post-processing
(window merge, soft-NMS, labels from the head or a video classifier), the same code as
``tools/test.py``. Writes to DIR (default ``work_dirs/infer``): ``detections.json`` (ActivityNet
submission layout), ``<video>.srt`` (subtitles) and ``<video>.png`` (timeline; ground truth
underneath when ``--ann-file`` has the video), and ``features/`` for videos. Prints the top
detections. A failed input is reported and the others go on (exit status 1).
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import sola_mm  # noqa: E402,F401
from mmengine.config import DictAction  # noqa: E402

from sola_mm.apis.detection_files import write_detections, write_srt  # noqa: E402
from sola_mm.apis.inference import (build_extractor, inference_localizer,  # noqa: E402
                                    init_localizer)
from sola_mm.engine.launch import load_config  # noqa: E402
from sola_mm.visualization.timeline import plot_timeline, select_detections  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description='Temporal action detection on videos / features')
    p.add_argument('config', help='the localizer config (SoLa + head, or a baseline)')
    p.add_argument('checkpoint', help='its trained checkpoint')
    p.add_argument('input', help='video, feature file, or a folder / .txt list of either')
    p.add_argument('--out', default='work_dirs/infer', help='output folder')
    p.add_argument('--ann-file', help='annotations (ActivityNet JSON or THUMOS CSV): timing '
                   'of feature files, ground truth in the timeline')
    p.add_argument('--video-info-file', help='THUMOS video info CSV (fps, frames)')
    p.add_argument('--classifier', help='video classifier for proposal heads (CUHK-style JSON '
                   'or UntrimmedNet .npy)')
    p.add_argument('--extractor-config', help='recognizer config (overrides the config\'s)')
    p.add_argument('--extractor-checkpoint', help='recognizer checkpoint, path or URL')
    p.add_argument('--class-names', help='the recognizer\'s class names: its top classes label '
                   'the proposals of proposal heads')
    p.add_argument('--fps', type=float, help='frame rate of feature files without timing')
    p.add_argument('--top-k', type=int, default=20, help='detections in the SRT and the PNG')
    p.add_argument('--score-thr', type=float, default=0.0, help='minimum score shown')
    p.add_argument('--print-top', type=int, default=5, help='detections printed per video')
    p.add_argument('--device', default='cpu')
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    model = init_localizer(cfg, args.checkpoint, device=args.device)
    extractor = None
    if args.extractor_config or args.extractor_checkpoint or args.class_names:
        extractor = build_extractor(cfg, args.extractor_config, args.extractor_checkpoint,
                                    device=args.device, class_names=args.class_names)
    failed = {}

    def report(path, msg):
        failed[path] = msg
        print(f'FAILED {msg}', file=sys.stderr)

    results = inference_localizer(model, args.input, ann_file=args.ann_file,
                                  video_info_file=args.video_info_file,
                                  classifier=args.classifier, extractor=extractor,
                                  feature_dir=osp.join(args.out, 'features'), fps=args.fps,
                                  on_error=report)
    os.makedirs(args.out, exist_ok=True)
    if results:
        print(f'Detections: {write_detections(osp.join(args.out, "detections.json"), results)}')
    for r in results:
        name = r['video_name']
        srt = write_srt(osp.join(args.out, name + '.srt'), r['detections'], args.top_k,
                        args.score_thr)
        png = osp.join(args.out, name + '.png')
        fig = plot_timeline(r['detections'], r['duration_second'],
                            r['annotations'] if args.ann_file else None,
                            title=f'{name} ({r["label_source"]} labels)', out_file=png,
                            top_k=args.top_k, score_thr=args.score_thr)
        import matplotlib.pyplot as plt
        plt.close(fig)
        print(f'\n{name}: {r["duration_second"]:.1f} s, {len(r["detections"])} detections '
              f'(labels: {r["label_source"]}); {srt}, {png}')
        for d in select_detections(r['detections'], args.print_top, args.score_thr):
            s, e = d['segment']
            print(f'  {d["label"]:<24} {d["score"]:.3f}  {s:8.2f} - {e:8.2f} s')
    if failed:
        print(f'\n{len(failed)} input(s) FAILED:')
        for msg in failed.values():
            print(f'  {msg}')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
