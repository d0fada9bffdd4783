"""tools/infer.py on a test video's features writes exactly the detections tools/test.py writes for
that video: an ActivityNet whole-video model (G-TAD, CUHK-style classifier fusion) and a THUMOS
sliding-window model (windows cut by the test dataset, merged and fused by the metric). And
tools/test.py --show-dir draws one timeline per test video."""
import json
import os
import os.path as osp

import numpy as np
import torch
from mmengine.config import Config
from tools_test_utils import ROOT, data_options

import sola_mm  # noqa: F401
from sola_mm.apis import init_localizer
from sola_mm.datasets.demo_data import make_thumos_demo
from tests.conftest import run_tool


def _random_checkpoint(config, path, options=None):
    cfg = Config.fromfile(config)
    if options:
        cfg.merge_from_dict(options)
    torch.manual_seed(0)
    model = init_localizer(cfg)
    torch.save(dict(meta=dict(epoch=1), state_dict=model.state_dict()), path)
    return str(path)


def _opts(options):
    return ['--cfg-options'] + [f'{k}={v}' for k, v in options.items()]


def _results(path):
    with open(path) as f:
        return json.load(f)['results']


def test_infer_equals_test_tool_anet_whole_video(tmp_path, tiny_data):
    config = osp.join(ROOT, 'configs', 'demo', 'sola_gtad_demo.py')
    options = dict(data_options(tiny_data), **{'test_evaluator.ann_file': tiny_data['val'],
                                               'test_evaluator.classifier_file':
                                                   tiny_data['classifier'],
                                               'test_evaluator.unknown_label': 'ignore'})
    ckpt = _random_checkpoint(config, tmp_path / 'model.pth', options)
    run_tool(['tools/test.py', config, ckpt, '--work-dir', str(tmp_path / 'test'),
              '--show-dir', str(tmp_path / 'show')] + _opts(options))
    expected = _results(tmp_path / 'test' / 'detections.json')
    val = list(json.load(open(tiny_data['val'])))
    listing = tmp_path / 'val.txt'
    listing.write_text(''.join(osp.join(tiny_data['features'], v + '.npy') + '\n' for v in val))
    proc = run_tool(['tools/infer.py', config, ckpt, str(listing), '--out', str(tmp_path / 'inf'),
                     '--ann-file', tiny_data['val']] + _opts(options))
    got = _results(tmp_path / 'inf' / 'detections.json')
    assert len(got) == len(val) == len(expected)
    for video in val:  # test.py writes the official ids (no v_)
        assert got[video] == expected[video[2:]], video
        assert (tmp_path / 'inf' / f'{video}.srt').stat().st_size > 0
        assert (tmp_path / 'inf' / f'{video}.png').stat().st_size > 0
        assert (tmp_path / 'show' / f'{video}.png').stat().st_size > 0
    top = max(got[val[0]], key=lambda d: d['score'])
    assert f'{top["label"]:<24} {top["score"]:.3f}' in proc.stdout


def test_infer_equals_test_tool_thumos_windows(tmp_path):
    data = tmp_path / 'data' / 'demo_thumos'
    paths = make_thumos_demo(str(data), num_train=2, num_test=3, feat_dim=64, num_classes=3,
                             min_len=100, max_len=220)
    config = osp.join(ROOT, 'configs', 'demo', 'gtad_thumos_demo.py')
    ckpt = _random_checkpoint(config, tmp_path / 'model.pth')
    # the demo config reads flow + rgb streams; infer takes one file per video: concatenated
    concat = tmp_path / 'concat'
    concat.mkdir()
    videos = sorted(f[:-4] for f in os.listdir(data / 'features' / 'flow') if 'test' in f)
    for v in videos:
        np.save(concat / f'{v}.npy', np.concatenate(
            [np.load(data / 'features' / s / f'{v}.npy') for s in ('flow', 'rgb')], axis=1))
    run_tool([osp.join(ROOT, 'tools/test.py'), config, ckpt, '--work-dir',
              str(tmp_path / 'test')], cwd=str(tmp_path))
    expected = _results(tmp_path / 'test' / 'detections.json')
    run_tool([osp.join(ROOT, 'tools/infer.py'), config, ckpt, str(concat), '--out',
              str(tmp_path / 'inf'),
              '--ann-file', paths['test_annotation'], '--video-info-file', paths['test_info']],
             cwd=str(tmp_path))
    got = _results(tmp_path / 'inf' / 'detections.json')
    assert set(got) == set(expected) == set(videos)
    for v in videos:
        assert got[v] == expected[v], v
        assert len({d['label'] for d in got[v]}) >= 2   # top-2 UntrimmedNet classes
