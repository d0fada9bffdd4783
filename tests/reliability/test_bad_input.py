"""Bad input: each case gives an error naming the file / video / field, or a logged, counted skip.

The full table (with the cases tested elsewhere: tests/datasets, tests/models) is
docs/bad_input.md. Everything here runs in-process on tiny generated data (< 2 s in total).
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.logging import MMLogger

from mmaction.registry import DATASETS, METRICS, MODELS
from sola_mm.datasets.anet_feature_dataset import AnnotationError
from sola_mm.datasets.feature_io import FeatureError
from sola_mm.engine.checkpoint import CheckpointError, load_checkpoint_file
from sola_mm.evaluation.functional.detection import UnknownLabelError

PIPELINE = [dict(type='LoadTALFeature', feat_dim=32, temporal_scale=16),
            dict(type='GenerateLocalizationLabels'),
            dict(type='PackLocalizationInputs', keys=('gt_bbox', ), meta_keys=('video_name', ))]


def build_anet(ann_file: str, features: str, ext: str = '.npy', **kwargs):
    return DATASETS.build(dict(type='ANetFeatureDataset', ann_file=ann_file,
                               data_prefix=dict(feature=features), feature_ext=ext,
                               pipeline=PIPELINE, **kwargs))


@pytest.fixture
def one_video(tiny_anet, tmp_path):
    """(annotation dict of one training video, its name, a writer of a one-video annotation file,
    a folder for replacement feature files)."""
    anno = json.load(open(tiny_anet['train']))
    video = next(iter(anno))
    folder = tmp_path / 'features'
    folder.mkdir()

    def write(entry: dict) -> str:
        path = tmp_path / 'ann.json'
        path.write_text(json.dumps({video: entry}))
        return str(path)
    return json.loads(json.dumps(anno[video])), video, write, folder


@pytest.fixture
def warnings_log():
    """Records the warnings mmengine's current logger emits during the test."""
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())
    handler = Keep(level=logging.WARNING)
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


# ----------------------------------------------------------------------------------- features
@pytest.mark.parametrize('content, message', [
    (b'', r'could not be read as \.npy'),                       # empty (0-byte) file
    (np.zeros((0, 32), np.float32), r'0 snippets x 32 channels; need at least 1'),  # no snippets
    (np.zeros((6, 32, 2), np.float32), r'expected a 2-D \[time, channels\] array, got shape '
                                       r'\[6, 32, 2\]'),                  # wrong number of dims
], ids=['empty_file', 'zero_snippets', 'three_dims'])
def test_broken_feature_file(one_video, tiny_anet, content, message):
    entry, video, write, folder = one_video
    path = folder / f'{video}.npy'
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        np.save(path, content)
    with pytest.raises(FeatureError, match=rf"'{path}' \(video {video}\).*{message}"):
        build_anet(write(entry), str(folder))[0]


def test_inf_in_features(one_video, tiny_anet):
    """(NaN is tests/datasets/test_anet_dataset.py::test_nan_in_features.)"""
    entry, video, write, folder = one_video
    feats = np.load(os.path.join(tiny_anet['features'], f'{video}.npy')).copy()
    feats[7, 2] = -np.inf
    np.save(folder / f'{video}.npy', feats)
    with pytest.raises(FeatureError, match=rf'{video}.*1 NaN/inf value\(s\), first at snippet 7, '
                                           r'channel 2'):
        build_anet(write(entry), str(folder))[0]


def test_unreadable_csv(one_video):
    entry, video, write, folder = one_video
    (folder / f'{video}.csv').write_text('f0,f1\n0.5,abc\n')
    with pytest.raises(FeatureError, match=rf"{video}.csv' \(video {video}\) could not be read as "
                                           r"\.csv: ValueError"):
        build_anet(write(entry), str(folder), ext='.csv')[0]


def test_unknown_feature_format(one_video):
    entry, video, write, folder = one_video
    (folder / f'{video}.pkl').write_bytes(b'\x80\x04N.')
    with pytest.raises(FeatureError, match=rf"{video}.pkl'.*unknown format '\.pkl'; supported"):
        build_anet(write(entry), str(folder), ext='.pkl')[0]


def _thumos_video(root: Path, snippets: int, num_frames: int, skip: int = 5) -> dict:
    (root / 'f').mkdir()
    np.save(root / 'f' / 'clip.npy', np.ones((snippets, 4), np.float32))
    (root / 'ann.json').write_text(json.dumps({'clip': {
        'fps': 25.0, 'num_frames': num_frames,
        'annotations': [{'segment': [0.4, 1.2], 'label': 'Jump'}]}}))
    return dict(type='ThumosWindowDataset', ann_file=str(root / 'ann.json'),
                data_prefix=dict(feature=str(root / 'f')), feature_stride=1, snippet_stride=skip,
                window_size=16, window_stride=8, pipeline=[dict(type='LoadTALFeature')])


def test_feature_length_disagrees_with_annotation(tmp_path):
    """20 snippets x 5 frames cover 100 frames; the annotation says 1000: wrong video/stride."""
    cfg = _thumos_video(tmp_path, snippets=20, num_frames=1000)
    with pytest.raises(FeatureError, match=r"video clip: .*20 snippets x snippet_stride 5 = 100 "
                                           r"frames, but the annotation says num_frames=1000"):
        DATASETS.build(cfg)


def test_feature_length_close_to_annotation_is_fine(tmp_path):
    """A partial last snippet (features 100 frames, video 103) is normal and accepted."""
    assert len(DATASETS.build(_thumos_video(tmp_path, snippets=20, num_frames=103))) >= 1


# -------------------------------------------------------------------------------- annotations
def test_annotation_file_missing_or_not_json(tiny_anet, tmp_path):
    with pytest.raises(AnnotationError, match=r"annotation file '.*nothere.json' does not exist"):
        build_anet(str(tmp_path / 'nothere.json'), tiny_anet['features'])
    (tmp_path / 'broken.json').write_text('{"v_a": {"duration_second": ')
    with pytest.raises(AnnotationError, match=r"broken.json' could not be parsed"):
        build_anet(str(tmp_path / 'broken.json'), tiny_anet['features'])


def test_annotation_without_label(one_video, tiny_anet):
    entry, video, write, _ = one_video
    del entry['annotations'][0]['label']
    with pytest.raises(AnnotationError, match=rf'video {video}: annotations\[0\] has no "label"'):
        build_anet(write(entry), tiny_anet['features'])


def test_segment_past_duration_is_clipped_and_counted(one_video, tiny_anet, warnings_log):
    entry, video, write, _ = one_video
    duration = entry['duration_second']
    entry['annotations'] = [dict(segment=[duration - 2, duration + 30], label='a')]
    dataset = build_anet(write(entry), tiny_anet['features'])
    bbox = dataset[0]['data_samples'].gt_instances.gt_bbox
    assert float(bbox[0, 1]) == 1.0 and float(bbox[0, 0]) < 1.0  # clipped to the video end
    assert any(f"1 segment(s) ending after duration_second clipped to the video (videos "
               f"['{video}'])" in m for m in warnings_log), warnings_log


@pytest.mark.parametrize('segment, kind', [
    ('zero', 'zero-length segment(s) dropped'),
    ('after', 'segment(s) starting at or after duration_second dropped'),
])
def test_unusable_segment_is_dropped_and_counted(one_video, tiny_anet, warnings_log, segment,
                                                 kind):
    entry, video, write, _ = one_video
    duration = entry['duration_second']
    good = entry['annotations'][0]
    bad = [3.0, 3.0] if segment == 'zero' else [duration + 1, duration + 5]
    entry['annotations'] = [dict(segment=bad, label='a'), good]
    dataset = build_anet(write(entry), tiny_anet['features'])
    assert dataset.get_data_info(0)['annotations'] == [good]
    assert dataset[0]['data_samples'].gt_instances.gt_bbox.shape == (1, 2)
    assert any(f"1 {kind} (videos ['{video}'])" in m for m in warnings_log), warnings_log
    # a training video left with no usable segment is skipped like an unannotated one
    entry['annotations'] = [dict(segment=bad, label='a')]
    with pytest.raises(AnnotationError, match='no usable video'):
        build_anet(write(entry), tiny_anet['features'])


def test_empty_subset(tiny_anet, tmp_path):
    """Official layout, a subset no video belongs to: the dataset and the metric both say so."""
    anno = json.load(open(tiny_anet['val']))
    official = {'database': {k[2:]: dict(subset='validation', duration=v['duration_second'],
                                         annotations=v['annotations']) for k, v in anno.items()}}
    path = str(tmp_path / 'official.json')
    Path(path).write_text(json.dumps(official))
    with pytest.raises(AnnotationError, match=rf"'{path}': no video of subset 'testing'"):
        DATASETS.build(dict(type='ThumosWindowDataset', ann_file=path, subset='testing', fps=30.,
                            data_prefix=dict(feature=tiny_anet['features'])))
    metric = METRICS.build(dict(type='TALDetectionMetric', ann_file=path, subset='testing'))
    metric.process(None, [dict(video_name=next(iter(anno)),
                               proposal_list=[dict(score=1.0, segment=[0.0, 1.0])])])
    with pytest.raises(ValueError, match=rf'{path}: no ground-truth instance in the evaluated '
                                         'subset'):
        metric.compute_metrics(metric.results)


def test_unknown_label(tiny_anet, tmp_path):
    """A class from the classifier file that no ground-truth instance has (a renamed class)."""
    anno = json.load(open(tiny_anet['val']))
    classifier = json.load(open(tiny_anet['classifier']))
    classifier['class'] = ['Renamed class'] + classifier['class'][1:]
    path = tmp_path / 'classifier.json'
    path.write_text(json.dumps(classifier))
    metric = METRICS.build(dict(type='TALDetectionMetric', ann_file=tiny_anet['val'],
                                classifier_file=str(path), top_k_classes=3))
    for video in anno:
        metric.process(None, [dict(video_name=video,
                                   proposal_list=[dict(score=1.0, segment=[0.0, 1.0])])])
    with pytest.raises(UnknownLabelError, match=r"video 'v_demo\d+': predicted label 'Renamed "
                                                r"class' is not a ground-truth class of subset"):
        metric.compute_metrics(metric.results)


# ------------------------------------------------------------------------------------ configs
BMN = dict(type='BMN', temporal_dim=16, feat_dim=32, num_samples=4, num_samples_per_bin=3,
           boundary_ratio=0.5,
           soft_nms_alpha=0.4, soft_nms_low_threshold=0.5, soft_nms_high_threshold=0.9,
           post_process_top_k=100, hidden_dim_1d=16, hidden_dim_2d=16, hidden_dim_3d=16)


@pytest.mark.parametrize('neck, localizer, name', [
    (dict(type='Sola', in_channels=32), BMN, 'Sola'),
    (None, dict(BMN, type='GTADD'), 'GTADD'),
], ids=['unknown_neck', 'unknown_localizer'])
def test_unknown_model_type(neck, localizer, name):
    with pytest.raises(KeyError, match=rf'{name} is not in the mmaction::model registry'):
        MODELS.build(dict(type='NeckLocalizer', neck=neck, localizer=localizer))


def test_sola_config_without_stage1_source(tmp_path):
    """A SoLa neck, no stage-1 checkpoint and no stage-1 config: the hook names both keys."""
    from types import SimpleNamespace
    from sola_mm.engine.hooks import SoLaStage1Hook
    model = MODELS.build(dict(type='NeckLocalizer', neck=dict(type='SoLa', in_channels=32,
                                                              hidden_channels=8), localizer=BMN))
    runner = SimpleNamespace(model=model, cfg=dict(sola_stage1=dict(checkpoint=None)),
                             work_dir=str(tmp_path), logger=MMLogger.get_current_instance())
    with pytest.raises(ValueError, match=r'`sola_stage1.config` \(the stage-1 config file\) is '
                                         r'required when `sola_stage1.checkpoint` is not set'):
        SoLaStage1Hook().before_train(runner)


# -------------------------------------------------------------------------------- checkpoints
@pytest.fixture
def sola_checkpoint(tmp_path):
    neck = MODELS.build(dict(type='SoLa', in_channels=32, hidden_channels=8))
    path = str(tmp_path / 'sola.pth')
    torch.save(dict(meta=dict(epoch=1), state_dict={f'neck.{k}': v
                                                    for k, v in neck.state_dict().items()}), path)
    return path


def test_checkpoint_missing(tmp_path):
    with pytest.raises(CheckpointError, match=r"checkpoint '.*nothere.pth' does not exist"):
        load_checkpoint_file(str(tmp_path / 'nothere.pth'))


def test_checkpoint_truncated(sola_checkpoint):
    data = Path(sola_checkpoint).read_bytes()
    Path(sola_checkpoint).write_bytes(data[:len(data) // 2])
    with pytest.raises(CheckpointError, match=rf"'{sola_checkpoint}' could not be loaded safely "
                                              r'\(truncated, corrupt'):
        load_checkpoint_file(sola_checkpoint)
    neck = MODELS.build(dict(type='SoLa', in_channels=32, hidden_channels=8))
    with pytest.raises(CheckpointError, match='truncated'):
        neck.load_pretrained(sola_checkpoint)


def test_checkpoint_not_a_dict(tmp_path):
    path = str(tmp_path / 'tensor.pth')
    torch.save(torch.zeros(3), path)
    with pytest.raises(CheckpointError, match=r"holds a Tensor, expected a dict"):
        load_checkpoint_file(path)


def test_checkpoint_of_another_model(tmp_path):
    """A BMN checkpoint handed to the SoLa neck (sola_stage1.checkpoint pointing at stage 2)."""
    bmn = MODELS.build(BMN)
    path = str(tmp_path / 'bmn.pth')
    torch.save(dict(state_dict=bmn.state_dict()), path)
    neck = MODELS.build(dict(type='SoLa', in_channels=32, hidden_channels=8))
    with pytest.raises(CheckpointError, match=rf"'{path}' holds no complete SoLa state.*another "
                                              'model'):
        neck.load_pretrained(path)


def test_checkpoint_with_other_widths(sola_checkpoint):
    """The right model, trained with another hidden width than the config's."""
    neck = MODELS.build(dict(type='SoLa', in_channels=32, hidden_channels=16))
    with pytest.raises(CheckpointError, match=r'neck\.conv1\.weight has shape \[8, 32, 5\], the '
                                              r'SoLa in the config expects \[16, 32, 5\]'):
        neck.load_pretrained(sola_checkpoint)
