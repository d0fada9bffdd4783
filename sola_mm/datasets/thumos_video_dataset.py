"""THUMOS-14 (and custom long-video) features one whole video per item, as ActionFormer reads them.

Same annotation sources, feature formats, checks and metainfo as :class:`ThumosWindowDataset`
(official CSVs + ``video_info_file``, or an ActivityNet-style JSON with ``fps``), but no sliding
windows: each item is the whole video at its native length (``LoadTALFeature`` reads every
snippet, no padding), with ``video_name, fps, num_frames, duration_second, num_snippets,
annotations`` (seconds, class names) and ``gt_frames``. Training (``test_mode=False``) drops videos
without ground truth. ActionFormer's transforms (``ActionFormerGrid``, ``ActionFormerTruncate``)
then turn seconds into its feature grid and crop long videos.
"""
from __future__ import annotations

from mmaction.registry import DATASETS
from .thumos_window_dataset import ThumosWindowDataset

__all__ = ['ThumosVideoDataset']

#: a window longer than any video: the window dataset then yields one item per video at 0
_WHOLE_VIDEO = 2**31 - 1


@DATASETS.register_module()
class ThumosVideoDataset(ThumosWindowDataset):
    """Whole-video items over :class:`ThumosWindowDataset`'s annotations and features.

    Args:
        snippet_stride: frames between consecutive features (ActionFormer THUMOS I3D: 4); used
            for the feature-length check against the video's frame count.
        Other arguments: see :class:`ThumosWindowDataset` (no ``window_size`` /
        ``window_stride`` / ``ioa_threshold`` / ``tail_min_snippets``).
    """

    def __init__(self, ann_file: str, snippet_stride: float = 4, **kwargs) -> None:
        for key in ('window_size', 'window_stride', 'ioa_threshold', 'tail_min_snippets'):
            if key in kwargs:
                raise TypeError(f'ThumosVideoDataset has no {key!r}: items are whole videos')
        super().__init__(ann_file, snippet_stride=snippet_stride, window_size=_WHOLE_VIDEO,
                         window_stride=_WHOLE_VIDEO, ioa_threshold=0.0, **kwargs)

    def _window_info(self, video_info: dict, s0: int, keep) -> dict:
        """The whole video (``keep`` is ignored: every ground truth belongs to it)."""
        info = {k: v for k, v in video_info.items() if k != 'gt_frames'}
        info.update(feature_stride=self.feature_stride, feature_key=self.feature_key,
                    gt_frames=video_info['gt_frames'].copy(),
                    gt_labels=[a['label'] for a in video_info['annotations']])
        return info
