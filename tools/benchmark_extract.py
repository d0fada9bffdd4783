"""Feature extraction speed and memory: sola_mm's extractor vs MMAction2's own tool.

    python tools/benchmark_extract.py [--config RECOGNIZER] [--frames 3000] [--size 320x240]
        [--clip-len 16] [--stride 4] [--threads 1] [--batch-size 32] [--backend pyav]

Both run as one process with the same thread count (OMP/MKL and torch threads), on the same
generated video, the same recognizer weights (a seeded random checkpoint written here) and the
same number of snippets: MMAction2's ``tools/misc/clip_feature_extraction.py`` (shipped in the
mmaction2 wheel under ``.mim/tools/misc``) in long-video mode (``UntrimmedSampleFrames``: clips
of ``clip_len`` frames centred every ``stride`` frames) against ``tools/extract_features.py``
with the same grid (``--align center``). Printed: wall time of each whole process (start-up
included, the same for both), snippets/s, peak RSS, and the ratio.

Where the difference comes from: MMAction2's pipeline decodes every frame index of every clip
(``clip_len / stride`` = 4 copies of each frame at 16 / 4), resizes, crops and normalises each
copy, and stacks all clips of the video into one tensor; ours decodes each frame once,
preprocesses it once, keeps it only while a snippet needs it, and runs the backbone in batches.
"""
import argparse
import os
import os.path as osp
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def mmaction_tool() -> str:
    import mmaction
    path = osp.join(osp.dirname(mmaction.__file__), '.mim', 'tools', 'misc',
                    'clip_feature_extraction.py')
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: MMAction2\'s clip_feature_extraction.py is not in the '
                                'installed mmaction2 wheel')
    return path


def run_measured(args, env, cwd):
    """Wall time (s) and peak RSS (MiB) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, env=env, cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f'{args[:3]} failed:\n{out[-3000:]}')
    return wall, usage.ru_maxrss / 1024.0, out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--config', default=osp.join(ROOT, 'configs/extractors/tiny_r3d_demo.py'))
    p.add_argument('--frames', type=int, default=3000)
    p.add_argument('--size', default='320x240')
    p.add_argument('--clip-len', type=int, default=16)
    p.add_argument('--stride', type=int, default=4)
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--batch-size', type=int, default=32)
    p.add_argument('--backend', default='pyav', choices=['pyav', 'decord'])
    args = p.parse_args(argv)

    import numpy as np
    import torch

    import sola_mm  # noqa: F401
    from sola_mm.extraction import FeatureExtractor, snippet_spec
    from sola_mm.extraction.demo_videos import write_video

    w, h = (int(v) for v in args.size.split('x'))
    work = tempfile.mkdtemp(prefix='bench_extract_')
    video_dir = osp.join(work, 'videos')
    os.makedirs(video_dir)
    write_video(osp.join(video_dir, 'bench.mp4'), args.frames, 25.0,
                [dict(segment=[2.0, 8.0], label='RedSquare')], size=(w, h))
    with open(osp.join(work, 'list.txt'), 'w') as f:
        f.write('bench.mp4 0\n')
    spec = snippet_spec(clip_len=args.clip_len, stride=args.stride, align='center')
    extractor = FeatureExtractor(args.config, None, snippet=spec)
    ckpt = osp.join(work, 'recognizer.pth')
    torch.save(dict(state_dict=extractor.model.state_dict(), meta=dict()), ckpt)
    n_ours = spec.num_snippets(args.frames)
    n_theirs = len(np.arange(args.stride // 2, args.frames, args.stride))
    threads = str(args.threads)
    env = dict(os.environ, OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads,
               PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))

    clip_cfg = osp.join(work, 'recognizer_cfg.py')
    with open(clip_cfg, 'w') as f:  # the recognizer config with the clip length of the grid
        f.write(f"_base_ = [{args.config!r}]\n"
                "custom_imports = dict(imports=['sola_mm'], allow_failed_imports=False)\n"
                f"test_pipeline = [dict(type='DecordInit'), dict(type='SampleFrames', "
                f"clip_len={args.clip_len}, frame_interval=1, num_clips=1, test_mode=True), "
                "dict(type='DecordDecode'), dict(type='Resize', scale=(-1, 64)), "
                "dict(type='CenterCrop', crop_size=56), "
                "dict(type='FormatShape', input_format='NCTHW'), dict(type='PackActionInputs')]\n"
                "test_dataloader = dict(dataset=dict(pipeline=test_pipeline))\n")
    theirs = [sys.executable, '-c',
              f'import torch, runpy, sys; torch.set_num_threads({args.threads}); '
              f'sys.argv = sys.argv[1:]; import sola_mm; '
              f'runpy.run_path(sys.argv[0], run_name="__main__")',
              mmaction_tool(), clip_cfg, ckpt, osp.join(work, 'mmaction_out'),
              '--video-list', osp.join(work, 'list.txt'), '--video-root', video_dir,
              '--long-video-mode', '--clip-interval', str(args.stride), '--frame-interval', '1']
    ours = [sys.executable, '-c',
            f'import torch, runpy, sys; torch.set_num_threads({args.threads}); '
            f'sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name="__main__")',
            osp.join(ROOT, 'tools', 'extract_features.py'), clip_cfg, ckpt,
            osp.join(video_dir, 'bench.mp4'), '--out', osp.join(work, 'ours'),
            '--clip-len', str(args.clip_len), '--stride', str(args.stride), '--align', 'center',
            '--batch-size', str(args.batch_size), '--backend', args.backend, '--no-progress']
    t_theirs, rss_theirs, _ = run_measured(theirs, env, work)
    t_ours, rss_ours, _ = run_measured(ours, env, work)
    feats = np.load(osp.join(work, 'ours', 'bench.npy'))
    assert feats.shape[0] == n_ours, (feats.shape, n_ours)
    print(f'video: {args.frames} frames {w}x{h}, snippets of {args.clip_len} frames every '
          f'{args.stride} (ours {n_ours}, MMAction2 {n_theirs}), {args.threads} thread(s), '
          f'recognizer {osp.basename(args.config)}')
    print(f'MMAction2 clip_feature_extraction.py: {t_theirs:7.2f} s  '
          f'{n_theirs / t_theirs:8.1f} snippets/s  peak RSS {rss_theirs:7.0f} MiB')
    print(f'sola_mm tools/extract_features.py:    {t_ours:7.2f} s  '
          f'{n_ours / t_ours:8.1f} snippets/s  peak RSS {rss_ours:7.0f} MiB')
    ratio = (n_ours / t_ours) / (n_theirs / t_theirs)
    print(f'speed ratio (snippets/s, ours / MMAction2): {ratio:.2f}x; '
          f'peak RSS ratio: {rss_ours / rss_theirs:.2f}')
    return ratio


if __name__ == '__main__':
    main()
