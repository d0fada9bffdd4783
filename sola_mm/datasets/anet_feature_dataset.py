"""ActivityNet-style feature dataset: MMAction2's annotation layout, features as .npy or CSV.

Annotation file (MMAction2 / BSN layout), one entry per video keyed ``v_<id>``::

    {"v_abc": {"duration_second": 82.7, "duration_frame": 2481, "feature_frame": 2480,
               "annotations": [{"segment": [3.1, 40.2], "label": "Long jump"}]}}

Feature files live in ``data_prefix['feature']`` as ``<video_name><feature_ext>`` (``.npy``,
``.csv``, ``.npz``, ``.h5``/``.hdf5``), or ``data_prefix['feature']`` is one shared ``.npz``/``.h5``
file keyed by video (``feature_key='{video}'``), or ``streams`` names several folders/files whose
features are concatenated on channels (e.g. RGB + flow); ``feature_stride`` keeps every k-th row
(see ``feature_io``). The checks run when the dataset is built, so a bad annotation or a missing
file fails before training starts, with the file, video and field in the message.
"""
from __future__ import annotations

import os
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Union

import mmengine
from mmengine.dataset import BaseDataset

from mmaction.registry import DATASETS
from .feature_io import resolve_feature_paths
from .native_input import NeckPostMixin, check_neck_input


class AnnotationError(ValueError):
    """An annotation file or entry that cannot be used."""


REQUIRED_FIELDS = ('duration_second', 'duration_frame', 'annotations')


def read_annotation_database(ann_file: str, expected: str) -> dict:
    """The ``{video: info}`` mapping of an ActivityNet-style JSON file (MMAction2 layout, or the
    official one with a ``database`` key); ``expected`` describes an entry for the error."""
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
                              f'{{video_name: {expected}}}')
    return database


def load_anet_annotations(ann_file: str, require_annotations: bool = True) -> Dict[str, dict]:
    """Read and check an MMAction2-layout ActivityNet annotation file."""
    database = read_annotation_database(
        ann_file, '{duration_second, duration_frame, annotations}')
    fields = REQUIRED_FIELDS if require_annotations else REQUIRED_FIELDS[:2]
    for video, info in database.items():
        for field in fields:
            if field not in info:
                raise AnnotationError(f'annotation file {ann_file!r}, video {video}: missing field '
                                      f'{field!r}')
        # the frame counts divide (corrected_second = feature_frame / duration_frame * seconds):
        # a zero or a string would fail only at the first iteration, without the file's name
        for field in ('duration_second', 'duration_frame', 'feature_frame'):
            if field not in info:
                continue
            value = info[field]
            if (isinstance(value, bool) or not isinstance(value, (int, float))
                    or not value > 0):
                raise AnnotationError(f'annotation file {ann_file!r}, video {video}: {field} '
                                      f'must be a number > 0, got {value!r}')
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


def _usable_segments(video: str, info: dict, bad: Dict[str, list]) -> list:
    """The annotations of ``video`` that can be training targets. Dropped (and recorded in
    ``bad``): zero-length segments and segments starting at or after ``duration_second`` (both
    give an empty box). Kept but recorded: segments ending after ``duration_second``, which
    ``GenerateLocalizationLabels`` clips to the video (MMAction2's and G-TAD's rule)."""
    kept = []
    duration = float(info['duration_second'])
    for ann in info.get('annotations', []):
        start, end = (float(v) for v in ann['segment'])
        if end <= start:
            bad['zero_length'].append(video)
        elif start >= duration:
            bad['after_end'].append(video)
        else:
            if end > duration:
                bad['clipped'].append(video)
            kept.append(ann)
    return kept


def _log_bad_segments(ann_file: str, bad: Dict[str, list]) -> None:
    """One warning per kind of unusable segment: how many, and a few of the videos."""
    what = dict(zero_length='zero-length segment(s) dropped',
                after_end='segment(s) starting at or after duration_second dropped',
                clipped='segment(s) ending after duration_second clipped to the video')
    for kind, videos in bad.items():
        if videos:
            mmengine.print_log(
                f'{ann_file}: {len(videos)} {what[kind]} (videos {sorted(set(videos))[:3]})',
                logger='current', level=30)


@DATASETS.register_module()
class ANetFeatureDataset(NeckPostMixin, BaseDataset):
    """Per-video features with ActivityNet annotations (MMAction2 layout).

    Args:
        ann_file: annotation JSON (see module docstring).
        pipeline: transforms, e.g. LoadTALFeature -> GenerateLocalizationLabels ->
            PackLocalizationInputs.
        data_prefix: ``dict(feature=<folder of feature files>)``.
        feature_ext: extension of per-video files: ``'.npy'``, ``'.csv'`` (MMAction2's
            csv_mean_100 layout), ``'.npz'``, ``'.h5'``.
        streams: ``{name: folder or shared file}`` concatenated on channels in this order
            (replaces ``data_prefix.feature``).
        feature_key: array name inside ``.npz``/``.h5`` files; ``'{video}'`` = the video name
            (shared files); None when each file holds one array.
        feature_stride: keep every k-th stored row (1: the features are at the snippet rate).
        skip_unannotated: drop training videos with no annotation instead of failing.
        feat_dim: expected feature width, checked by ``LoadTALFeature`` for every video.
        temporal_scale: snippets per video after resampling (ActivityNet: 100); None keeps the
            native length. Both live on the dataset (not in the pipeline) so that one
            ``--cfg-options train_dataloader.dataset.feat_dim=...`` changes them.
        neck_input: None: the features are resampled here; ``'native'`` (SoLa configs): they are
            handed over at native length and the model resamples after its neck (see
            ``native_input``).
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
                 streams: Optional[Mapping[str, str]] = None,
                 feature_key: Optional[str] = None,
                 feature_stride: int = 1,
                 neck_input: Optional[str] = None,
                 **kwargs) -> None:
        self.neck_input = check_neck_input(type(self).__name__, neck_input)
        if feature_stride < 1:
            raise ValueError(f'{type(self).__name__}: feature_stride must be >= 1, got '
                             f'{feature_stride}')
        self.streams = dict(streams) if streams else None
        self.feature_key = feature_key
        self.feature_stride = int(feature_stride)
        self.feat_dim = feat_dim
        self.temporal_scale = temporal_scale
        self.feature_ext = feature_ext if feature_ext.startswith('.') else '.' + feature_ext
        self.skip_unannotated = skip_unannotated
        super().__init__(ann_file=ann_file, pipeline=list(pipeline),
                         data_prefix=data_prefix or dict(feature=''), test_mode=test_mode, **kwargs)

    def _resize_after_neck(self) -> Optional[int]:
        """With ``neck_input='native'``: the ``temporal_scale`` the model resizes to after its neck,
        the loading transform's if it sets one (it wins there too), else the dataset's."""
        for step in getattr(self.pipeline, 'transforms', []):
            if getattr(step, 'temporal_scale', None):
                return step.temporal_scale
        return self.temporal_scale

    def feature_path(self, video_name: str) -> Union[str, Dict[str, str]]:
        """``<folder>/<video><ext>``, the shared file itself, or ``{stream: path}``."""
        return resolve_feature_paths(video_name, self.data_prefix.get('feature', ''),
                                     self.streams, self.feature_ext)

    def load_data_list(self) -> List[dict]:
        database = load_anet_annotations(self.ann_file)
        data_list, missing, skipped = [], [], 0
        resize = self._resize_after_neck() if self.neck_input == 'native' else None
        bad = dict(zero_length=[], after_end=[], clipped=[])
        for video_name, info in database.items():
            info = dict(info, annotations=_usable_segments(video_name, info, bad))
            if not self.test_mode and self.skip_unannotated and not info['annotations']:
                skipped += 1
                continue
            path = self.feature_path(video_name)
            absent = [p for p in ([path] if isinstance(path, str) else path.values())
                      if not os.path.isfile(p)]
            if absent:
                missing.extend(absent)
                continue
            entry = dict(info)
            entry.setdefault('feature_frame', info['duration_frame'])
            entry.update(video_name=video_name, feature_path=path, feat_dim=self.feat_dim,
                         temporal_scale=self.temporal_scale)
            if self.neck_input == 'native':  # the model resizes after the neck
                entry.update(temporal_scale=None, neck_post=dict(
                    resize=resize,
                    key=f'{path}|key={self.feature_key}|stride={self.feature_stride}'))
            if self.feature_key is not None:
                entry['feature_key'] = self.feature_key
            if self.feature_stride != 1:
                entry['feature_stride'] = self.feature_stride
            data_list.append(entry)
        if missing:
            raise FileNotFoundError(
                f'{len(missing)} feature file(s) listed in {self.ann_file!r} are missing under '
                f'data_prefix.feature={self.data_prefix.get("feature")!r}'
                + (f' / streams={self.streams}' if self.streams else '') + f', e.g. {missing[:3]}')
        _log_bad_segments(self.ann_file, bad)
        if skipped:
            mmengine.print_log(f'{type(self).__name__}: skipped {skipped} video(s) without '
                               f'annotations in {self.ann_file}', logger='current')
        if not data_list:
            raise AnnotationError(f'annotation file {self.ann_file!r}: no usable video')
        return data_list
