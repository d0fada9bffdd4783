"""Feature formats (.npy, CSV, .npz, .h5 per video and keyed), streams, stride, LoadTALFeature."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

import sola_mm  # noqa: F401
from mmaction.registry import TRANSFORMS
from sola_mm.datasets.feature_io import (FeatureError, feature_shape, load_features,
                                         load_video_features, save_features_atomic)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def feats():
    rng = np.random.default_rng(0)
    return {v: rng.standard_normal((n, 6)).astype(np.float32) for v, n in (('a', 11), ('b', 7))}


def test_every_format(tmp_path, feats):
    a = feats['a']
    np.save(tmp_path / 'a.npy', a)
    save_features_atomic(a, str(tmp_path / 'a.csv'))
    np.savez(tmp_path / 'a.npz', features=a)
    np.savez(tmp_path / 'all.npz', **feats)
    with h5py.File(tmp_path / 'a.h5', 'w') as f:
        f['feats'] = a
    with h5py.File(tmp_path / 'all.hdf5', 'w') as f:
        for v, x in feats.items():
            f[v] = x
    for name, key in (('a.npy', None), ('a.csv', None), ('a.npz', None), ('a.h5', None),
                      ('all.npz', '{video}'), ('all.hdf5', '{video}'), ('a.npz', 'features')):
        out = load_features(str(tmp_path / name), video='a', key=key)
        assert out.dtype == np.float32 and out.shape == (11, 6), name
        np.testing.assert_allclose(out, a, rtol=1e-6, err_msg=name)
        assert feature_shape(str(tmp_path / name), video='a', key=key, stride=3) == (4, 6)
        np.testing.assert_allclose(load_features(str(tmp_path / name), video='a', key=key,
                                                 stride=3), a[::3], rtol=1e-6, err_msg=name)
    # any channel count; other dtypes and Fortran order (read through np.load) give float32
    np.save(tmp_path / 'wide.npy', np.ones((3, 2048), np.float32))
    assert load_features(str(tmp_path / 'wide.npy')).shape == (3, 2048)
    for name, arr in (('f16.npy', a.astype(np.float16)), ('f64.npy', a.astype(np.float64)),
                      ('fortran.npy', np.asfortranarray(a))):
        np.save(tmp_path / name, arr)
        for stride, window in ((1, None), (3, None), (1, (2, 5)), (2, (1, 3))):
            out = load_features(str(tmp_path / name), stride=stride, window=window)
            ref = arr[::stride].astype(np.float32)
            ref = ref if window is None else ref[window[0]:window[0] + window[1]]
            assert out.dtype == np.float32
            np.testing.assert_array_equal(out, ref, err_msg=f'{name} {stride} {window}')
    # a file rewritten in place is read again (the header cache is keyed by inode/mtime/size)
    np.save(tmp_path / 'wide.npy', np.zeros((5, 7), np.float32))
    assert load_features(str(tmp_path / 'wide.npy')).shape == (5, 7)


def test_missing_video_key(tmp_path, feats):
    np.savez(tmp_path / 'all.npz', **feats)
    with h5py.File(tmp_path / 'all.h5', 'w') as f:
        for v, x in feats.items():
            f[v] = x
    for name in ('all.npz', 'all.h5'):
        with pytest.raises(FeatureError, match=r"all\.(npz|h5).*video zz.*missing video key 'zz'"):
            load_features(str(tmp_path / name), video='zz', key='{video}')
        with pytest.raises(FeatureError, match='holds 2 arrays'):
            load_features(str(tmp_path / name), video='a')  # no key for a shared file


def test_streams(tmp_path, feats):
    rng = np.random.default_rng(1)
    flow, rgb = tmp_path / 'flow', tmp_path / 'rgb'
    f = rng.standard_normal((20, 4)).astype(np.float32)
    r = rng.standard_normal((20, 4)).astype(np.float32)
    save_features_atomic(f, str(flow / 'v.npy'))
    save_features_atomic(r, str(rgb / 'v.npy'))
    out = load_video_features({'flow': str(flow / 'v.npy'), 'rgb': str(rgb / 'v.npy')}, 'v',
                              stride=2, feat_dim=8)
    np.testing.assert_array_equal(out, np.concatenate([f[::2], r[::2]], 1))  # flow first
    # width mismatch: both files and widths in the message
    save_features_atomic(np.zeros((20, 5), np.float32), str(rgb / 'w.npy'))
    save_features_atomic(np.zeros((20, 4), np.float32), str(flow / 'w.npy'))
    with pytest.raises(FeatureError, match=r"width mismatch.*flow/w\.npy.*4 channels.*rgb/w\.npy.*5"):
        load_video_features({'flow': str(flow / 'w.npy'), 'rgb': str(rgb / 'w.npy')}, 'w')
    # length mismatch: error by default, truncation on request
    save_features_atomic(np.ones((19, 4), np.float32), str(rgb / 'l.npy'))
    save_features_atomic(np.ones((20, 4), np.float32), str(flow / 'l.npy'))
    paths = {'flow': str(flow / 'l.npy'), 'rgb': str(rgb / 'l.npy')}
    with pytest.raises(FeatureError, match=r'length mismatch.*20 snippets.*19 snippets'):
        load_video_features(paths, 'l')
    assert load_video_features(paths, 'l', length_mismatch='truncate').shape == (19, 8)
    with pytest.raises(FeatureError, match='feat_dim=6'):
        load_video_features({'flow': str(flow / 'v.npy'), 'rgb': str(rgb / 'v.npy')}, 'v',
                            feat_dim=6)


def test_load_tal_feature_options(tmp_path, feats):
    with h5py.File(tmp_path / 'flow.h5', 'w') as f:
        for v, x in feats.items():
            f[v] = x
    with h5py.File(tmp_path / 'rgb.h5', 'w') as f:
        for v, x in feats.items():
            f[v] = -x
    load = TRANSFORMS.build(dict(type='LoadTALFeature', feat_dim=12, key='{video}', stride=2,
                                 streams=dict(flow=str(tmp_path / 'flow.h5'),
                                              rgb=str(tmp_path / 'rgb.h5'))))
    out = load(dict(video_name='a'))['raw_feature']
    np.testing.assert_allclose(out, np.concatenate([feats['a'][::2], -feats['a'][::2]], 1).T)
    # a window (after stride), zero padded
    res = load(dict(video_name='b', window_start_snippet=2, window_snippets=5))['raw_feature']
    assert res.shape == (12, 5)
    np.testing.assert_allclose(res[:6, :2], feats['b'][::2][2:4].T)
    assert not res[:, 2:].any()
    # the old arguments still work
    np.save(tmp_path / 'a.npy', feats['a'])
    old = TRANSFORMS.build(dict(type='LoadTALFeature', feat_dim=6, temporal_scale=4))
    assert old(dict(feature_path=str(tmp_path / 'a.npy')))['raw_feature'].shape == (6, 4)


def test_convert_csv_once(tmp_path, feats):
    for v, x in feats.items():
        save_features_atomic(x, str(tmp_path / 'csv' / f'{v}.csv'))
    subprocess.run([sys.executable, str(ROOT / 'tools/convert_features.py'), 'csv2npy',
                    str(tmp_path / 'csv'), str(tmp_path / 'npy')], check=True, capture_output=True)
    for v, x in feats.items():
        np.testing.assert_allclose(np.load(tmp_path / 'npy' / f'{v}.npy'), x, rtol=1e-6)
    assert not list((tmp_path / 'npy').glob('*.tmp*'))


def test_mmaction2_csv_layout_matches_mmaction_loader(tmp_path, feats):
    """A CSV in MMAction2's csv_mean_100 layout (header line, one row per snippet) reads exactly
    as mmaction's own LoadLocalizationFeature reads it (that gives [C, T]; ours [T, C])."""
    path = tmp_path / 'v_a.csv'
    header = ','.join(f'f{i}' for i in range(6))
    np.savetxt(path, feats['a'], delimiter=',', header=header, comments='', fmt='%.9g')
    ours = load_features(str(path), video='v_a')
    theirs = TRANSFORMS.build(dict(type='LoadLocalizationFeature'))(
        dict(feature_path=str(path)))['raw_feature']
    np.testing.assert_array_equal(ours.T, theirs)
    load = TRANSFORMS.build(dict(type='LoadTALFeature', feat_dim=6))
    np.testing.assert_array_equal(load(dict(feature_path=str(path)))['raw_feature'], theirs)


def test_bad_files_name_file_video_and_field(tmp_path):
    """Missing file, NaN/inf, wrong width, wrong rank, empty, unknown format: FeatureError naming
    the file, the video and what is wrong (field / snippet / channel / expected value)."""
    missing = tmp_path / 'nope.npy'
    with pytest.raises(FeatureError, match=r"nope\.npy.*\(video v1\) does not exist"):
        load_features(str(missing), video='v1')
    x = np.zeros((9, 4), np.float32)
    x[3, 2] = np.nan
    x[5, 0] = np.inf
    np.save(tmp_path / 'nan.npy', x)
    with pytest.raises(FeatureError, match=r"nan\.npy.*\(video v2\): 2 NaN/inf value\(s\), first "
                                           r"at snippet 3, channel 2"):
        load_features(str(tmp_path / 'nan.npy'), video='v2')
    np.save(tmp_path / 'w.npy', np.zeros((9, 4), np.float32))
    with pytest.raises(FeatureError, match=r"w\.npy.*\(video v3\): features have 4 channels but "
                                           r"the config says feat_dim=8"):
        load_features(str(tmp_path / 'w.npy'), video='v3', feat_dim=8)
    np.save(tmp_path / 'r.npy', np.zeros((2, 3, 4), np.float32))
    with pytest.raises(FeatureError, match=r"r\.npy.*\(video v4\): expected a 2-D \[time, "
                                           r"channels\] array, got shape \[2, 3, 4\]"):
        load_features(str(tmp_path / 'r.npy'), video='v4')
    with pytest.raises(FeatureError, match=r"r\.npy.*\(video v4\): expected a 2-D"):
        feature_shape(str(tmp_path / 'r.npy'), video='v4')
    np.save(tmp_path / 'e.npy', np.zeros((0, 4), np.float32))
    with pytest.raises(FeatureError, match=r"e\.npy.*\(video v5\): 0 snippets x 4 channels"):
        load_features(str(tmp_path / 'e.npy'), video='v5')
    (tmp_path / 'f.txt').write_text('1,2\n')
    with pytest.raises(FeatureError, match=r"f\.txt.*unknown format '\.txt'"):
        load_features(str(tmp_path / 'f.txt'))
    np.save(tmp_path / 'cut.npy', np.ones((9, 4), np.float32))
    with open(tmp_path / 'cut.npy', 'r+b') as f:
        f.truncate(128 + 4 * 4 * 7)
    with pytest.raises(FeatureError, match=r"cut\.npy.*\(video v0\) could not be read as \.npy: "
                                           r"ValueError: file is truncated"):
        load_features(str(tmp_path / 'cut.npy'), video='v0')
    (tmp_path / 'broken.npy').write_bytes(b'not a numpy file')
    with pytest.raises(FeatureError, match=r"broken\.npy.*\(video v6\) could not be read as \.npy"):
        load_features(str(tmp_path / 'broken.npy'), video='v6')
    # in a stream: the file of the broken stream is named; NaN in a window too
    np.save(tmp_path / 'ok.npy', np.zeros((9, 4), np.float32))
    with pytest.raises(FeatureError, match=r"nan\.npy.*\(video v7\): 2 NaN"):
        load_video_features({'flow': str(tmp_path / 'ok.npy'), 'rgb': str(tmp_path / 'nan.npy')},
                            'v7')
    with pytest.raises(FeatureError, match=r"nope\.npy.*\(video v8\) does not exist"):
        load_video_features({'flow': str(tmp_path / 'ok.npy'), 'rgb': str(missing)}, 'v8',
                            window=(0, 4))
    with pytest.raises(FeatureError, match=r'snippet 1, channel 2'):
        load_video_features(str(tmp_path / 'nan.npy'), 'v9', window=(2, 4))


def test_shared_h5_streams_in_window_dataset(tmp_path):
    """G-TAD's own THUMOS layout: flow_val.h5 / rgb_val.h5, one per-frame dataset per video, every
    5th row, flow then rgb; the windows and inputs equal those of per-video .npy folders. A video
    missing from the shared file, a stream length mismatch and a width mismatch fail at build
    time with the file, the video and the lengths/widths."""
    from sola_mm.datasets.thumos_window_dataset import ThumosWindowDataset
    from tests.datasets.test_thumos_windows import write_fake_video
    cfg = write_fake_video(tmp_path)
    video = 'video_validation_0000901'
    for stream in ('flow', 'rgb'):
        with h5py.File(tmp_path / f'{stream}_val.h5', 'w') as f:
            f[video] = np.load(tmp_path / stream / f'{video}.npy')
    npy = ThumosWindowDataset(**cfg, test_mode=True)
    h5 = ThumosWindowDataset(**dict(cfg, streams=dict(flow=str(tmp_path / 'flow_val.h5'),
                                                      rgb=str(tmp_path / 'rgb_val.h5'))),
                             feature_key='{video}', test_mode=True)
    assert len(h5) == len(npy) == 4
    for i in range(len(h5)):
        np.testing.assert_array_equal(h5[i]['inputs'].numpy(), npy[i]['inputs'].numpy())
    # a video that is not in the shared file
    with h5py.File(tmp_path / 'rgb_short.h5', 'w') as f:
        f['other_video'] = np.zeros((400, 8), np.float32)
    with pytest.raises(FeatureError, match=r"rgb_short\.h5.*video_validation_0000901.*missing "
                                           r"video key 'video_validation_0000901'.*other_video"):
        ThumosWindowDataset(**dict(cfg, streams=dict(flow=str(tmp_path / 'flow_val.h5'),
                                                     rgb=str(tmp_path / 'rgb_short.h5'))),
                            feature_key='{video}')
    # stream length mismatch (after the stride: 80 vs 79 snippets)
    with h5py.File(tmp_path / 'rgb_len.h5', 'w') as f:
        f[video] = np.zeros((395, 8), np.float32)
    with pytest.raises(FeatureError, match=r"video video_validation_0000901: stream length "
                                           r"mismatch \(flow .*flow_val\.h5': 80 snippets, rgb "
                                           r".*rgb_len\.h5': 79 snippets\)"):
        ThumosWindowDataset(**dict(cfg, streams=dict(flow=str(tmp_path / 'flow_val.h5'),
                                                     rgb=str(tmp_path / 'rgb_len.h5'))),
                            feature_key='{video}')
    with h5py.File(tmp_path / 'rgb_wide.h5', 'w') as f:
        f[video] = np.zeros((400, 16), np.float32)
    with pytest.raises(FeatureError, match=r"stream width mismatch: flow .*flow_val\.h5' has 8 "
                                           r"channels but rgb .*rgb_wide\.h5' has 16"):
        ThumosWindowDataset(**dict(cfg, streams=dict(flow=str(tmp_path / 'flow_val.h5'),
                                                     rgb=str(tmp_path / 'rgb_wide.h5'))),
                            feature_key='{video}')
    with pytest.raises(FeatureError, match=r"video_validation_0000901: features .* have 16 "
                                           r"channels but the config says feat_dim=2048"):
        ThumosWindowDataset(**cfg, feat_dim=2048)


def test_anet_dataset_any_format(tmp_path, feats):
    """ANetFeatureDataset reads a shared keyed file, two streams (RGB + flow, concatenated) and a
    stride, like the window dataset; a stream file missing for a video fails at build time."""
    import json
    from sola_mm.datasets.anet_feature_dataset import ANetFeatureDataset
    ann = {v: dict(duration_second=10.0, duration_frame=300, feature_frame=300,
                   annotations=[dict(segment=[1.0, 4.0], label='A')]) for v in feats}
    (tmp_path / 'ann.json').write_text(json.dumps(ann))
    np.savez(tmp_path / 'rgb.npz', **feats)
    (tmp_path / 'flow').mkdir()
    for v, x in feats.items():
        np.save(tmp_path / 'flow' / f'{v}.npy', 2 * x)
    pipe = [dict(type='LoadTALFeature'),
            dict(type='PackLocalizationInputs', keys=(), meta_keys=('video_name', ))]
    ds = ANetFeatureDataset(str(tmp_path / 'ann.json'), pipeline=pipe, feature_key='{video}',
                            streams=dict(rgb=str(tmp_path / 'rgb.npz'),
                                         flow=str(tmp_path / 'flow')),
                            feature_stride=2, feat_dim=12, temporal_scale=None)
    item = ds[1]
    video = item['data_samples'].metainfo['video_name']
    expect = np.concatenate([feats[video][::2], 2 * feats[video][::2]], 1).T
    np.testing.assert_array_equal(item['inputs'].numpy(), expect)
    # the same with one shared file as data_prefix.feature
    one = ANetFeatureDataset(str(tmp_path / 'ann.json'), pipeline=pipe, feature_key='{video}',
                             data_prefix=dict(feature=str(tmp_path / 'rgb.npz')), feat_dim=6)
    np.testing.assert_array_equal(one[0]['inputs'].numpy(), feats['a'].T)
    (tmp_path / 'flow' / 'b.npy').unlink()
    with pytest.raises(FileNotFoundError, match=r"1 feature file.*streams=.*flow/b\.npy"):
        ANetFeatureDataset(str(tmp_path / 'ann.json'), pipeline=pipe, feature_key='{video}',
                           streams=dict(rgb=str(tmp_path / 'rgb.npz'),
                                        flow=str(tmp_path / 'flow')))
