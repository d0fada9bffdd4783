"""docs/video_inference.md as written: the "three commands" section runs on generated videos and
produces the JSON, SRT and PNG; the detections in the JSON are where the printout says. Plus the
multi-process extraction (torchrun, 2 ranks) gives the single-process features."""
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.docs.documented import run_documented

ROOT = Path(__file__).resolve().parents[2]


def _run(args, cwd, timeout=900):
    env = dict(os.environ, OMP_NUM_THREADS='1',
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get('PYTHONPATH', ''))
    proc = subprocess.run(args, cwd=str(cwd), env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, f'{args}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}'
    return proc


@pytest.mark.slow
def test_three_commands_as_written(tmp_path):
    # the doc's relative paths (configs/, tools/, data/, work_dirs/) from a fresh folder
    for name in ('configs', 'tools'):
        (tmp_path / name).symlink_to(ROOT / name)
    env = dict(OMP_NUM_THREADS='1')

    def ok(proc):
        assert proc.returncode == 0, f'{proc.args}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}'
        return proc

    ok(run_documented('python tools/make_demo_videos.py --out data/demo_video',
                      cwd=str(tmp_path), env=env))
    ok(run_documented('python tools/extract_features.py configs/extractors/tiny_r3d_demo.py none '
                      'data/demo_video/videos --out data/demo_video/features --clip-len 8 '
                      '--stride 4 --ann-file data/demo_video/annotations.json',
                      cwd=str(tmp_path), env=env))
    ok(run_documented('python tools/train.py configs/demo/sola_gtad_video_demo.py '
                      '--work-dir work_dirs/video_demo', cwd=str(tmp_path), env=env, timeout=900))
    proc = ok(run_documented('python tools/infer.py configs/demo/sola_gtad_video_demo.py '
                             'work_dirs/video_demo/epoch_40.pth '
                             'data/demo_video/videos/demo_008.mp4 '
                             '--out work_dirs/video_demo/infer '
                             '--ann-file data/demo_video/annotations.json '
                             '--class-names data/demo_video/classes.txt --top-k 10',
                             cwd=str(tmp_path), env=env))
    out = tmp_path / 'work_dirs' / 'video_demo' / 'infer'
    results = json.loads((out / 'detections.json').read_text())['results']
    dets = results['demo_008']
    assert dets and all(set(d) == {'label', 'score', 'segment'} for d in dets)
    classes = (tmp_path / 'data' / 'demo_video' / 'classes.txt').read_text().split()
    assert {d['label'] for d in dets} <= set(classes)
    duration = 209 / 25.0
    seg = np.array([d['segment'] for d in dets])
    assert (seg >= 0).all() and (seg <= duration + 1e-6).all()
    best = max(dets, key=lambda d: d['score'])
    s, e = best['segment']
    assert f'{best["label"]:<24} {best["score"]:.3f}  {s:8.2f} - {e:8.2f} s' in proc.stdout
    srt = (out / 'demo_008.srt').read_text()
    assert re.search(r'^1\n\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}\n\w+ \d\.\d\d\n', srt)
    assert (out / 'demo_008.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    # the video went through the same recognizer as the training features
    np.testing.assert_allclose(np.load(out / 'features' / 'demo_008.npy'),
                               np.load(tmp_path / 'data/demo_video/features/demo_008.npy'),
                               rtol=0, atol=1e-6)


def _free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_two_ranks_extract_a_shard_each(tmp_path):
    from sola_mm.extraction.demo_videos import write_video
    videos = tmp_path / 'videos'
    videos.mkdir()
    for k in range(3):
        write_video(str(videos / f'v{k}.mp4'), 30 + 6 * k, 25.0, [], seed=k)
    args = [str(ROOT / 'configs/extractors/tiny_r3d_demo.py'), 'none', str(videos),
            '--clip-len', '8', '--stride', '4', '--no-progress']
    tool = str(ROOT / 'tools/extract_features.py')
    _run([sys.executable, tool] + args + ['--out', str(tmp_path / 'one')], tmp_path)
    proc = _run([sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2',
                 f'--master_port={_free_port()}', tool] + args +
                ['--out', str(tmp_path / 'two'), '--launcher', 'pytorch'], tmp_path)
    assert '(rank 0 of 2)' in proc.stdout
    info = json.loads((tmp_path / 'two' / 'video_info.json').read_text())
    assert sorted(info) == ['v0', 'v1', 'v2']
    for k in range(3):
        np.testing.assert_array_equal(np.load(tmp_path / 'two' / f'v{k}.npy'),
                                      np.load(tmp_path / 'one' / f'v{k}.npy'))
