import json
import os

import numpy as np
import pytest

from mmaction.registry import DATASETS
from sola_mm.datasets.anet_feature_dataset import AnnotationError
from sola_mm.datasets.feature_io import FeatureError, load_features, save_features_atomic

PIPELINE = [dict(type='LoadTALFeature', feat_dim=32, temporal_scale=16),
            dict(type='GenerateLocalizationLabels'),
            dict(type='PackLocalizationInputs', keys=('gt_bbox', ), meta_keys=('video_name', ))]


def build(paths, ann=None, prefix=None, ext='.npy', pipeline=PIPELINE, **kw):
    return DATASETS.build(dict(type='ANetFeatureDataset', ann_file=ann or paths['train'],
                               data_prefix=dict(feature=prefix or paths['features']),
                               feature_ext=ext, pipeline=pipeline, **kw))


def test_items_follow_the_data_contract(tiny_anet):
    dataset = build(tiny_anet)
    item = dataset[0]
    assert tuple(item['inputs'].shape) == (32, 16)
    bbox = item['data_samples'].gt_instances.gt_bbox
    assert bbox.shape[1] == 2 and float(bbox.min()) >= 0 and float(bbox.max()) <= 1


def test_csv_and_npy_give_the_same_features(tiny_anet, tmp_path):
    anno = json.load(open(tiny_anet['train']))
    video = next(iter(anno))
    feats = load_features(os.path.join(tiny_anet['features'], video + '.npy'))
    save_features_atomic(feats, str(tmp_path / f'{video}.csv'))
    np.testing.assert_allclose(load_features(str(tmp_path / f'{video}.csv')), feats, rtol=1e-6)


def _subset(paths, tmp_path, edit):
    anno = json.load(open(paths['train']))
    anno = dict(list(anno.items())[:2])
    edit(anno)
    path = tmp_path / 'ann.json'
    path.write_text(json.dumps(anno))
    return str(path)


def test_missing_feature_file_names_it(tiny_anet, tmp_path):
    ann = _subset(tiny_anet, tmp_path, lambda a: a.update(v_missing=dict(next(iter(a.values())))))
    with pytest.raises(FileNotFoundError, match='v_missing.npy'):
        build(tiny_anet, ann=ann)


def test_annotation_without_duration_second(tiny_anet, tmp_path):
    ann = _subset(tiny_anet, tmp_path, lambda a: next(iter(a.values())).pop('duration_second'))
    with pytest.raises(AnnotationError, match=r"video v_demo\d+: missing field 'duration_second'"):
        build(tiny_anet, ann=ann)


def test_feature_dim_different_from_config(tiny_anet):
    pipeline = [dict(PIPELINE[0], feat_dim=64)] + PIPELINE[1:]
    with pytest.raises(FeatureError, match=r'v_demo\d+.*32 channels.*feat_dim=64'):
        build(tiny_anet, pipeline=pipeline)[0]


def test_nan_in_features(tiny_anet, tmp_path):
    anno = json.load(open(tiny_anet['train']))
    video = next(iter(anno))
    feats = load_features(os.path.join(tiny_anet['features'], video + '.npy')).copy()
    feats[3, 5] = np.nan
    np.save(tmp_path / f'{video}.npy', feats)
    ann = tmp_path / 'one.json'
    ann.write_text(json.dumps({video: anno[video]}))
    with pytest.raises(FeatureError, match=rf'{video}.npy.*NaN/inf.*snippet 3, channel 5'):
        build(tiny_anet, ann=str(ann), prefix=str(tmp_path))[0]


def test_segment_that_ends_before_it_starts(tiny_anet, tmp_path):
    def flip(a):
        seg = next(iter(a.values()))['annotations'][0]['segment']
        seg.reverse()
    ann = _subset(tiny_anet, tmp_path, flip)
    with pytest.raises(AnnotationError, match='ends before it starts'):
        build(tiny_anet, ann=ann)
