"""ActivityNet-style feature dataset: MMAction2's annotation layout, features as .npy or CSV.

Annotation file (MMAction2 / BSN layout), one entry per video keyed ``v_<id>``::

    {"v_abc": {"duration_second": 82.7, "duration_frame": 2481, "feature_frame": 2480,
               "annotations": [{"segment": [3.1, 40.2], "label": "Long jump"}]}}

Feature files live in ``data_prefix['feature']`` as ``<video_name><feature_ext>``. The checks run
when the dataset is built, so a bad annotation or a missing file fails before training starts, with
the file, video and field in the message.
"""
from __future__ import annotations

import os
from typing import Callable, Dict, List, Optional, Sequence, Union

import mmengine
from mmengine.dataset import BaseDataset

from mmaction.registry import DATASETS


class AnnotationError(ValueError):
    """An annotation file or entry that cannot be used."""


REQUIRED_FIELDS = ('duration_second', 'duration_frame', 'annotations')


def load_anet_annotations(ann_file: str, require_annotations: bool = True) -> Dict[str, dict]:
    """Read and check an MMAction2-layout ActivityNet annotation file."""
    if not os.path.isfile(ann_file):
        raise AnnotationError(f'annotation file {ann_file!r} does not exist')
    try:
        database = mmengine.load(ann_file)
    except Exception as err:
        raise AnnotationError(f'annotation file {ann_file!r} could not be parsed: {err}') from err
    if isinstance(database, dict) and 'database' in database:
        database = database['database']
    if not isinstance(database, dict) or not database:
        raise AnnotationError(f'annotation file {ann_file!r}: expected a non-empty mapping '
                              '{video_name: {duration_second, duration_frame, annotations}}')
    fields = REQUIRED_FIELDS if require_annotations else REQUIRED_FIELDS[:2]
    for video, info in database.items():
        for field in fields:
            if field not in info:
                raise AnnotationError(f'annotation file {ann_file!r}, video {video}: missing field '
                                      f'{field!r}')
        if not info['duration_second'] > 0:
            raise AnnotationError(f'annotation file {ann_file!r}, video {video}: duration_second '
                                  f'must be > 0, got {info["duration_second"]}')
        for k, ann in enumerate(info.get('annotations', [])):
            segment = ann.get('segment')
            if (not isinstance(segment, (list, tuple)) or len(segment) != 2
                    or not all(isinstance(v, (int, float)) for v in segment)):
                raise AnnotationError(f'annotation file {ann_file!r}, video {video}: '
                                      f'annotations[{k}].segment must be [start, end] seconds, '
                                      f'got {segment!r}')
            if segment[1] < segment[0]:
                raise AnnotationError(f'annotation file {ann_file!r}, video {video}: '
                                      f'annotations[{k}].segment ends before it starts: {segment}')
            if 'label' not in ann:
                raise AnnotationError(f'annotation file {ann_file!r}, video {video}: '
                                      f'annotations[{k}] has no "label"')
    return database


@DATASETS.register_module()
class ANetFeatureDataset(BaseDataset):
    """Per-video features with ActivityNet annotations (MMAction2 layout).

    Args:
        ann_file: annotation JSON (see module docstring).
        pipeline: transforms, e.g. LoadTALFeature -> GenerateLocalizationLabels ->
            PackLocalizationInputs.
        data_prefix: ``dict(feature=<folder of feature files>)``.
        feature_ext: ``'.npy'`` or ``'.csv'`` (MMAction2's csv_mean_100 layout).
        skip_unannotated: drop training videos with no annotation instead of failing.
        feat_dim: expected feature width, checked by ``LoadTALFeature`` for every video.
        temporal_scale: snippets per video after resampling (ActivityNet: 100); None keeps the
            native length. Both live on the dataset (not in the pipeline) so that one
            ``--cfg-options train_dataloader.dataset.feat_dim=...`` changes them.
    """

    def __init__(self,
                 ann_file: str,
                 pipeline: Sequence[Union[dict, Callable]] = (),
                 data_prefix: Optional[dict] = None,
                 feature_ext: str = '.npy',
                 test_mode: bool = False,
                 skip_unannotated: bool = True,
                 feat_dim: Optional[int] = None,
                 temporal_scale: Optional[int] = None,
                 **kwargs) -> None:
        self.feat_dim = feat_dim
        self.temporal_scale = temporal_scale
        self.feature_ext = feature_ext if feature_ext.startswith('.') else '.' + feature_ext
        self.skip_unannotated = skip_unannotated
        super().__init__(ann_file=ann_file, pipeline=list(pipeline),
                         data_prefix=data_prefix or dict(feature=''), test_mode=test_mode, **kwargs)

    def feature_path(self, video_name: str) -> str:
        return os.path.join(self.data_prefix.get('feature', ''), video_name + self.feature_ext)

    def load_data_list(self) -> List[dict]:
        database = load_anet_annotations(self.ann_file)
        data_list, missing, skipped = [], [], 0
        for video_name, info in database.items():
            if not self.test_mode and self.skip_unannotated and not info['annotations']:
                skipped += 1
                continue
            path = self.feature_path(video_name)
            if not os.path.isfile(path):
                missing.append(path)
                continue
            entry = dict(info)
            entry.setdefault('feature_frame', info['duration_frame'])
            entry.update(video_name=video_name, feature_path=path, feat_dim=self.feat_dim,
                         temporal_scale=self.temporal_scale)
            data_list.append(entry)
        if missing:
            raise FileNotFoundError(
                f'{len(missing)} feature file(s) listed in {self.ann_file!r} are missing under '
                f'data_prefix.feature={self.data_prefix.get("feature")!r}, e.g. {missing[:3]}')
        if skipped:
            mmengine.print_log(f'{type(self).__name__}: skipped {skipped} video(s) without '
                               f'annotations in {self.ann_file}', logger='current')
        if not data_list:
            raise AnnotationError(f'annotation file {self.ann_file!r}: no usable video')
        return data_list
