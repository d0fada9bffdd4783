"""Feature loading transform: file(s) -> checked float32 ``raw_feature`` [C, T]."""
from __future__ import annotations

import os
from typing import Mapping, Optional

from mmcv.transforms import BaseTransform

from mmaction.registry import TRANSFORMS

from ..feature_io import load_video_features, resize_features, resolve_feature_paths


@TRANSFORMS.register_module()
class LoadTALFeature(BaseTransform):
    """Load ``results['feature_path']`` into ``results['raw_feature']`` ([C, T], MMAction2's
    layout), checking width and values, and resampling to ``temporal_scale`` snippets when set.

    ``feature_path`` may be one path or ``{stream: path}`` (concatenated on channels in that
    order). Sliding-window datasets add ``window_start_snippet`` and ``window_snippets``: only
    that window is read (after ``stride``) and zero-padded to ``window_snippets``; when they add
    ``feature_span`` ``[start, end)`` instead (``neck_input='native'``), that span is read as it is
    (the model cuts and pads the window after its neck). With ``neck_post`` in ``results``
    (``neck_input='native'``) the resize is left to the model too.

    Args:
        feat_dim: expected channel count (total over streams, checked); None to skip the check.
        temporal_scale: resample every video to this many snippets (ActivityNet: 100).
        fmt: file format; by default from the file extension.
        streams: ``{name: folder or shared file}`` overriding ``feature_path``: per stream the file
            is ``<folder>/<video_name><ext>`` (``ext`` from ``feature_path`` or ``ext``) or the
            shared file itself (then set ``key``). G-TAD's THUMOS order is flow, then rgb.
        stride: keep every k-th snippet (default 1; a dataset's ``feature_stride`` is used when
            the transform leaves it at None).
        key: array name in ``.npz``/``.h5`` files, ``'{video}'`` = the video name (shared files);
            default ``results['feature_key']`` if any, else None (one array per file).
        same_width, length_mismatch: stream checks (see ``feature_io.load_video_features``);
            ``length_mismatch=None`` takes ``results['length_mismatch']`` (set by the dataset),
            else ``'error'``.
        ext: feature file extension used with ``streams`` folders when ``feature_path`` is absent.
    """

    def __init__(self, feat_dim: Optional[int] = None, temporal_scale: Optional[int] = None,
                 fmt: Optional[str] = None, streams: Optional[Mapping[str, str]] = None,
                 stride: Optional[int] = None, key: Optional[str] = None,
                 same_width: bool = True, length_mismatch: Optional[str] = None,
                 ext: str = '.npy') -> None:
        if length_mismatch not in (None, 'error', 'truncate'):
            raise ValueError(f"LoadTALFeature: length_mismatch must be 'error' or 'truncate', "
                             f'got {length_mismatch!r}')
        if stride is not None and stride < 1:
            raise ValueError(f'LoadTALFeature: stride must be >= 1, got {stride}')
        self.feat_dim = feat_dim
        self.temporal_scale = temporal_scale
        self.fmt = fmt
        self.streams = dict(streams) if streams else None
        self.stride = stride
        self.key = key
        self.same_width = same_width
        self.length_mismatch = length_mismatch
        self.ext = ext

    def _paths(self, results: dict):
        video = results.get('video_name', '')
        if not self.streams:
            return results['feature_path']
        ext = self.ext
        given = results.get('feature_path')
        if isinstance(given, str):
            ext = os.path.splitext(given)[1] or ext
        return resolve_feature_paths(video, streams=self.streams, ext=ext)

    def transform(self, results: dict) -> dict:
        window = None
        pad_to = None
        if results.get('feature_span') is not None:
            start, end = (int(v) for v in results['feature_span'])
            window = (start, end - start)
        elif results.get('window_snippets') is not None:
            window = (int(results['window_start_snippet']), int(results['window_snippets']))
            pad_to = window[1]
        stride = self.stride or int(results.get('feature_stride', 1))
        key = self.key if self.key is not None else results.get('feature_key')
        feats = load_video_features(
            self._paths(results), results.get('video_name', ''), key=key, stride=stride,
            fmt=self.fmt, feat_dim=self.feat_dim or results.get('feat_dim'), same_width=self.same_width,
            length_mismatch=self.length_mismatch or results.get('length_mismatch', 'error'),
            window=window, pad_to=pad_to)
        temporal_scale = self.temporal_scale or results.get('temporal_scale')
        post = results.get('neck_post')
        if post is not None and temporal_scale:  # neck_input='native': the model resizes
            if post.get('resize') != temporal_scale:
                raise ValueError(f'LoadTALFeature (video {results.get("video_name")}): '
                                 f'temporal_scale={temporal_scale}, but the dataset defers '
                                 f'{post} until after the neck; set temporal_scale on the dataset')
            temporal_scale = None
        if temporal_scale:
            feats = resize_features(feats, temporal_scale)
        # [T, C] -> [C, T] as a view, like MMAction2's LoadLocalizationFeature (np.transpose):
        # the batch stack makes it contiguous anyway, so a copy here would be a second one.
        # Read-only arrays (memory maps) are copied so that the sample owns writable memory.
        results['raw_feature'] = feats.T if feats.flags.writeable else feats.T.copy()
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(feat_dim={self.feat_dim}, '
                f'temporal_scale={self.temporal_scale}, fmt={self.fmt}, streams={self.streams}, '
                f'stride={self.stride}, key={self.key}, length_mismatch={self.length_mismatch})')
