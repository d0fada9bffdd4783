"""Full-length per-video features of two annotation files, for the linear probe during stage 1.

The probe is fitted on the videos of ``train_ann_file`` and scored on those of ``ann_file`` (the
validation file). Each item is one whole video (no windowing) with ``probe_split`` (``'train'`` or
``'val'``) and the annotation fields the labels need in its metainfo; the model's ``predict``
(``SoLaPretrainer``) returns the SoLa output per video and ``LinearProbeMetric`` does the rest.
"""
from __future__ import annotations

import os.path as osp
from typing import Callable, List, Optional, Sequence, Union

import numpy as np

from mmaction.registry import DATASETS
from .anet_feature_dataset import ANetFeatureDataset

PROBE_META_KEYS = ('video_name', 'probe_split', 'duration_second', 'duration_frame',
                   'feature_frame', 'annotations')


@DATASETS.register_module()
class LinearProbeDataset(ANetFeatureDataset):
    """Whole videos of ``train_ann_file`` (probe fitting) and ``ann_file`` (probe scoring).

    Args:
        ann_file: annotation JSON of the videos the probe is scored on (validation split).
        train_ann_file: annotation JSON of the videos the probe is fitted on.
        data_prefix: ``dict(feature=<folder>)``; files ``<video_name><feature_ext>``.
        train_data_prefix: the same for the ``train_ann_file`` videos when they live elsewhere
            (HACS: ``training/`` and ``validation/`` folders); None: ``data_prefix``.
        video_list, train_video_list: text files with one video name per line: only those videos
            of ``ann_file`` / ``train_ann_file`` are probed (the authors' HACS subset lists,
            ``configs/_base_/datasets/hacs_probe/``); a listed video missing from the annotation
            file is an error naming both files. None: every video.
        feature_ext: ``'.npy'`` or ``'.csv'``.
        feat_dim: expected width (checked); temporal_scale: resize every video to this many
            snippets (as the stage-2 pipeline does), None keeps the native length.
        max_videos: at most this many videos per split (evenly spaced, deterministic); None: all.
        pipeline: default loads the features and packs them with ``PROBE_META_KEYS``.
    """

    def __init__(self,
                 ann_file: str,
                 train_ann_file: str,
                 data_prefix: Optional[dict] = None,
                 feature_ext: str = '.npy',
                 feat_dim: Optional[int] = None,
                 temporal_scale: Optional[int] = None,
                 max_videos: Optional[int] = None,
                 pipeline: Optional[Sequence[Union[dict, Callable]]] = None,
                 test_mode: bool = True,
                 train_data_prefix: Optional[dict] = None,
                 video_list: Optional[str] = None,
                 train_video_list: Optional[str] = None,
                 **kwargs) -> None:
        self.train_ann_file = train_ann_file
        self.max_videos = max_videos
        self.train_data_prefix = train_data_prefix
        self.video_list = video_list
        self.train_video_list = train_video_list
        if pipeline is None:
            pipeline = [dict(type='LoadTALFeature', feat_dim=feat_dim,
                             temporal_scale=temporal_scale),
                        dict(type='PackLocalizationInputs', keys=(), meta_keys=PROBE_META_KEYS)]
        super().__init__(ann_file=ann_file, pipeline=pipeline, data_prefix=data_prefix,
                         feature_ext=feature_ext, test_mode=True, **kwargs)

    def _split(self, ann_file: str, split: str, data_prefix: Optional[dict] = None,
               video_list: Optional[str] = None) -> List[dict]:
        saved = self.ann_file, self.data_prefix
        self.ann_file = ann_file
        if data_prefix is not None:
            self.data_prefix = dict(data_prefix)
        try:
            entries = super().load_data_list()
        finally:
            self.ann_file, self.data_prefix = saved
        if video_list:
            entries = _keep_listed(entries, video_list, ann_file)
        if self.max_videos and len(entries) > self.max_videos:
            keep = np.linspace(0, len(entries) - 1, self.max_videos).round().astype(int)
            entries = [entries[i] for i in keep]
        for entry in entries:
            entry['probe_split'] = split
        return entries

    def load_data_list(self) -> List[dict]:
        train_ann = self.train_ann_file
        train_prefix = self.train_data_prefix
        root = self.data_root
        if root and not train_ann.startswith('/'):
            train_ann = osp.join(root, train_ann)
        if root and train_prefix and not train_prefix.get('feature', '').startswith('/'):
            train_prefix = dict(train_prefix, feature=osp.join(root, train_prefix['feature']))
        return (self._split(train_ann, 'train', train_prefix, self.train_video_list)
                + self._split(self.ann_file, 'val', None, self.video_list))


def read_video_list(path: str) -> List[str]:
    """Video names, one per line (blank lines and ``#`` comments skipped), in file order."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'video list {path!r} does not exist')
    with open(path) as f:
        names = [line.split('#', 1)[0].strip() for line in f]
    names = [n for n in names if n]
    if not names:
        raise ValueError(f'video list {path!r} names no video')
    return names


def _keep_listed(entries: List[dict], video_list: str, ann_file: str) -> List[dict]:
    """The entries named in ``video_list``, in the list's order."""
    by_name = {e['video_name']: e for e in entries}
    names = read_video_list(video_list)
    absent = [n for n in names if n not in by_name]
    if absent:
        raise ValueError(f'video list {video_list!r}: {len(absent)} of {len(names)} videos are not '
                         f'in {ann_file!r} (or have no features), e.g. {absent[:3]}')
    return [by_name[n] for n in dict.fromkeys(names)]
