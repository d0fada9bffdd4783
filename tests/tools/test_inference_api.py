"""sola_mm.apis.inference on the demo configs (random weights): feature files with partial timing,
window models on whole videos, and bad inputs (clear errors naming the file or config; with
``on_error`` the other inputs go on)."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from tools_test_utils import ROOT

import sola_mm  # noqa: F401
from sola_mm.apis import inference_localizer, init_localizer
from sola_mm.apis.inference import InferenceError


def _feature_file(tmp_path, length: int, width: int, name: str = 'v_demo') -> str:
    path = str(tmp_path / f'{name}.npy')
    np.save(path, np.random.RandomState(0).rand(length, width).astype(np.float32))
    return path


def _model(config):
    torch.manual_seed(0)
    return init_localizer(Config.fromfile(osp.join(ROOT, 'configs/demo', config)))


def test_bmn_default_frames_cover_the_whole_video(tmp_path):
    """Given only duration_second, BMN's proposals span the whole video: the default frame count
    must not make BMN's post-processing cut the video at a multiple of its 16-frame interval."""
    model = _model('sola_bmn_demo.py')
    path = _feature_file(tmp_path, 57, 128)
    default = inference_localizer(model, path, dict(duration_second=30.0))[0]
    full = inference_localizer(model, path, dict(duration_second=30.0, duration_frame=1600,
                                                 feature_frame=1600))[0]
    assert default['detections'] and default['label_source'] == 'none'
    assert {d['label'] for d in default['detections']} == {'action'}
    np.testing.assert_allclose([d['segment'] for d in default['detections']],
                               [d['segment'] for d in full['detections']])


@pytest.mark.parametrize('config', ['gtad_thumos_demo.py', 'sola_bmn_thumos_demo.py'])
def test_window_model_on_a_whole_video(tmp_path, config):
    """57 snippets of 5 frames at 25 fps: the test dataset cuts 32-snippet windows, the metric
    merges them; every detection lies inside the video."""
    model = _model(config)
    path = _feature_file(tmp_path, 57, 64)
    (res, ) = inference_localizer(model, path, fps=25.0)
    assert res['duration_second'] == pytest.approx(57 * 5 / 25.0)
    seg = np.array([d['segment'] for d in res['detections']])
    assert len(seg) and (seg >= 0).all() and (seg <= res['duration_second'] + 1e-9).all()
    assert seg[:, 1].max() > 32 * 5 / 25.0  # the second window's proposals are there


def test_unknown_duration_names_the_file(tmp_path):
    model = _model('gtad_demo.py')
    path = _feature_file(tmp_path, 40, 128)
    with pytest.raises(InferenceError, match=r'v_demo.npy: the duration of video'):
        inference_localizer(model, path)


def test_width_mismatch_names_the_file_and_the_rest_goes_on(tmp_path):
    model = _model('gtad_demo.py')
    good = _feature_file(tmp_path, 40, 128, 'good')
    bad = _feature_file(tmp_path, 40, 64, 'narrow')
    with pytest.raises(InferenceError, match=r'narrow.npy: features of 64 channels .* takes 128'):
        inference_localizer(model, bad, fps=25.0)
    failed = {}
    results = inference_localizer(model, str(tmp_path), fps=25.0,
                                  on_error=lambda p, m: failed.setdefault(p, m))
    assert [r['video_name'] for r in results] == ['good'] and list(failed) == [bad]
    assert good == results[0]['feature_file']


def test_video_input_without_extractor_names_the_config(tmp_path):
    model = _model('gtad_demo.py')
    video = tmp_path / 'clip.mp4'
    from sola_mm.extraction.demo_videos import write_video
    write_video(str(video), 30, 25.0, [])
    with pytest.raises(InferenceError, match=r'gtad_demo.py: a video input needs a feature '
                                             r'extractor, and this config has no `extractor`'):
        inference_localizer(model, str(video))


def test_labels_of_a_head_with_classes_are_kept(tmp_path):
    """A head whose predict labels its proposals (e.g. ActionFormer) keeps its own labels: the
    metric's 'labels' mode, no classifier involved."""
    model = _model('gtad_demo.py')
    forward = model.localizer.forward

    def labelled(inputs, data_samples=None, mode='tensor', **kwargs):
        out = forward(inputs, data_samples, mode=mode, **kwargs)
        if mode == 'predict':
            for pred in out:
                for k, p in enumerate(pred['proposal_list']):
                    p['label'] = ['Jump', 'Run'][k % 2]
        return out

    model.localizer.forward = labelled
    (res, ) = inference_localizer(model, _feature_file(tmp_path, 40, 128), fps=25.0)
    assert res['label_source'] == 'model'
    assert {d['label'] for d in res['detections']} == {'Jump', 'Run'}


def test_sola_config_inference_runs_the_neck_on_the_native_length(tmp_path):
    """A SoLa config's inference: SoLa on the whole 57-snippet video, then the resize to
    temporal_scale (the authors' order), i.e. the baseline config on the exported SoLa features."""
    from sola_mm.apis.enhance import apply_neck
    model = _model('sola_bmn_demo.py')
    with torch.no_grad():
        model.neck.alpha.fill_(0.9)
        model.neck.conv_out.weight.mul_(5.0)
    path = _feature_file(tmp_path, 57, 128)
    got = inference_localizer(model, path, dict(duration_second=30.0))[0]['detections']
    (tmp_path / 'sola').mkdir()
    exported = str(tmp_path / 'sola' / 'v_demo.npy')
    np.save(exported, apply_neck(model.neck, np.load(path)))
    model.neck, model.cfg = None, Config.fromfile(osp.join(ROOT, 'configs/demo/bmn_demo.py'))
    expect = inference_localizer(model, exported, dict(duration_second=30.0))[0]['detections']
    assert len(got) == len(expect) > 0
    np.testing.assert_allclose([[*p['segment'], p['score']] for p in got],
                               [[*p['segment'], p['score']] for p in expect], rtol=1e-5, atol=1e-6)
