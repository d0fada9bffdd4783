"""Edge cases found in review: stage-1 windows over strided / keyed / two-stream features, and
annotation values that must fail with the file, the video and the field in the message."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import sola_mm  # noqa: F401
from mmaction.registry import DATASETS
from sola_mm.datasets.anet_feature_dataset import AnnotationError, load_anet_annotations
from sola_mm.datasets.thumos_window_dataset import (load_json_annotations, load_thumos_annotations,
                                                    load_video_info)

C = 4
LENGTHS = {'v_a': 60, 'v_b': 81}


def _videos(root: Path):
    rng = np.random.default_rng(0)
    (root / 'f').mkdir()
    feats, database = {}, {}
    for name, length in LENGTHS.items():
        feats[name] = rng.standard_normal((length, C)).astype(np.float32)
        np.save(root / 'f' / f'{name}.npy', feats[name])
        database[name] = dict(duration_second=10.0, duration_frame=length, feature_frame=length,
                              annotations=[])
    (root / 'anno.json').write_text(json.dumps(database))
    return feats


def _stage1(root: Path, **kw):
    return DATASETS.build(dict(type='SimilarityWindowDataset', ann_file=str(root / 'anno.json'),
                               window=5, seed=1, **kw))


def _by_video(dataset):
    return {dataset.get_data_info(i)['video_name']: dataset.features(i)
            for i in range(len(dataset))}


def test_stage1_honours_feature_stride(tmp_path):
    """feature_stride (an ANetFeatureDataset argument) was accepted but ignored by stage 1."""
    feats = _videos(tmp_path)
    dataset = _stage1(tmp_path, data_prefix=dict(feature=str(tmp_path / 'f')), feature_stride=2)
    got = _by_video(dataset)
    for name, array in feats.items():
        np.testing.assert_array_equal(got[name], array[::2])


def test_stage1_reads_a_shared_h5_keyed_by_video(tmp_path):
    """feature_key='{video}' was dropped: the loader then asked for the key that was set."""
    h5py = pytest.importorskip('h5py')
    feats = _videos(tmp_path)
    with h5py.File(tmp_path / 'shared.h5', 'w') as handle:
        for name, array in feats.items():
            handle[name] = array
    dataset = _stage1(tmp_path, data_prefix=dict(feature=str(tmp_path / 'shared.h5')),
                      feature_key='{video}', feat_dim=C)
    got = _by_video(dataset)
    for name, array in feats.items():
        np.testing.assert_array_equal(got[name], array)


def test_stage1_concatenates_streams(tmp_path):
    """streams=... crashed with a TypeError (a dict of paths given to a one-file loader)."""
    feats = _videos(tmp_path)
    folder = str(tmp_path / 'f')
    dataset = _stage1(tmp_path, streams=dict(flow=folder, rgb=folder), feat_dim=2 * C)
    got = _by_video(dataset)
    for name, array in feats.items():
        np.testing.assert_array_equal(got[name], np.concatenate([array, array], axis=1))
    assert dataset[0]['inputs'].shape == (2 * C, 5)


@pytest.mark.parametrize('field,value', [('duration_frame', 0), ('feature_frame', 0),
                                         ('duration_second', '82.7'), ('duration_frame', None)])
def test_anet_duration_values_are_checked(tmp_path, field, value):
    """duration_frame = 0 / feature_frame = 0 divided by zero in GenerateLocalizationLabels at the
    first iteration; a string duration raised a bare TypeError."""
    entry = dict(duration_second=10.0, duration_frame=300, feature_frame=296, annotations=[])
    entry[field] = value
    path = tmp_path / 'anno.json'
    path.write_text(json.dumps({'v_x': entry}))
    with pytest.raises(AnnotationError, match=rf"'{path}', video v_x: {field} must be a number "
                                              r'> 0'):
        load_anet_annotations(str(path))


def test_video_info_values_name_file_row_and_field(tmp_path):
    path = tmp_path / 'info.csv'
    path.write_text('video,fps,num_frames\nvideo_a,30,abc\n')
    with pytest.raises(AnnotationError, match=rf"'{path}', row 2 \(video video_a\): num_frames "
                                              r"\(column 'num_frames'\) must be a number, got "
                                              r"'abc'"):
        load_video_info(str(path))


@pytest.mark.parametrize('entry,field', [
    (dict(fps='thirty', num_frames=10), 'fps'),
    (dict(fps=30, num_frames='ten'), 'num_frames'),
    (dict(fps=30, duration_second=[1]), 'duration_second'),
])
def test_json_window_annotation_values_are_checked(tmp_path, entry, field):
    path = tmp_path / 'ann.json'
    path.write_text(json.dumps({'vid': dict(entry, annotations=[])}))
    with pytest.raises(AnnotationError, match=rf"'{path}', video vid: .*{field}"):
        load_json_annotations(str(path))


def test_json_window_annotation_entry_must_be_an_object(tmp_path):
    path = tmp_path / 'ann.json'
    path.write_text(json.dumps({'vid': [1, 2]}))
    with pytest.raises(AnnotationError, match=rf"'{path}', video vid: expected an object"):
        load_json_annotations(str(path))


def test_thumos_csv_bad_type_idx_names_file_row_and_video(tmp_path):
    path = tmp_path / 'ann.csv'
    path.write_text('video,type,type_idx,start,end,startFrame,endFrame\n'
                    'v1,Jump,x,1,2,30,60\n')
    with pytest.raises(AnnotationError, match=rf"'{path}', row 2 \(video v1\): .*'x'"):
        load_thumos_annotations(str(path))
