"""SimilarityWindowDataset / SimilarityWindowSampler: skipping, seeding, caching, and a stage-1 run."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

import sola_mm  # noqa: F401
from mmaction.registry import DATA_SAMPLERS, DATASETS
from sola_mm.datasets import sm_window_dataset
from sola_mm.datasets.feature_io import FeatureError, resize_features
from sola_mm.datasets.sm_window_dataset import SimilarityWindowDataset, SimilarityWindowSampler

C = 6


def make_videos(root: Path, lengths: Dict[str, int], ext: str = '.npy', seed: int = 0) -> str:
    """Features [T, C] for each video (npy, or MMAction2's csv: header + T rows) and an ANet JSON."""
    rng = np.random.default_rng(seed)
    feat_dir = root / 'features'
    feat_dir.mkdir(parents=True, exist_ok=True)
    database = {}
    for name, length in lengths.items():
        feats = rng.standard_normal((length, C)).astype(np.float32)
        if ext == '.npy':
            np.save(feat_dir / f'{name}.npy', feats)
        else:
            header = ','.join(f'f{i}' for i in range(C))
            np.savetxt(feat_dir / f'{name}.csv', feats, delimiter=',', header=header, comments='',
                       fmt='%.9g')
        database[name] = dict(duration_second=float(length), duration_frame=length * 16,
                              feature_frame=length * 16, annotations=[])
    ann = root / 'anno.json'
    ann.write_text(json.dumps(database))
    return str(ann)


def build(root: Path, **kwargs) -> SimilarityWindowDataset:
    cfg = dict(type='SimilarityWindowDataset', ann_file=str(root / 'anno.json'),
               data_prefix=dict(feature=str(root / 'features')), feat_dim=C, seed=3)
    cfg.update(kwargs)
    return DATASETS.build(cfg)


def windows(dataset: SimilarityWindowDataset, epoch: int) -> List[int]:
    return [dataset[(i, epoch)]['data_samples'].window_start for i in range(len(dataset))]


LENGTHS = {'v_short1': 10, 'v_short2': 22, 'v_exact': 23, 'v_a': 24, 'v_b': 60, 'v_c': 100,
           'v_d': 157, 'v_e': 80}


def test_items_are_windows_of_the_stored_features(tmp_path):
    make_videos(tmp_path, LENGTHS)
    dataset = build(tmp_path)
    assert len(dataset) == 5
    for i in range(len(dataset)):
        item = dataset[(i, 2)]
        sample = item['data_samples']
        name, start = sample.video_name, sample.window_start
        stored = np.load(tmp_path / 'features' / f'{name}.npy')
        assert item['inputs'].shape == (C, 23) and item['inputs'].dtype == torch.float32
        assert 0 <= start <= len(stored) - 23
        np.testing.assert_array_equal(item['inputs'].numpy(), stored[start:start + 23].T)
    # v_a has exactly one spare snippet: both offsets 0 and 1 must occur over epochs
    idx = [dataset.get_data_info(i)['video_name'] for i in range(len(dataset))].index('v_a')
    assert {dataset.window_start(idx, e) for e in range(40)} == {0, 1}


def test_short_videos_are_skipped_with_a_count(tmp_path, monkeypatch):
    make_videos(tmp_path, LENGTHS)
    messages: List[str] = []
    monkeypatch.setattr(sm_window_dataset, 'print_log', lambda msg, **kw: messages.append(msg))
    dataset = build(tmp_path)
    names = {dataset.get_data_info(i)['video_name'] for i in range(len(dataset))}
    assert names == {'v_a', 'v_b', 'v_c', 'v_d', 'v_e'}
    assert dataset.num_skipped == 3  # 10, 22 and 23 (= window: the authors keep T > W only)
    assert any('skipped 3 of 8' in m and 'window=23' in m for m in messages), messages


def test_error_names_the_field_when_no_video_is_long_enough(tmp_path):
    make_videos(tmp_path, {'v_1': 10, 'v_2': 23})
    with pytest.raises(ValueError, match=r'window=23.*longest: 23.*`window`'):
        build(tmp_path)
    with pytest.raises(ValueError, match='temporal_scale=16'):
        build(tmp_path, window=20, temporal_scale=16)
    assert len(build(tmp_path, window=20)) == 1


def test_windows_are_reproducible_by_seed_and_change_per_epoch(tmp_path):
    make_videos(tmp_path, LENGTHS)
    first, again = build(tmp_path, seed=7), build(tmp_path, seed=7)
    assert windows(first, 0) == windows(again, 0)
    assert windows(first, 5) == windows(again, 5)
    assert windows(first, 0) != windows(first, 1)
    assert windows(first, 0) != windows(build(tmp_path, seed=8), 0)
    # plain integer indices use the epoch given to set_epoch
    first.set_epoch(5)
    assert [first[i]['data_samples'].window_start for i in range(len(first))] == windows(first, 5)


def test_sampler_passes_the_epoch_to_persistent_workers(tmp_path):
    make_videos(tmp_path, LENGTHS)
    dataset = build(tmp_path)
    sampler = DATA_SAMPLERS.build(dict(type='SimilarityWindowSampler', shuffle=True),
                                  default_args=dict(dataset=dataset, seed=0))
    assert isinstance(sampler, SimilarityWindowSampler)
    loader = DataLoader(dataset, batch_size=2, sampler=sampler, num_workers=2,
                        persistent_workers=True, collate_fn=lambda batch: batch)
    seen = {}
    for epoch in (0, 1):
        sampler.set_epoch(epoch)
        got = {}
        for batch in loader:
            for item in batch:
                got[item['data_samples'].video_name] = item['data_samples'].window_start
        seen[epoch] = got
    for epoch, got in seen.items():
        expected = {dataset.get_data_info(i)['video_name']: dataset.window_start(i, epoch)
                    for i in range(len(dataset))}
        assert got == expected
    assert seen[0] != seen[1]


def test_features_are_cached_in_memory(tmp_path):
    make_videos(tmp_path, LENGTHS)
    cached, uncached = build(tmp_path), build(tmp_path, cache=False)
    before = [cached[(i, 0)]['inputs'] for i in range(len(cached))]
    for name in os.listdir(tmp_path / 'features'):
        os.remove(tmp_path / 'features' / name)
    after = [cached[(i, 1)]['inputs'] for i in range(len(cached))]  # no file needed any more
    assert len(after) == len(before) == 5
    with pytest.raises(FeatureError, match='does not exist'):
        uncached[(0, 0)]


def test_mmap_reads_the_same_windows_without_holding_the_features(tmp_path, monkeypatch):
    """cache='mmap' (HACS scale): the build reads only the headers, an item reads its W rows; the
    items equal the in-memory cache's, also for float16 files; no feature array is kept."""
    make_videos(tmp_path, LENGTHS)
    half = np.load(tmp_path / 'features' / 'v_d.npy').astype(np.float16)
    np.save(tmp_path / 'features' / 'v_d.npy', half)
    cached = build(tmp_path)
    reads = []
    real = sm_window_dataset.load_video_features
    monkeypatch.setattr(sm_window_dataset, 'load_video_features',
                        lambda *a, **k: reads.append(k.get('window')) or real(*a, **k))
    mapped = build(tmp_path, cache='mmap')
    assert reads == [] and mapped._store is None            # build: headers only
    assert [mapped.get_data_info(i) for i in range(len(mapped))] == \
        [cached.get_data_info(i) for i in range(len(cached))]
    for epoch in (0, 1):
        for i in range(len(mapped)):
            a, b = cached[(i, epoch)], mapped[(i, epoch)]
            assert torch.equal(a['inputs'], b['inputs'])
            assert a['data_samples'].window_start == b['data_samples'].window_start
    assert len(reads) == 2 * len(mapped) and all(r[1] == 23 for r in reads)
    with pytest.raises(FeatureError, match=r'v_short1.*6 channels but the config says feat_dim=8'):
        build(tmp_path, cache='mmap', feat_dim=8)
    with pytest.raises(ValueError, match='cache must be one of'):
        build(tmp_path, cache='disk')
    # a NaN is reported by the window that reads it, naming the file
    bad = np.load(tmp_path / 'features' / 'v_a.npy')
    bad[:] = np.nan
    np.save(tmp_path / 'features' / 'v_a.npy', bad)
    mapped = build(tmp_path, cache='mmap')
    index = [mapped.get_data_info(i)['video_name'] for i in range(len(mapped))].index('v_a')
    with pytest.raises(FeatureError, match=r'v_a\.npy.*NaN'):
        mapped[(index, 0)]


def test_csv_features_and_temporal_scale(tmp_path):
    make_videos(tmp_path, {'v_x': 50, 'v_y': 130}, ext='.csv')
    dataset = build(tmp_path, feature_ext='.csv', temporal_scale=100)
    assert [dataset.get_data_info(i)['num_snippets'] for i in range(2)] == [100, 100]
    from sola_mm.datasets.feature_io import load_features
    for i in range(2):
        info = dataset.get_data_info(i)
        expected = resize_features(load_features(info['feature_path']), 100)
        np.testing.assert_array_equal(dataset.features(i), expected)
        item = dataset[(i, 0)]
        start = item['data_samples'].window_start
        np.testing.assert_array_equal(item['inputs'].numpy(), expected[start:start + 23].T)


def test_feature_width_is_checked(tmp_path):
    make_videos(tmp_path, {'v_x': 50})
    with pytest.raises(FeatureError, match=r"v_x.*channels but the config says feat_dim=8"):
        build(tmp_path, feat_dim=8)


def test_stage1_trains_with_the_runner_and_the_neck_loads_the_checkpoint(tmp_path):
    """SoLaPretrainer + SimilarityWindowDataset + SimilarityWindowSampler through mmengine's Runner
    (2 epochs), then the stage-1 checkpoint goes into a frozen SoLa neck."""
    from mmengine.runner import Runner
    from mmaction.registry import MODELS

    make_videos(tmp_path, {f'v_{i}': 30 + 7 * i for i in range(12)})
    runner = Runner(
        model=dict(type='SoLaPretrainer',
                   neck=dict(type='SoLa', in_channels=C, hidden_channels=8),
                   projector_hidden=8,
                   loss=dict(type='SimilarityMatchingLoss', num_positions=8, step=2, step_start=4,
                             coef=16)),
        work_dir=str(tmp_path / 'work'),
        train_dataloader=dict(
            batch_size=4, num_workers=0,
            sampler=dict(type='SimilarityWindowSampler', shuffle=True),
            dataset=dict(type='SimilarityWindowDataset', ann_file=str(tmp_path / 'anno.json'),
                         data_prefix=dict(feature=str(tmp_path / 'features')), feat_dim=C,
                         window=23)),
        train_cfg=dict(type='EpochBasedTrainLoop', max_epochs=2),
        optim_wrapper=dict(optimizer=dict(type='AdamW', lr=1e-2, weight_decay=0.01)),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1),
                           logger=dict(type='LoggerHook', interval=1)),
        default_scope='mmaction',
        randomness=dict(seed=0),
    )
    alpha_before = runner.model.neck.alpha.item()
    runner.train()
    assert runner.model.neck.alpha.item() != alpha_before
    scalars = runner.message_hub.log_scalars
    assert 'train/loss_sm' in scalars and 'train/vnr' in scalars
    assert np.isfinite(scalars['train/loss_sm'].current())
    neck = MODELS.build(dict(type='SoLa', in_channels=C, hidden_channels=8, frozen=True,
                             pretrained=str(tmp_path / 'work' / 'epoch_2.pth')))
    neck.init_weights()
    torch.testing.assert_close(neck.alpha, runner.model.neck.alpha.detach(), atol=0, rtol=0)
    torch.testing.assert_close(neck.conv1.weight, runner.model.neck.conv1.weight.detach(),
                               atol=0, rtol=0)
