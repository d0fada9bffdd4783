"""Feature loading transform: file -> checked float32 ``raw_feature`` [C, T]."""
from __future__ import annotations

from typing import Optional

from mmcv.transforms import BaseTransform

from mmaction.registry import TRANSFORMS

from ..feature_io import load_features, resize_features


@TRANSFORMS.register_module()
class LoadTALFeature(BaseTransform):
    """Load ``results['feature_path']`` into ``results['raw_feature']`` ([C, T], MMAction2's
    layout), checking width and values, and resampling to ``temporal_scale`` snippets when set.

    Args:
        feat_dim: expected channel count (checked); None to skip the check.
        temporal_scale: resample every video to this many snippets (ActivityNet: 100).
        fmt: file format; by default from the file extension.
    """

    def __init__(self, feat_dim: Optional[int] = None, temporal_scale: Optional[int] = None,
                 fmt: Optional[str] = None) -> None:
        self.feat_dim = feat_dim
        self.temporal_scale = temporal_scale
        self.fmt = fmt

    def transform(self, results: dict) -> dict:
        feats = load_features(results['feature_path'], self.fmt, results.get('video_name', ''),
                              self.feat_dim)
        if self.temporal_scale:
            feats = resize_features(feats, self.temporal_scale)
        results['raw_feature'] = feats.T.copy()
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(feat_dim={self.feat_dim}, '
                f'temporal_scale={self.temporal_scale}, fmt={self.fmt})')
