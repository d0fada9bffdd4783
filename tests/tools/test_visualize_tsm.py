"""TSM figures (tools/visualize_tsm.py): a valid PNG per video with the before/after maps and the
ground-truth segments marked."""
import json

import numpy as np
import pytest
from tools_test_utils import DEMO_CONFIG, data_options

from sola_mm.visualization.tsm import cosine_tsm, segments_in_snippets

PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'


def test_cosine_tsm_and_segments():
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(7, 5)).astype(np.float32)
    tsm = cosine_tsm(feats)
    assert tsm.shape == (7, 7)
    for i in range(7):
        for j in range(7):
            a, b = feats[i].astype(np.float64), feats[j].astype(np.float64)
            expected = a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-8)
            assert np.isclose(tsm[i, j], expected, atol=1e-12)
    # 20 snippets over corrected 15 s (feature_frame / duration_frame = 0.75 of 20 s)
    info = dict(duration_second=20.0, duration_frame=400, feature_frame=300,
                annotations=[dict(segment=[3.0, 7.5], label='a')])
    assert segments_in_snippets(info, 20) == [(4.0, 10.0)]


def _red_pixels(image):
    rgb = image[..., :3].astype(np.float32)
    if rgb.max() <= 1.0:
        rgb = rgb * 255
    return int(((rgb[..., 0] > 200) & (rgb[..., 1] < 60) & (rgb[..., 2] < 60)).sum())


def test_visualize_tsm_tool_writes_png(tiny_data, sola_ckpt, tmp_path):
    import visualize_tsm
    from PIL import Image
    val = json.load(open(tiny_data['val']))
    videos = sorted(val)[:2]
    opts = [f'{k}={v}' for k, v in data_options(tiny_data).items()]
    out = tmp_path / 'tsm'
    written = visualize_tsm.main([DEMO_CONFIG, sola_ckpt, '--videos', *videos, '--out', str(out),
                                  '--temporal-scale', '0', '--cfg-options', *opts])
    assert [p.split('/')[-1] for p in written] == [f'{v}_tsm.png' for v in videos]
    assert sorted(p.name for p in out.iterdir()) == [f'{v}_tsm.png' for v in videos]  # no temp
    for path in written:
        with open(path, 'rb') as f:
            assert f.read(8) == PNG_SIGNATURE
        with Image.open(path) as im:
            im.verify()
        with Image.open(path) as im:
            width, height = im.size
            pixels = np.asarray(im.convert('RGB'))
        assert 600 <= width <= 2000 and 300 <= height <= 1000 and width > 1.5 * height  # 2 panels
        assert pixels.std() > 20  # not blank
        assert _red_pixels(pixels) > 50  # the GT bars along the axes


def test_figure_draws_raw_and_sola_maps(tiny_data, sola_ckpt, tmp_path, monkeypatch):
    """The two panels hold the TSM of the input and of the SoLa output, and the GT segments."""
    from mmengine.config import Config

    import sola_mm.visualization.tsm as tsm_module
    from sola_mm.apis.enhance import apply_neck, build_frozen_neck
    from sola_mm.datasets.feature_io import load_features
    seen = {}

    def capture(maps, segments, out_file, title=''):
        seen.update(maps=maps, segments=segments, title=title)
        return out_file

    monkeypatch.setattr(tsm_module, 'plot_tsm_pair', capture)
    val = json.load(open(tiny_data['val']))
    video = sorted(val)[0]
    feats = np.array(load_features(f'{tiny_data["features"]}/{video}.npy', video=video))
    neck = build_frozen_neck(Config.fromfile(DEMO_CONFIG), sola_ckpt)
    tsm_module.video_tsm_figure(neck, feats, dict(val[video], video_name=video),
                                str(tmp_path / 'x.png'))
    raw, sola = seen['maps'].values()
    np.testing.assert_allclose(raw, cosine_tsm(feats))
    np.testing.assert_allclose(sola, cosine_tsm(apply_neck(neck, feats)))
    assert np.abs(raw - sola).max() > 1e-3
    assert seen['segments'] == segments_in_snippets(val[video], len(feats))
    assert len(seen['segments']) == len(val[video]['annotations']) > 0
    assert video in seen['title']


def test_visualize_tsm_unknown_video(tiny_data, sola_ckpt, tmp_path):
    import visualize_tsm
    opts = [f'{k}={v}' for k, v in data_options(tiny_data).items()]
    with pytest.raises(KeyError, match='v_nope'):
        visualize_tsm.main([DEMO_CONFIG, sola_ckpt, '--videos', 'v_nope', '--out', str(tmp_path),
                            '--cfg-options', *opts])
