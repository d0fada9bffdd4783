"""ActionFormer's data rules as pipeline transforms (official ``libs/datasets/thumos14.py``,
``anet.py``, ``data_utils.truncate_feats``; oracle facts 1-5).

A whole video's features ``raw_feature [C, L]`` (``LoadTALFeature`` without ``temporal_scale``)
and its ``annotations`` (seconds, class names) become what ActionFormer trains on:

* :class:`ActionFormerGrid`: ground truth seconds -> feature grid
  ``sec * fps / feat_stride - 0.5 * num_frames / feat_stride`` in **float32** (the official
  dataset's arithmetic), labels as class indices, and the per-video ``feat_stride``,
  ``feat_num_frames``, ``feat_offset``, ``fps``, ``duration`` that post-processing needs. With
  ``force_upsampling`` (ActivityNet) the features are resized to ``max_seq_len`` (``F.interpolate``,
  linear, ``align_corners=False``, float32, only when ``L != max_seq_len``) and ``feat_stride' =
  ((L - 1) * feat_stride + num_frames) / max_seq_len = num_frames'``, so the offset is 0.5.
  ActivityNet options: ``remove_duplicates`` (official ``remove_duplicate_annotations``) and, for
  training, ``outside_trunc_thresh`` (the official ``vid_len`` filter).
* :class:`ActionFormerTruncate` (training): the official random truncation / crop with Python's
  ``random`` module (the same draws in the same order, so ``random.seed`` reproduces the official
  crops).

Output keys: ``raw_feature`` float32 ``[C, T]``, ``gt_segments`` float32 ``[N, 2]`` (grid units),
``gt_labels`` int64 ``[N]``, ``fps``, ``duration``, ``feat_stride``, ``feat_num_frames``,
``feat_offset``. Pack them with ``PackLocalizationInputs(keys=('gt_segments', 'gt_labels'),
meta_keys=ACTIONFORMER_META_KEYS)``; the model pads and masks the batch itself.
"""
from __future__ import annotations

import random
from typing import List, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from mmcv.transforms import BaseTransform

from mmaction.registry import TRANSFORMS
from sola_mm.evaluation.functional.classifier import resolve_class_names

__all__ = ['ActionFormerGrid', 'ActionFormerTruncate', 'ACTIONFORMER_META_KEYS',
           'remove_duplicate_annotations', 'truncate_feats']

#: metainfo ActionFormer's loss and post-processing read (plus what the metric uses)
ACTIONFORMER_META_KEYS = ('video_name', 'fps', 'duration', 'duration_second', 'feat_stride',
                          'feat_num_frames', 'feat_offset', 'annotations')


def remove_duplicate_annotations(annotations: Sequence[dict], tol: float = 1e-3) -> List[dict]:
    """ActivityNet rule: drop segments shorter than ``tol`` seconds, and later segments whose
    start and end are both within ``tol`` of a kept one with the same label."""
    kept: List[dict] = []
    for ann in annotations:
        start, end = float(ann['segment'][0]), float(ann['segment'][1])
        valid = (end - start) >= tol
        for prev in kept:
            if (abs(start - float(prev['segment'][0])) <= tol
                    and abs(end - float(prev['segment'][1])) <= tol
                    and ann['label'] == prev['label']):
                valid = False
                break
        if valid:
            kept.append(ann)
    return kept


def _video(results: dict) -> str:
    return str(results.get('video_name', '?'))


@TRANSFORMS.register_module()
class ActionFormerGrid(BaseTransform):
    """Seconds -> feature grid, labels and per-video feature geometry (module docstring).

    Args:
        feat_stride: frames between consecutive features (THUMOS I3D 4, ANet TSP 16); ``<= 0``
            means fixed-length features: ``feat_stride = duration * fps / L`` (official case 3).
        num_frames: frames per feature clip (16).
        default_fps: fps used for every video (ANet 15); None: the dataset's ``fps`` per video.
        downsample_rate: keep every k-th feature and multiply ``feat_stride`` by k (not with
            ``force_upsampling``, as officially).
        max_seq_len: resize length with ``force_upsampling``.
        force_upsampling: resize every video to ``max_seq_len`` (ActivityNet).
        classes: class names (list, or a file: JSON list / text / CSV with header) -> index by
            position; ``'thumos14'``: the 20 THUMOS-14 classes in the official ``label_id``
            order (alphabetical, = ascending UCF101 index). Not needed when
            ``num_classes == 1`` (every label 0, official ANet).
        num_classes: 1 for ActivityNet (class-agnostic), else ``len(classes)``.
        remove_duplicates: ActivityNet's ``remove_duplicate_annotations`` (first, in seconds).
        outside_trunc_thresh: ActivityNet training only: ground truth starting at or after
            ``vid_len = T + offset`` is dropped, and so is ground truth with less than this
            fraction inside ``[.., vid_len]``; ends are clamped to ``vid_len`` (official 0.5).
        missing_duration: ``duration`` when the sample has none (official THUMOS: 1e8).
        resize_features: with ``force_upsampling``, False leaves ``raw_feature`` at its native
            length while everything else (geometry, ground truth, filters) is computed for the
            ``max_seq_len`` grid: for SoLa on the native video, the model resizes (and crops)
            after the neck.
    """

    def __init__(self, feat_stride: float, num_frames: float, default_fps: Optional[float] = None,
                 downsample_rate: int = 1, max_seq_len: Optional[int] = None,
                 force_upsampling: bool = False, classes=None, num_classes: Optional[int] = None,
                 remove_duplicates: bool = False, outside_trunc_thresh: Optional[float] = None,
                 missing_duration: float = 1e8, resize_features: bool = True) -> None:
        if int(downsample_rate) < 1:
            raise ValueError(f'ActionFormerGrid: downsample_rate must be >= 1, got '
                             f'{downsample_rate}')
        if force_upsampling and not max_seq_len:
            raise ValueError('ActionFormerGrid: force_upsampling needs max_seq_len')
        self.classes = resolve_class_names(classes)
        if num_classes is None:
            if self.classes is None:
                raise ValueError('ActionFormerGrid: give classes (names) or num_classes=1')
            num_classes = len(self.classes)
        if num_classes != 1 and (self.classes is None or len(self.classes) != num_classes):
            given = None if self.classes is None else len(self.classes)
            raise ValueError(f'ActionFormerGrid: num_classes={num_classes} needs that many class '
                             f'names in classes, got {given}')
        self.index = None if self.classes is None else {c: i for i, c in enumerate(self.classes)}
        self.feat_stride = feat_stride
        self.num_frames = num_frames
        self.default_fps = default_fps
        self.downsample_rate = int(downsample_rate)
        self.max_seq_len = max_seq_len
        self.force_upsampling = force_upsampling
        self.num_classes = int(num_classes)
        self.remove_duplicates = remove_duplicates
        self.outside_trunc_thresh = outside_trunc_thresh
        self.missing_duration = missing_duration
        self.resize_features = resize_features

    def _labels(self, annotations: Sequence[dict], video: str) -> np.ndarray:
        if self.num_classes == 1:
            return np.zeros(len(annotations), dtype=np.int64)
        labels = []
        for ann in annotations:
            name = str(ann['label'])
            if name not in self.index:
                raise KeyError(f'ActionFormerGrid: video {video}: annotation label {name!r} is '
                               f'not one of the {len(self.classes)} classes')
            labels.append(self.index[name])
        return np.asarray(labels, dtype=np.int64)

    def _geometry(self, results: dict, feats: np.ndarray, fps: float):
        """``(features [C, T], feat_stride, num_frames)`` after downsampling / resizing."""
        length = feats.shape[1]
        if self.feat_stride > 0 and not self.force_upsampling:
            feats = feats[:, ::self.downsample_rate]
            return feats, self.feat_stride * self.downsample_rate, self.num_frames
        if self.feat_stride > 0:
            stride = float((length - 1) * self.feat_stride + self.num_frames) / self.max_seq_len
        else:
            seq_len = self.max_seq_len if self.force_upsampling else length
            if self.max_seq_len and length > self.max_seq_len:
                raise ValueError(f'ActionFormerGrid: video {_video(results)}: fixed-length '
                                 f'features have {length} > max_seq_len {self.max_seq_len}')
            stride = self._duration(results) * fps / seq_len
        if self.force_upsampling and length != self.max_seq_len and self.resize_features:
            x = torch.from_numpy(np.ascontiguousarray(feats, dtype=np.float32))[None]
            feats = F.interpolate(x, size=self.max_seq_len, mode='linear',
                                  align_corners=False)[0].numpy()
        return feats, stride, stride

    def _duration(self, results: dict) -> float:
        for key in ('duration', 'duration_second'):
            if results.get(key) is not None:
                return float(results[key])
        return float(self.missing_duration)

    def transform(self, results: dict) -> dict:
        video = _video(results)
        if 'raw_feature' not in results:
            raise KeyError(f'ActionFormerGrid: video {video}: no raw_feature (put LoadTALFeature '
                           'first)')
        fps = self.default_fps if self.default_fps is not None else results.get('fps')
        if fps is None:
            raise KeyError(f'ActionFormerGrid: video {video}: no fps in the sample; set '
                           'default_fps')
        fps = float(fps)
        feats, stride, num_frames = self._geometry(results, np.asarray(results['raw_feature']),
                                                   fps)
        offset = 0.5 * num_frames / stride
        annotations = list(results.get('annotations') or [])
        if self.remove_duplicates:
            annotations = remove_duplicate_annotations(annotations)
        seconds = np.asarray([a['segment'] for a in annotations],
                             dtype=np.float32).reshape(-1, 2)
        # float32 arithmetic, operation by operation, as the official dataset
        segments = seconds * fps / stride - offset
        labels = self._labels(annotations, video)
        if self.outside_trunc_thresh is not None:
            grid_len = self.max_seq_len if self.force_upsampling else feats.shape[1]
            segments, labels = self._drop_outside(segments, labels, grid_len + offset)
        results.update(raw_feature=feats, gt_segments=segments.astype(np.float32),
                       gt_labels=labels, fps=fps, duration=self._duration(results),
                       feat_stride=stride, feat_num_frames=num_frames, feat_offset=offset)
        return results

    def _drop_outside(self, segments: np.ndarray, labels: np.ndarray, vid_len: float):
        """The official ANet training filter against the end of the feature map."""
        seg = torch.from_numpy(segments)
        keep_seg, keep_lab = [], []
        for s, lab in zip(seg, labels):
            if s[0] >= vid_len:
                continue
            start, end = s[0].item(), s[1].item()
            if end <= start:  # the official division would fail; nothing to train on
                continue
            if (min(end, vid_len) - start) / (end - start) >= self.outside_trunc_thresh:
                keep_seg.append(s.clamp(max=vid_len))
                keep_lab.append(lab)
        if not keep_seg:
            return np.zeros((0, 2), np.float32), np.zeros(0, np.int64)
        return torch.stack(keep_seg).numpy(), np.asarray(keep_lab, dtype=np.int64)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(feat_stride={self.feat_stride}, num_frames='
                f'{self.num_frames}, default_fps={self.default_fps}, downsample_rate='
                f'{self.downsample_rate}, max_seq_len={self.max_seq_len}, force_upsampling='
                f'{self.force_upsampling}, num_classes={self.num_classes})')


def truncate_feats(feats: np.ndarray, segments: np.ndarray, labels: np.ndarray,
                   max_seq_len: int, trunc_thresh: float, offset: float,
                   crop_ratio: Optional[Sequence[float]] = None, max_num_trials: int = 200,
                   has_action: bool = True, no_trunc: bool = False,
                   rng: Optional[random.Random] = None):
    """The official random truncation / crop (oracle fact 5).

    ``feats [C, L]``, ``segments [N, 2]`` float32 grid units, ``labels [N]``. Returns the same
    three after the window ``[st, st + len)``: ground truth clipped to the window widened by
    ``offset``, kept iff the clipped fraction is ``>= trunc_thresh``, shifted by ``-st``. Draws
    come from ``rng`` (default: the ``random`` module, as officially).
    """
    draw = (rng or random).randint
    feat_len = feats.shape[1]
    if feat_len <= max_seq_len:
        if crop_ratio is None:
            return feats, segments, labels
        max_seq_len = draw(max(round(crop_ratio[0] * feat_len), 1),
                           min(round(crop_ratio[1] * feat_len), feat_len))
        if max_seq_len == feat_len:
            return feats, segments, labels
    seg = torch.from_numpy(np.ascontiguousarray(segments, dtype=np.float32)).reshape(-1, 2)
    area = torch.abs(seg[:, 1] - seg[:, 0])
    for _ in range(max_num_trials):
        st = draw(0, feat_len - max_seq_len)
        window = torch.as_tensor([st, st + max_seq_len], dtype=torch.float32)
        left = torch.maximum(window[0] - offset, seg[:, 0])
        right = torch.minimum(window[1] + offset, seg[:, 1])
        ratio = (right - left).clamp(min=0) / area
        keep = ratio >= trunc_thresh
        if no_trunc:
            if keep.any() and not ((ratio > 0.0) & (ratio < 1.0)).any():
                break
        elif not has_action or keep.any():
            break
    out = torch.stack((left[keep], right[keep]), dim=1) - st
    return (np.ascontiguousarray(feats[:, st:st + max_seq_len]), out.numpy(),
            np.asarray(labels)[keep.numpy()])


@TRANSFORMS.register_module()
class ActionFormerTruncate(BaseTransform):
    """Training crop (official ``truncate_feats``, after :class:`ActionFormerGrid`).

    Args:
        max_seq_len: longer videos get a random window of this length (THUMOS 2304).
        trunc_thresh: a ground truth is kept iff at least this fraction lies in the window
            widened by ``feat_offset`` on both sides (0.5).
        crop_ratio: shorter videos get a random crop of ``randint(round(r0 L), round(r1 L))``
            features ([0.9, 1.0]); None: left as they are.
        max_num_trials, has_action, no_trunc: official retry rule (up to 200 windows until one
            keeps a ground truth).
    """

    def __init__(self, max_seq_len: int, trunc_thresh: float = 0.5,
                 crop_ratio: Optional[Sequence[float]] = None, max_num_trials: int = 200,
                 has_action: bool = True, no_trunc: bool = False) -> None:
        if crop_ratio is not None and len(crop_ratio) != 2:
            raise ValueError(f'ActionFormerTruncate: crop_ratio must be (low, high), got '
                             f'{crop_ratio}')
        self.max_seq_len = int(max_seq_len)
        self.trunc_thresh = trunc_thresh
        self.crop_ratio = None if crop_ratio is None else tuple(crop_ratio)
        self.max_num_trials = max_num_trials
        self.has_action = has_action
        self.no_trunc = no_trunc

    def transform(self, results: dict) -> dict:
        missing = [k for k in ('raw_feature', 'gt_segments', 'gt_labels', 'feat_offset')
                   if k not in results]
        if missing:
            raise KeyError(f'ActionFormerTruncate: video {_video(results)}: missing {missing} '
                           '(put ActionFormerGrid first)')
        feats, segs, labels = truncate_feats(
            np.asarray(results['raw_feature']), results['gt_segments'], results['gt_labels'],
            self.max_seq_len, self.trunc_thresh, results['feat_offset'], self.crop_ratio,
            self.max_num_trials, self.has_action, self.no_trunc)
        results.update(raw_feature=feats, gt_segments=segs, gt_labels=labels)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(max_seq_len={self.max_seq_len}, trunc_thresh='
                f'{self.trunc_thresh}, crop_ratio={self.crop_ratio})')
