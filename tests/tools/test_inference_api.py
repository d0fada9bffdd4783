"""sola_mm.apis.inference on the demo configs (random weights, one feature file)."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from tools_test_utils import ROOT

import sola_mm  # noqa: F401
from sola_mm.apis import inference_localizer, init_localizer


def _feature_file(tmp_path, length: int, width: int) -> str:
    path = str(tmp_path / 'v_demo.npy')
    np.save(path, np.random.RandomState(0).rand(length, width).astype(np.float32))
    return path


def test_bmn_default_frames_cover_the_whole_video(tmp_path):
    """Given only duration_second, BMN's proposals span the whole video: the default frame count
    must not make BMN's post-processing cut the video at a multiple of its 16-frame interval."""
    torch.manual_seed(0)
    model = init_localizer(Config.fromfile(osp.join(ROOT, 'configs/demo/sola_bmn_demo.py')))
    path = _feature_file(tmp_path, 57, 128)
    default = inference_localizer(model, path, dict(duration_second=30.0))
    full = inference_localizer(model, path, dict(duration_second=30.0, duration_frame=1600,
                                                 feature_frame=1600))
    assert default
    np.testing.assert_allclose([p['segment'] for p in default], [p['segment'] for p in full])


@pytest.mark.parametrize('config', ['gtad_thumos_demo.py', 'sola_bmn_thumos_demo.py'])
def test_window_model_on_a_whole_video_names_the_file(tmp_path, config):
    model = init_localizer(Config.fromfile(osp.join(ROOT, 'configs/demo', config)))
    path = _feature_file(tmp_path, 57, 64)
    with pytest.raises(ValueError, match='v_demo.npy'):
        inference_localizer(model, path, dict(duration_second=30.0))


def test_sola_config_inference_runs_the_neck_on_the_native_length(tmp_path):
    """A SoLa config's inference: SoLa on the whole 57-snippet video, then the resize to
    temporal_scale (the authors' order), i.e. the baseline config on the exported SoLa features."""
    from sola_mm.apis.enhance import apply_neck
    torch.manual_seed(0)
    model = init_localizer(Config.fromfile(osp.join(ROOT, 'configs/demo/sola_bmn_demo.py')))
    with torch.no_grad():
        model.neck.alpha.fill_(0.9)
        model.neck.conv_out.weight.mul_(5.0)
    path = _feature_file(tmp_path, 57, 128)
    got = inference_localizer(model, path, dict(duration_second=30.0))
    (tmp_path / 'sola').mkdir()
    exported = str(tmp_path / 'sola' / 'v_demo.npy')
    np.save(exported, apply_neck(model.neck, np.load(path)))
    model.neck, model.cfg = None, Config.fromfile(osp.join(ROOT, 'configs/demo/bmn_demo.py'))
    expect = inference_localizer(model, exported, dict(duration_second=30.0))
    assert len(got) == len(expect) > 0
    np.testing.assert_allclose([[*p['segment'], p['score']] for p in got],
                               [[*p['segment'], p['score']] for p in expect], rtol=1e-5, atol=1e-6)
