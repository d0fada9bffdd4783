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
    # any channel count; npy is memory-mapped until the float32 copy
    np.save(tmp_path / 'wide.npy', np.ones((3, 2048), np.float32))
    assert load_features(str(tmp_path / 'wide.npy')).shape == (3, 2048)


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
