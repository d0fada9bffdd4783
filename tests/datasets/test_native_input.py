"""Datasets with ``neck_input='native'`` (the SoLa configs): the native-length video goes to the
model with the deferred resize / window cut in ``neck_post``; finishing it without a neck gives
exactly what the dataset hands a baseline model. Stage 1 and the probe read native lengths too,
and the baseline configs are unchanged."""
import os

import numpy as np
import pytest
import torch
from mmengine.config import Config
from test_thumos_windows import write_fake_video

import sola_mm  # noqa: F401
from sola_mm.datasets import ANetFeatureDataset, ThumosWindowDataset
from sola_mm.datasets.native_input import finish_after_neck

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ANET_PIPE = [dict(type='LoadTALFeature'),
             dict(type='PackLocalizationInputs', keys=(), meta_keys=('video_name', ))]


def _anet(paths, **kwargs):
    return ANetFeatureDataset(paths['train'], pipeline=ANET_PIPE,
                              data_prefix=dict(feature=paths['features']), temporal_scale=16,
                              **kwargs)


def test_anet_native_items_finish_to_the_baseline_items(tiny_anet):
    baseline, native = _anet(tiny_anet), _anet(tiny_anet, neck_input='native')
    lengths = set()
    for i in range(len(baseline)):
        old, new = baseline[i], native[i]
        video = old['data_samples'].metainfo['video_name']
        raw = np.load(os.path.join(tiny_anet['features'], video + '.npy'))
        assert 'neck_post' not in old['data_samples'].metainfo and old['inputs'].shape[1] == 16
        np.testing.assert_array_equal(new['inputs'].numpy(), raw.T)  # native length, as stored
        post = new['data_samples'].metainfo['neck_post']
        assert post['resize'] == 16 and video in post['key']
        torch.testing.assert_close(finish_after_neck(new['inputs'], post), old['inputs'], rtol=0,
                                   atol=0)
        lengths.add(raw.shape[0])
    assert len(lengths) > 3 and lengths != {16}


def test_anet_native_option_errors_and_pipeline_scale(tiny_anet):
    with pytest.raises(ValueError, match="neck_input must be None .* or 'native'"):
        _anet(tiny_anet, neck_input='whole')
    # temporal_scale on the loading transform (a user config may set it there): deferred too
    ds = ANetFeatureDataset(tiny_anet['train'], data_prefix=dict(feature=tiny_anet['features']),
                            neck_input='native',
                            pipeline=[dict(type='LoadTALFeature', temporal_scale=16), ANET_PIPE[1]])
    baseline = _anet(tiny_anet)
    for i in range(3):
        item = ds[i]
        post = item['data_samples'].metainfo['neck_post']
        assert post['resize'] == 16 and item['inputs'].shape[1] != 16
        torch.testing.assert_close(finish_after_neck(item['inputs'], post), baseline[i]['inputs'],
                                   rtol=0, atol=0)
    # and it wins over the dataset's, as in LoadTALFeature
    ds = ANetFeatureDataset(tiny_anet['train'], data_prefix=dict(feature=tiny_anet['features']),
                            neck_input='native', temporal_scale=8,
                            pipeline=[dict(type='LoadTALFeature', temporal_scale=16), ANET_PIPE[1]])
    assert ds[0]['data_samples'].metainfo['neck_post']['resize'] == 16


@pytest.mark.parametrize('context', [None, 0, 3])
@pytest.mark.parametrize('frames', [400, 120])  # windows + tail; one short padded window
def test_thumos_native_items_finish_to_the_baseline_windows(tmp_path, frames, context):
    cfg = write_fake_video(tmp_path, frames=frames, gt=((20, 60), (100, 110)))
    baseline = ThumosWindowDataset(**cfg, test_mode=True)
    native = ThumosWindowDataset(**cfg, test_mode=True, neck_input='native', neck_context=context)
    assert len(native) == len(baseline)
    length = baseline.videos['video_validation_0000901']['num_snippets']
    for i in range(len(baseline)):
        old, new = baseline[i], native[i]
        meta = new['data_samples'].metainfo
        s0 = meta['window_start_snippet']
        assert s0 == old['data_samples'].metainfo['window_start_snippet']
        post = meta['neck_post']
        lo = 0 if context is None else max(0, s0 - context)
        hi = length if context is None else min(length, s0 + 32 + context)
        assert new['inputs'].shape[1] == hi - lo and post['context'] == context
        assert f'span={lo}:{hi}' in post['key']
        torch.testing.assert_close(finish_after_neck(new['inputs'], post), old['inputs'], rtol=0,
                                   atol=0)
        np.testing.assert_array_equal(new['data_samples'].gt_instances.gt_bbox.numpy(),
                                      old['data_samples'].gt_instances.gt_bbox.numpy())
    with pytest.raises(ValueError, match='neck_context must be None'):
        ThumosWindowDataset(**cfg, neck_input='native', neck_context=-1)


def test_sola_configs_hand_native_input_and_baselines_do_not():
    for name in ('sola_gtad_anet.py', 'sola_bmn_anet.py', 'sola_gtad_thumos.py',
                 'sola_bmn_thumos.py', 'ablations/sola_bmn_anet_unified.py',
                 'ablations/sola_bmn_anet_enc_i3d.py', 'demo/sola_gtad_demo.py',
                 'demo/sola_gtad_thumos_demo.py'):
        cfg = Config.fromfile(os.path.join(ROOT, 'configs', name))
        for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            assert cfg[key].dataset.neck_input == 'native', (name, key)
            if 'thumos' in name:
                assert cfg[key].dataset.neck_context >= 2  # SoLa k=5: receptive radius 2
    for name in ('gtad_anet.py', 'bmn_anet.py', 'gtad_thumos.py', 'bmn_thumos.py',
                 'demo/gtad_demo.py'):
        cfg = Config.fromfile(os.path.join(ROOT, 'configs', name))
        for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            assert 'neck_input' not in cfg[key].dataset, (name, key)


def test_stage1_and_probe_read_native_lengths_when_stage2_does(tmp_path):
    """The authors train Similarity Matching on native-length features: a SoLa stage 2 that hands
    its neck native lengths gives stage 1 (and the probe that picks its checkpoint) the same."""
    from sola_mm.engine.hooks.stage1 import stage1_config
    stage2 = Config.fromfile(os.path.join(ROOT, 'configs', 'sola_gtad_anet.py'))
    assert stage2.train_dataloader.dataset.temporal_scale == 100
    cfg = stage1_config(stage2, dict(stage2.sola_stage1), stage2.model.neck, str(tmp_path))
    assert cfg.train_dataloader.dataset.temporal_scale is None
    assert cfg.val_dataloader.dataset.temporal_scale is None
    assert 'neck_input' not in cfg.train_dataloader.dataset
    # the old order keeps stage 1 at the stage-2 temporal scale
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        stage2[key].dataset.neck_input = None
    cfg = stage1_config(stage2, dict(stage2.sola_stage1), stage2.model.neck, str(tmp_path))
    assert cfg.train_dataloader.dataset.temporal_scale == 100
    assert cfg.val_dataloader.dataset.temporal_scale == 100
