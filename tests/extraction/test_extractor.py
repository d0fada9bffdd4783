"""Feature extraction from real (generated) video files with a tiny random MMAction2 recognizer:
the snippet grids, equality with a direct backbone forward on the same frames, the two decoding
backends, resume, and bad inputs (each a clear error naming the file; the rest goes on)."""
import json
import os

import numpy as np
import pytest
import torch
from extraction_test_utils import TINY_RECOGNIZER

from sola_mm.apis.extract import extract_features, write_video_info
from sola_mm.extraction import (PRESETS, FeatureExtractor, ShortVideoError, VideoError,
                                snippet_spec)
from sola_mm.extraction.demo_videos import write_video

SPEC = snippet_spec(clip_len=8, stride=4)


@pytest.fixture(scope='module')
def extractor():
    torch.manual_seed(0)
    return FeatureExtractor(TINY_RECOGNIZER, None, snippet=SPEC, batch_size=5)


def test_snippet_grids_follow_the_conventions():
    anet = PRESETS['anet']
    idx = anet.frame_indices(100)
    assert idx.shape == (6, 16) and idx[1, 0] == 16 and anet.covered_frames(6) == 96
    thumos = PRESETS['thumos_gtad']          # centred on 5j: ceil(n / 5) snippets
    idx = thumos.frame_indices(23)
    assert idx.shape == (5, 5)
    np.testing.assert_array_equal(idx[0], [0, 0, 0, 1, 2])
    np.testing.assert_array_equal(idx[2], [8, 9, 10, 11, 12])
    np.testing.assert_array_equal(idx[-1], [18, 19, 20, 21, 22])
    af = PRESETS['actionformer_i3d']         # 16 frames every 4
    assert af.frame_indices(40).shape == (7, 16) and af.frame_indices(40)[-1, -1] == 39
    with pytest.raises(ShortVideoError, match='my.mp4: 10 frame'):
        af.frame_indices(10, where='my.mp4')


def _direct_features(path, model_cfg_file, model):
    """Decode every frame with decord directly, MMAction2's Resize/CenterCrop/FormatShape on each
    snippet, normalise by hand, one backbone call per snippet, mean over T, H, W."""
    import decord
    from mmaction.datasets.transforms import CenterCrop, FormatShape, Resize
    frames = decord.VideoReader(path).get_batch(list(range(60))).asnumpy()
    mean = torch.tensor([123.675, 116.28, 103.53]).view(3, 1, 1, 1)
    std = torch.tensor([58.395, 57.12, 57.375]).view(3, 1, 1, 1)
    out = []
    for row in SPEC.frame_indices(len(frames)):
        r = dict(imgs=[frames[i] for i in row], img_shape=frames.shape[1:3],
                 original_shape=frames.shape[1:3], num_clips=1, clip_len=len(row),
                 modality='RGB')
        r = FormatShape('NCTHW')(CenterCrop(56)(Resize((-1, 64))(r)))
        x = (torch.from_numpy(r['imgs'][0]).float() - mean) / std
        with torch.no_grad():
            out.append(model.backbone(x[None]).mean(dim=(2, 3, 4))[0].numpy())
    return np.stack(out)


def test_extractor_equals_a_direct_backbone_forward(extractor, video_dir):
    path = str(video_dir / 'clip_a.mp4')
    result = extractor.extract(path)
    assert result.features.shape == (SPEC.num_snippets(60), 64) == (14, 64)
    assert result.num_frames == 60 and result.fps == 25.0
    direct = _direct_features(path, TINY_RECOGNIZER, extractor.model)
    np.testing.assert_allclose(result.features, direct, rtol=0, atol=1e-6)
    assert np.abs(np.diff(result.features, axis=0)).max() > 1e-4  # not a constant feature


def test_pyav_and_decord_give_the_same_features(extractor, video_dir):
    path = str(video_dir / 'clip_b.mp4')
    torch.manual_seed(0)
    other = FeatureExtractor(TINY_RECOGNIZER, None, snippet=SPEC, backend='decord',
                             batch_size=3)
    other.model.load_state_dict(extractor.model.state_dict())
    np.testing.assert_allclose(extractor.extract(path).features, other.extract(path).features,
                               rtol=0, atol=1e-6)


def _bad_videos(folder):
    write_video(str(folder / 'short.mp4'), 5, 25.0, [])             # < one 8-frame snippet
    (folder / 'text.mp4').write_text('not a video\n' * 20)           # not a video
    (folder / 'empty.mp4').write_bytes(b'')                          # zero bytes
    import av                                                        # a container without frames
    c = av.open(str(folder / 'noframes.mp4'), 'w')
    s = c.add_stream('mpeg4', rate=25)
    s.width, s.height = 64, 48
    c.start_encoding()
    c.close()


@pytest.mark.parametrize('name, message', [
    ('short.mp4', r'short.mp4: 5 frame\(s\), shorter than one snippet'),
    ('text.mp4', 'text.mp4: cannot open as a video'),
    ('empty.mp4', r'empty.mp4: empty file'),
    ('noframes.mp4', 'noframes.mp4: the file has no video stream'),
])
def test_bad_video_is_a_clear_error_naming_the_file(extractor, tmp_path, name, message):
    _bad_videos(tmp_path)
    with pytest.raises((VideoError, ShortVideoError), match=message):
        extractor.extract(str(tmp_path / name))


def test_folder_goes_on_after_failures_and_resumes(extractor, video_dir, tmp_path):
    folder = tmp_path / 'in'
    folder.mkdir()
    _bad_videos(folder)
    for name in ('clip_a.mp4', 'clip_b.mp4'):
        os.symlink(video_dir / name, folder / name)
    (folder / 'notes.txt').write_text('not listed: no video extension')
    out = tmp_path / 'out'
    report = extract_features(extractor, str(folder), str(out), progress=False)
    assert sorted(os.path.basename(p) for p in report['written']) == ['clip_a.npy', 'clip_b.npy']
    assert sorted(os.path.basename(p) for p in report['failed']) == [
        'empty.mp4', 'noframes.mp4', 'short.mp4', 'text.mp4']
    assert all(p in msg for p, msg in report['failed'].items())
    write_video_info(str(out), report['all_names'])
    info = json.loads((out / 'video_info.json').read_text())
    assert info['clip_a'] == dict(duration_second=2.4, duration_frame=60, feature_frame=56,
                                  fps=25.0, num_frames=60, annotations=[])
    meta = json.loads((out / 'meta' / 'clip_b.json').read_text())
    assert meta['num_snippets'] == np.load(out / 'clip_b.npy').shape[0] == 10
    # a rerun skips the finished videos (and retries the failed ones)
    stamp = os.stat(out / 'clip_a.npy').st_mtime_ns
    again = extract_features(extractor, str(folder), str(out), progress=False)
    assert sorted(again['skipped']) == ['clip_a', 'clip_b'] and not again['written']
    assert os.stat(out / 'clip_a.npy').st_mtime_ns == stamp
    assert len(again['failed']) == 4


def test_h5_and_csv_outputs_read_back(extractor, video_dir, tmp_path):
    from sola_mm.datasets.feature_io import load_features
    path = str(video_dir / 'clip_b.mp4')
    ref = extractor.extract(path).features
    for fmt in ('.h5', '.csv'):
        extract_features(extractor, path, str(tmp_path / fmt[1:]), fmt=fmt, progress=False)
        got = load_features(str(tmp_path / fmt[1:] / ('clip_b' + fmt)))
        np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-6)


def test_2d_recognizer_pools_each_snippet(video_dir):
    """A TSN-style 2-D recognizer (Recognizer2D, NCHW): the L frames of a snippet are its segments,
    FeatureHead averages them; equal to the backbone run frame by frame and averaged."""
    from mmengine.config import Config
    cfg = Config(dict(
        default_scope='mmaction',
        model=dict(type='Recognizer2D',
                   backbone=dict(type='ResNet', depth=18, pretrained=None,
                                 torchvision_pretrain=False, norm_eval=False),
                   cls_head=dict(type='TSNHead', num_classes=3, in_channels=512),
                   data_preprocessor=dict(type='ActionDataPreprocessor',
                                          mean=[123.675, 116.28, 103.53],
                                          std=[58.395, 57.12, 57.375], format_shape='NCHW')),
        test_pipeline=[dict(type='DecordInit'), dict(type='SampleFrames', clip_len=1,
                                                     num_clips=4, test_mode=True),
                       dict(type='DecordDecode'), dict(type='Resize', scale=(-1, 32)),
                       dict(type='CenterCrop', crop_size=32),
                       dict(type='FormatShape', input_format='NCHW'),
                       dict(type='PackActionInputs')]))
    spec = snippet_spec(clip_len=3, stride=8)
    ex = FeatureExtractor(cfg, None, snippet=spec, batch_size=4)
    path = str(video_dir / 'clip_b.mp4')
    got = ex.extract(path).features
    assert got.shape == (spec.num_snippets(45), 512)
    import decord
    from mmaction.datasets.transforms import CenterCrop, Resize
    frames = decord.VideoReader(path).get_batch(list(range(45))).asnumpy()
    r = CenterCrop(32)(Resize((-1, 32))(dict(imgs=list(frames), img_shape=frames.shape[1:3])))
    x = torch.from_numpy(np.stack(r['imgs'])).permute(0, 3, 1, 2).float()
    x = (x - torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1)) / torch.tensor(
        [58.395, 57.12, 57.375]).view(1, 3, 1, 1)
    with torch.no_grad():
        per_frame = ex.model.backbone(x).mean(dim=(2, 3)).numpy()
    expected = np.stack([per_frame[row].mean(0) for row in spec.frame_indices(45)])
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
