"""ActionFormer's data side against the official datasets (tests/data/actionformer/
af_{thumos,anet}_small.npz): seconds -> grid, ANet duplicate filter / resize / training filter,
random truncation and crop with the official ``random`` draws, and the per-video meta; through our
datasets (``ThumosVideoDataset``, ``ANetFeatureDataset``) and transforms."""
import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from mmaction.registry import DATASETS
from sola_mm.datasets.transforms.actionformer import (ACTIONFORMER_META_KEYS, ActionFormerGrid,
                                                      ActionFormerTruncate,
                                                      remove_duplicate_annotations,
                                                      truncate_feats)

DATA = Path(__file__).resolve().parents[1] / 'data' / 'actionformer'


def load(name):
    data = np.load(DATA / f'af_{name}_small.npz')
    return data, json.loads(str(data['config_json']))


def pack():
    return dict(type='PackLocalizationInputs', keys=('gt_segments', 'gt_labels'),
                meta_keys=ACTIONFORMER_META_KEYS)


class RecordDraws:
    """Wraps ``random.randint`` and records ``(a, b, result)`` of every call."""

    def __init__(self, monkeypatch):
        self.calls = []
        draw = random.randint

        def randint(a, b):
            out = draw(a, b)
            self.calls.append((a, b, out))
            return out

        monkeypatch.setattr(random, 'randint', randint)


def write_videos(name, root, entry):
    """The fixture's feature files (videos with features) and an annotation file whose entry per
    video is ``entry(video_json)`` (None: left out)."""
    data, cfg = load(name)
    (root / 'features').mkdir()
    database = {}
    for v in cfg['videos_json']:
        if v['feat_len']:
            np.save(root / 'features' / f'{v["id"]}.npy',
                    data[f'data_v{cfg["batch_video_ids"].index(v["id"])}_raw_feats'])
        anns = [dict(label=label, segment=seg) for label, _, seg in v['annotations']]
        info = entry(v, anns)
        if info is not None:
            database[v['id']] = info
    return data, cfg, database


@pytest.fixture(scope='module')
def thumos(tmp_path_factory):
    root = tmp_path_factory.mktemp('af_thumos')
    data, cfg, database = write_videos('thumos', root, lambda v, anns: dict(
        subset=v['subset'], fps=v['fps'], duration=v['duration'], annotations=anns))
    (root / 'anno.json').write_text(json.dumps(dict(database=database)))
    names = {}
    for v in cfg['videos_json']:
        names.update({i: name for name, i, _ in v['annotations']})
    return data, cfg, root, [names[i] for i in range(len(names))]


def thumos_dataset(root, classes, cfg, train):
    ds = cfg['official_cfg']['dataset']
    pipeline = [dict(type='LoadTALFeature'),
                dict(type='ActionFormerGrid', feat_stride=ds['feat_stride'],
                     num_frames=ds['num_frames'], downsample_rate=ds['downsample_rate'],
                     classes=classes)]
    if train:
        pipeline.append(dict(type='ActionFormerTruncate', max_seq_len=ds['max_seq_len'],
                             trunc_thresh=ds['trunc_thresh'], crop_ratio=ds['crop_ratio']))
    return DATASETS.build(dict(
        type='ThumosVideoDataset', ann_file=str(root / 'anno.json'), subset='validation',
        data_prefix=dict(feature=str(root / 'features')), snippet_stride=ds['feat_stride'],
        feat_dim=ds['input_dim'], test_mode=not train, pipeline=pipeline + [pack()]))


def check_meta(sample, meta_row):
    m = sample.metainfo
    np.testing.assert_array_equal([m['fps'], m['duration'], m['feat_stride'],
                                   m['feat_num_frames'], m['feat_offset']], meta_row)


def check_training_items(dataset, data, cfg, monkeypatch):
    """Each batch video with its item seed: the draws, features, ground truth and meta; then
    the padded batch."""
    names = [dataset.get_data_info(i)['video_name'] for i in range(len(dataset))]
    items = []
    assert sorted(names) == sorted(cfg['batch_video_ids'])
    for i, vid in enumerate(cfg['batch_video_ids']):
        rec = RecordDraws(monkeypatch)
        random.seed(cfg['data'][i]['item_seed'])
        item = dataset[names.index(vid)]
        np.testing.assert_array_equal(np.asarray(rec.calls), data[f'data_v{i}_randint'])
        np.testing.assert_array_equal(item['inputs'].numpy(), data[f'data_v{i}_feats'])
        gt = item['data_samples'].gt_instances
        assert gt.gt_segments.dtype == torch.float32 and gt.gt_labels.dtype == torch.int64
        np.testing.assert_array_equal(gt.gt_segments.numpy(), data[f'data_v{i}_segments'])
        np.testing.assert_array_equal(gt.gt_labels.numpy(), data[f'data_v{i}_labels'])
        check_meta(item['data_samples'], data['video_meta'][i])
        assert item['data_samples'].metainfo['video_name'] == vid
        items.append(item)
    check_padded_batch(items, data, cfg)


def check_padded_batch(items, data, cfg):
    """The items through ActionFormer's own padding = the official batch ``input_*`` and GT."""
    from sola_mm.models.localizers.actionformer import ActionFormer
    model = ActionFormer(**cfg['official_cfg']['model'])
    x, mask = model.preprocessing([it['inputs'].double() for it in items], training=True)
    np.testing.assert_array_equal(x.numpy(), data['input_feats'])
    np.testing.assert_array_equal(mask[:, 0].numpy(), data['input_mask'])
    gts = [it['data_samples'].gt_instances for it in items]
    np.testing.assert_array_equal(np.concatenate([g.gt_segments.numpy() for g in gts]),
                                  data['gt_segments'])
    np.testing.assert_array_equal(np.concatenate([g.gt_labels.numpy() for g in gts]),
                                  data['gt_labels'])
    np.testing.assert_array_equal(np.concatenate([np.full(len(g.gt_labels), b)
                                                  for b, g in enumerate(gts)]),
                                  data['gt_video_idx'])


def test_thumos_training_items(thumos, monkeypatch):
    """(The test-subset video of the json is not in the training split.)"""
    data, cfg, root, classes = thumos
    check_training_items(thumos_dataset(root, classes, cfg, train=True), data, cfg, monkeypatch)


def test_thumos_eval_items_and_grid(thumos):
    data, cfg, root, classes = thumos
    dataset = thumos_dataset(root, classes, cfg, train=False)
    names = [dataset.get_data_info(i)['video_name'] for i in range(len(dataset))]
    for i, vid in enumerate(cfg['batch_video_ids']):
        item = dataset[names.index(vid)]
        np.testing.assert_array_equal(item['inputs'].numpy(), data[f'data_v{i}_raw_feats'].T)
        np.testing.assert_array_equal(item['data_samples'].gt_instances.gt_segments.numpy(),
                                      data[f'data_v{i}_seg_grid_all'])
        np.testing.assert_array_equal(item['data_samples'].gt_instances.gt_labels.numpy(),
                                      data[f'data_v{i}_labels_db'])
        # the float64 computation of the same rule is within the README's 1e-5
        sec = data[f'data_v{i}_seg_sec'].astype(np.float64)
        np.testing.assert_allclose(sec * 30.0 / 4 - 2.0, data[f'data_v{i}_seg_grid_all'],
                                   rtol=0, atol=1e-5)


@pytest.fixture(scope='module')
def anet(tmp_path_factory):
    root = tmp_path_factory.mktemp('af_anet')
    data, cfg, database = write_videos('anet', root, lambda v, anns: dict(
        duration_second=v['duration'], duration_frame=int(v['duration'] * 15),
        annotations=anns) if v['feat_len'] else None)
    (root / 'anno.json').write_text(json.dumps(database))
    return data, cfg, root


def anet_dataset(root, cfg, train):
    ds = cfg['official_cfg']['dataset']
    grid = dict(type='ActionFormerGrid', feat_stride=ds['feat_stride'],
                num_frames=ds['num_frames'], default_fps=ds['default_fps'],
                max_seq_len=ds['max_seq_len'], force_upsampling=ds['force_upsampling'],
                num_classes=ds['num_classes'], remove_duplicates=True)
    pipeline = [dict(type='LoadTALFeature')]
    if train:
        pipeline += [dict(grid, outside_trunc_thresh=ds['trunc_thresh']),
                     dict(type='ActionFormerTruncate', max_seq_len=ds['max_seq_len'],
                          trunc_thresh=ds['trunc_thresh'], crop_ratio=ds['crop_ratio'])]
    else:
        pipeline.append(grid)
    return DATASETS.build(dict(
        type='ANetFeatureDataset', ann_file=str(root / 'anno.json'),
        data_prefix=dict(feature=str(root / 'features')), feat_dim=ds['input_dim'],
        test_mode=not train, pipeline=pipeline + [pack()]))


def test_anet_training_items(anet, monkeypatch):
    data, cfg, root = anet
    check_training_items(anet_dataset(root, cfg, train=True), data, cfg, monkeypatch)


def test_anet_pre_truncation_filter_resize_and_eval_grid(anet):
    """The transform stages one by one: duplicate filter (anetA 4 -> 3), resize (float32, only
    when L != max_seq_len), training filter (anetB drops one, anetA's end clamps to 32.5)."""
    data, cfg, root = anet
    ds = cfg['official_cfg']['dataset']
    kw = dict(feat_stride=ds['feat_stride'], num_frames=ds['num_frames'], default_fps=15,
              max_seq_len=ds['max_seq_len'], force_upsampling=True, num_classes=1,
              remove_duplicates=True)
    train_grid = ActionFormerGrid(outside_trunc_thresh=0.5, **kw)
    eval_grid = ActionFormerGrid(**kw)
    for i, v in enumerate(cfg['videos_json'][:3]):
        anns = [dict(label=name, segment=seg) for name, _, seg in v['annotations']]
        kept = remove_duplicate_annotations(anns)
        np.testing.assert_array_equal(np.asarray([a['segment'] for a in kept], np.float32),
                                      data[f'data_v{i}_seg_sec'])
        sample = dict(video_name=v['id'], raw_feature=data[f'data_v{i}_raw_feats'].T,
                      annotations=anns, duration_second=v['duration'])
        out = train_grid(dict(sample))
        np.testing.assert_array_equal(out['raw_feature'], data[f'data_v{i}_feats_pre_trunc'])
        np.testing.assert_array_equal(out['gt_segments'], data[f'data_v{i}_seg_grid_pre_trunc'])
        np.testing.assert_array_equal(out['gt_labels'], data[f'data_v{i}_labels_pre_trunc'])
        assert out['feat_offset'] == 0.5
        out = eval_grid(dict(sample))
        np.testing.assert_array_equal(out['gt_segments'], data[f'data_v{i}_seg_grid_all'])
        # resize_features=False (SoLa before the resize): native features, the same GT and meta;
        # resizing them later as the official dataset does gives its features
        lazy = ActionFormerGrid(outside_trunc_thresh=0.5, resize_features=False, **kw)(
            dict(sample))
        np.testing.assert_array_equal(lazy['raw_feature'], data[f'data_v{i}_raw_feats'].T)
        np.testing.assert_array_equal(lazy['gt_segments'],
                                      data[f'data_v{i}_seg_grid_pre_trunc'])
        assert lazy['feat_stride'] == data['video_meta'][i][2]
        resized = torch.nn.functional.interpolate(torch.from_numpy(lazy['raw_feature'])[None],
                                                  size=ds['max_seq_len'], mode='linear',
                                                  align_corners=False)[0]
        np.testing.assert_array_equal(resized.numpy(), data[f'data_v{i}_feats_pre_trunc'])
    # anetC has L == max_seq_len: features untouched, feat_stride still recomputed
    np.testing.assert_array_equal(data['data_v2_feats_pre_trunc'], data['data_v2_raw_feats'].T)


def test_truncate_feats_given_the_draws():
    """``truncate_feats`` alone, with the recorded draws replayed (both fixtures)."""
    for name in ('thumos', 'anet'):
        data, cfg = load(name)
        ds = cfg['official_cfg']['dataset']
        for i, d in enumerate(cfg['data']):
            draws = iter(int(r[2]) for r in data[f'data_v{i}_randint'])

            class Replay:
                @staticmethod
                def randint(a, b):
                    out = next(draws)
                    assert a <= out <= b
                    return out

            feats, segs, labels = truncate_feats(
                data[f'data_v{i}_feats_pre_trunc'], data[f'data_v{i}_seg_grid_pre_trunc'],
                data[f'data_v{i}_labels_pre_trunc'], ds['max_seq_len'], ds['trunc_thresh'],
                d['feat_offset'], ds['crop_ratio'], rng=Replay)
            np.testing.assert_array_equal(feats, data[f'data_v{i}_feats'])
            np.testing.assert_array_equal(segs, data[f'data_v{i}_segments'])
            np.testing.assert_array_equal(labels, data[f'data_v{i}_labels'])
            assert next(draws, None) is None


def test_transform_errors_and_options():
    feats = np.arange(24, dtype=np.float32).reshape(2, 12)
    sample = dict(video_name='vid', raw_feature=feats, fps=30.0, duration_second=2.0,
                  annotations=[dict(segment=[0.5, 1.0], label='Jump')])
    with pytest.raises(KeyError, match="vid.*'Jump'"):
        ActionFormerGrid(4, 16, classes=['Run', 'Walk'])(dict(sample))
    with pytest.raises(ValueError, match='classes'):
        ActionFormerGrid(4, 16)
    with pytest.raises(KeyError, match='vid.*fps'):
        ActionFormerGrid(4, 16, num_classes=1)({k: v for k, v in sample.items() if k != 'fps'})
    with pytest.raises(KeyError, match='vid.*ActionFormerGrid'):
        ActionFormerTruncate(8)(dict(sample))
    # downsample_rate: every 2nd feature, stride x2, offset 16 / 2 / 8 = 1
    out = ActionFormerGrid(4, 16, downsample_rate=2, classes=['Jump'])(dict(sample))
    np.testing.assert_array_equal(out['raw_feature'], feats[:, ::2])
    assert out['feat_stride'] == 8 and out['feat_offset'] == 1.0
    np.testing.assert_array_equal(out['gt_segments'],
                                  np.float32([[0.5, 1.0]]) * np.float32(30.0) / 8 - 1.0)
    # 'thumos14': the official label ids (CliffDiving 4, Diving 7)
    grid = ActionFormerGrid(4, 16, classes='thumos14')
    assert grid.index['CliffDiving'] == 4 and grid.index['Diving'] == 7
    # no crop_ratio and short video: unchanged, no draw
    f, s, lab = truncate_feats(feats, np.zeros((1, 2), np.float32), np.zeros(1, np.int64), 64,
                               0.5, 2.0, None)
    assert f is feats


def test_thumos_video_dataset_on_the_csv_layout(tmp_path):
    """Official THUMOS CSVs + video info + two feature streams (the demo layout): one item per
    whole video, no window keys, every GT of the video; window arguments are refused."""
    from sola_mm.datasets.demo_data import make_thumos_demo
    paths = make_thumos_demo(str(tmp_path), num_train=3, num_test=2, feat_dim=8, min_len=60,
                             max_len=90)
    common = dict(type='ThumosVideoDataset', ann_file=paths['val_annotation'],
                  video_info_file=paths['val_info'], snippet_stride=5, feat_dim=8,
                  streams=dict(flow=paths['features'] + '/flow', rgb=paths['features'] + '/rgb'),
                  pipeline=[dict(type='LoadTALFeature'),
                            dict(type='ActionFormerGrid', feat_stride=5, num_frames=0,
                                 classes='thumos14'), pack()])
    dataset = DATASETS.build(common)
    assert len(dataset) == 3
    for i in range(3):
        info = dataset.get_data_info(i)
        assert 'window_snippets' not in info and 'window_start_snippet' not in info
        item = dataset[i]
        length = np.load(paths['features'] + f'/rgb/{info["video_name"]}.npy').shape[0]
        assert tuple(item['inputs'].shape) == (8, length)
        gt = item['data_samples'].gt_instances
        # offset 0 (num_frames 0): grid = seconds * fps / 5, every annotation of the video
        seconds = np.asarray([a['segment'] for a in info['annotations']], np.float32)
        np.testing.assert_array_equal(gt.gt_segments.numpy(), seconds * np.float32(30.0) / 5)
        assert item['data_samples'].metainfo['duration'] == info['duration_second']
    with pytest.raises(TypeError, match='window_size'):
        DATASETS.build(dict(common, window_size=64))


def test_postprocess_fixture_video_geometry():
    """The eval-mode datasets of af_postprocess.npz: ANet videos of 37 / 90 / 7 features resized
    to 64 give feat_stride' 9.25 / 22.5 / 1.75 (= num_frames'); THUMOS keeps its features and
    stride 4 / 16 frames. The meta equals what the official dataset handed to inference."""
    data = np.load(DATA / 'af_postprocess.npz')
    cfg = json.loads(str(data['config_json']))
    for part in ('thumos', 'anet'):
        ds = cfg[part]['official_cfg']['dataset']
        grid = ActionFormerGrid(feat_stride=ds['feat_stride'], num_frames=ds['num_frames'],
                                default_fps=ds['default_fps'], max_seq_len=ds['max_seq_len'],
                                force_upsampling=ds['force_upsampling'], num_classes=1)
        for i, v in enumerate(cfg[part]['videos']):
            feats = data[f'{part}_v{i}_feats']
            raw = feats if part == 'thumos' else np.zeros((feats.shape[0], v['raw_len']),
                                                          np.float32)
            out = grid(dict(video_name=v['video_id'], raw_feature=raw, fps=v['fps'],
                            duration_second=v['duration'], annotations=[]))
            assert out['raw_feature'].shape == feats.shape == (feats.shape[0], v['input_len'])
            if part == 'thumos':
                np.testing.assert_array_equal(out['raw_feature'], feats)
            for key in ('fps', 'duration', 'feat_stride', 'feat_num_frames'):
                assert out[key] == v[key], (part, i, key)
            assert out['gt_segments'].shape == (0, 2)
