"""Full-length per-video features of two annotation files, for the linear probe during stage 1.

The probe is fitted on the videos of ``train_ann_file`` and scored on those of ``ann_file`` (the
validation file). Each item is one whole video (no windowing) with ``probe_split`` (``'train'`` or
``'val'``) and the annotation fields the labels need in its metainfo; the model's ``predict``
(``SoLaPretrainer``) returns the SoLa output per video and ``LinearProbeMetric`` does the rest.
"""
from __future__ import annotations

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
                 **kwargs) -> None:
        self.train_ann_file = train_ann_file
        self.max_videos = max_videos
        if pipeline is None:
            pipeline = [dict(type='LoadTALFeature', feat_dim=feat_dim,
                             temporal_scale=temporal_scale),
                        dict(type='PackLocalizationInputs', keys=(), meta_keys=PROBE_META_KEYS)]
        super().__init__(ann_file=ann_file, pipeline=pipeline, data_prefix=data_prefix,
                         feature_ext=feature_ext, test_mode=True, **kwargs)

    def _split(self, ann_file: str, split: str) -> List[dict]:
        saved = self.ann_file
        self.ann_file = ann_file
        try:
            entries = super().load_data_list()
        finally:
            self.ann_file = saved
        if self.max_videos and len(entries) > self.max_videos:
            keep = np.linspace(0, len(entries) - 1, self.max_videos).round().astype(int)
            entries = [entries[i] for i in keep]
        for entry in entries:
            entry['probe_split'] = split
        return entries

    def load_data_list(self) -> List[dict]:
        train_ann = self.train_ann_file
        root = self.data_root
        if root and not train_ann.startswith('/'):
            import os.path as osp
            train_ann = osp.join(root, train_ann)
        return self._split(train_ann, 'train') + self._split(self.ann_file, 'val')
