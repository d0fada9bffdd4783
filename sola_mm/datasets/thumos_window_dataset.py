"""THUMOS-14 (and custom long-video) sliding windows over snippet features, as G-TAD builds them.

Timeline (G-TAD ``master`` ``dataset.py``; oracle fact 13): after ``feature_stride`` (keep every
k-th stored row), snippet ``j`` of a video sits at frame ``snippet_stride * j`` (``skip_videoframes``
= 5 for THUMOS) and covers ``[frame - skip/2, frame + skip/2]``. A window is ``window_size`` (T)
consecutive snippets starting at snippet ``s0``:

* starts ``0, stride, 2*stride, ...`` while the window fits (``(L + stride - T) // stride`` of them);
* a video shorter than T gives one window at 0, zero-padded to T (padding snippets continue the
  frame grid);
* **tail**: when the last regular window leaves more than ``tail_min_snippets`` snippets uncovered,
  one more window starts at ``L - T``. The default 0 covers the whole video; G-TAD's rule is
  ``tail_min_snippets = T // skip`` (it leaves up to 51 snippets, about 8.5 s, unseen at T = 256);
* **training windows** (``test_mode=False``): IoA(GT, window) = overlap / GT length, with the
  window ``[frame(s0) - skip/2, frame(s0+T-1) + skip/2]``; a window keeps every GT with IoA > 0
  and is kept only if some GT has IoA > ``ioa_threshold`` (official 0.9). Test windows are all kept.

Ground truth:

* the official THUMOS CSVs (``test_Annotation.csv`` / ``val_Annotation.csv``: ``video, type,
  type_idx, start, end, startFrame, endFrame``; ``Ambiguous`` rows are dropped), with fps and
  frame counts from ``video_info_file`` (``thumos14_test_groundtruth.csv`` columns ``video-name,
  frame-rate, video-frames, video-duration``, or a CSV with ``video, fps, num_frames`` /
  ``numFrame``, ``duration_second`` / ``seconds``). Without an info row, fps is the median of
  ``startFrame / start`` over the video's rows and the frame count comes from the features
  (``L * snippet_stride``). Excluded videos (``exclude_videos``, e.g. ``video_test_0000270``)
  are dropped;
* or an ActivityNet-style JSON (custom data, see ``docs/custom_dataset.md``)::

    {"my_video": {"fps": 30.0, "num_frames": 9000, "duration_second": 300.0,
                  "annotations": [{"segment": [12.3, 20.0], "label": "Jump"}]}}

  (``num_frames`` may be ``duration_frame``; one of ``num_frames``/``duration_second`` suffices;
  ``fps`` defaults to the ``fps`` argument). The official ``{"database": ...}`` layout is read too,
  filtered by ``subset`` when given.

Each item is one window (docs/architecture.md data contract): ``LoadTALFeature`` reads only the
window (memory-mapped ``.npy``) and zero-pads it, so ``inputs`` is ``[C, T]``;
``gt_bbox`` is ``(gt_frame - frame(s0)) / (skip * T)`` clipped to [0, 1], and the metainfo holds
``video_name, window_start_snippet, window_snippets, snippet_stride, fps, num_frames,
duration_second, gt_frames`` (frames, the window's GTs), ``gt_labels`` and ``annotations`` (the
whole video's, seconds). A window's prediction at normalised ``x`` is at frame
``frame(s0) + x * skip * T``, i.e. ``window_to_seconds``.
"""
from __future__ import annotations

import csv
import os
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Union

import mmengine
import numpy as np
from mmengine.dataset import BaseDataset

from mmaction.registry import DATASETS, TRANSFORMS
from .anet_feature_dataset import AnnotationError, read_annotation_database
from .feature_io import FeatureError, resolve_feature_paths, video_feature_shape
from .native_input import NeckPostMixin, check_neck_input

__all__ = ['ThumosWindowDataset', 'load_thumos_annotations', 'load_json_annotations',
           'window_starts', 'window_ioa', 'window_to_seconds', 'THUMOS_EXCLUDED_TEST_VIDEOS']

#: test videos the THUMOS GT (thumos_gt.json) leaves out (wrong annotation / only Ambiguous).
THUMOS_EXCLUDED_TEST_VIDEOS = ('video_test_0000270', 'video_test_0001292', 'video_test_0001496')


# ------------------------------------------------------------------------------ pure helpers
def window_starts(num_snippets: int, window: int, stride: int,
                  tail_min_snippets: int = 0) -> List[int]:
    """First snippet of every window of a video with ``num_snippets`` snippets (see module doc)."""
    if window < 1 or stride < 1:
        raise ValueError(f'window and stride must be >= 1, got {window}, {stride}')
    if num_snippets <= window:
        return [0]
    count = (num_snippets + stride - window) // stride
    starts = [i * stride for i in range(count)]
    if num_snippets - starts[-1] - window > tail_min_snippets:
        starts.append(num_snippets - window)
    return starts


def window_ioa(gt_frames: np.ndarray, start_snippet: int, window: int, skip: float) -> np.ndarray:
    """IoA (overlap / GT length) of each GT ``[N, 2]`` (frames) with a window (G-TAD's
    ``ioa_with_anchors``). A zero-length GT gets 1 inside the window, else 0."""
    gt = np.asarray(gt_frames, dtype=np.float64).reshape(-1, 2)
    lo = skip * start_snippet - skip / 2.0
    hi = skip * (start_snippet + window - 1) + skip / 2.0
    inter = np.maximum(np.minimum(gt[:, 1], hi) - np.maximum(gt[:, 0], lo), 0.0)
    length = gt[:, 1] - gt[:, 0]
    inside = ((gt[:, 0] >= lo) & (gt[:, 1] <= hi)).astype(np.float64)
    with np.errstate(divide='ignore', invalid='ignore'):
        return np.where(length > 0, inter / np.where(length > 0, length, 1.0), inside)


def window_to_seconds(segments: np.ndarray, start_snippet: int, window: int, skip: float,
                      fps: float, num_frames: float) -> np.ndarray:
    """Window-normalised ``[N, 2]`` segments -> seconds in the video, clipped to [0, duration]."""
    seg = np.asarray(segments, dtype=np.float64).reshape(-1, 2)
    frames = skip * start_snippet + seg * (skip * window)
    return np.clip(frames, 0.0, float(num_frames)) / float(fps)


# ------------------------------------------------------------------------------ annotations
def _read_csv(path: str) -> List[dict]:
    if not os.path.isfile(path):
        raise AnnotationError(f'annotation file {path!r} does not exist')
    with open(path, newline='') as f:
        return [{k.strip(): (v or '').strip() for k, v in row.items() if k}
                for row in csv.DictReader(f)]


def _first(row: dict, names: Sequence[str]) -> Optional[str]:
    for name in names:
        if row.get(name, '') != '':
            return row[name]
    return None


def load_video_info(path: str) -> Dict[str, dict]:
    """``{video: {fps, num_frames, duration_second}}`` from a THUMOS ground-truth CSV
    (``thumos14_test_groundtruth.csv``) or a ``video, fps, num_frames`` CSV."""
    info: Dict[str, dict] = {}
    for k, row in enumerate(_read_csv(path)):
        video = _first(row, ('video-name', 'video', 'video_name'))
        if video is None:
            raise AnnotationError(f'video info file {path!r}, row {k + 2}: no video-name/video '
                                  'column')
        entry = {}
        for field, names in (('fps', ('frame-rate', 'fps')),
                             ('num_frames', ('video-frames', 'num_frames', 'numFrame')),
                             ('duration_second', ('video-duration', 'duration_second',
                                                  'seconds'))):
            column = next((n for n in names if row.get(n, '') != ''), None)
            if column is not None:
                try:
                    entry[field] = float(row[column])
                except ValueError:
                    raise AnnotationError(f'video info file {path!r}, row {k + 2} (video {video}): '
                                          f'{field} (column {column!r}) must be a number, got '
                                          f'{row[column]!r}') from None
        info.setdefault(video, entry)
    return info


def load_thumos_annotations(ann_file: str, ignore_labels: Sequence[str] = ('Ambiguous', ),
                            exclude_videos: Sequence[str] = ()) -> Dict[str, dict]:
    """Official THUMOS annotation CSV -> ``{video: {annotations, gt_frames, fps?}}`` (row order
    kept; ``ignore_labels`` dropped; videos whose rows are all ignored are kept with no GT)."""
    database: Dict[str, dict] = {}
    required = ('video', 'type', 'start', 'end', 'startFrame', 'endFrame')
    ratios: Dict[str, List[float]] = {}
    for k, row in enumerate(_read_csv(ann_file)):
        missing = [c for c in required if c not in row]
        if missing:
            raise AnnotationError(f'annotation file {ann_file!r}, row {k + 2}: missing column(s) '
                                  f'{missing}; expected video,type,type_idx,start,end,'
                                  'startFrame,endFrame')
        video = row['video']
        if video in exclude_videos:
            continue
        entry = database.setdefault(video, dict(annotations=[], gt_frames=[]))
        try:
            start, end = float(row['start']), float(row['end'])
            f0, f1 = float(row['startFrame']), float(row['endFrame'])
        except ValueError as err:
            raise AnnotationError(f'annotation file {ann_file!r}, row {k + 2} (video {video}): '
                                  f'{err}') from None
        if start > 0:
            ratios.setdefault(video, []).append(f0 / start)
        if row['type'] in ignore_labels:
            continue
        if end < start or f1 < f0:
            raise AnnotationError(f'annotation file {ann_file!r}, row {k + 2} (video {video}): '
                                  f'segment ends before it starts: {start}-{end} s, {f0}-{f1}')
        ann = dict(segment=[start, end], label=row['type'])
        if row.get('type_idx', '') != '':
            try:
                ann['type_idx'] = int(row['type_idx'])
            except ValueError:
                raise AnnotationError(f'annotation file {ann_file!r}, row {k + 2} (video {video}): '
                                      f'type_idx must be an integer, got {row["type_idx"]!r}') \
                    from None
        entry['annotations'].append(ann)
        entry['gt_frames'].append([f0, f1])
    for video, values in ratios.items():
        if video in database:
            database[video]['fps_estimate'] = float(np.median(values))
    if not database:
        raise AnnotationError(f'annotation file {ann_file!r}: no video')
    return database


def load_json_annotations(ann_file: str, subset: Optional[str] = None,
                          fps: Optional[float] = None) -> Dict[str, dict]:
    """ActivityNet-style JSON (MMAction2 or official ``database`` layout) for window datasets."""
    data = read_annotation_database(
        ann_file, '{fps, num_frames | duration_second, annotations}')
    database: Dict[str, dict] = {}
    for video, info in data.items():
        where = f'annotation file {ann_file!r}, video {video}'
        if not isinstance(info, dict):
            raise AnnotationError(f'{where}: expected an object {{fps, num_frames | '
                                  f'duration_second, annotations}}, got {type(info).__name__}')
        if subset is not None and info.get('subset', subset) != subset:
            continue
        values = {}
        for field, names in (('fps', ('fps', )), ('num_frames', ('num_frames', 'duration_frame')),
                             ('duration_second', ('duration_second', 'duration'))):
            name = next((n for n in names if info.get(n) is not None), None)
            if name is None:
                continue
            try:
                values[field] = float(info[name])
            except (TypeError, ValueError):
                raise AnnotationError(f'{where}: {name} must be a number, got '
                                      f'{info[name]!r}') from None
        rate = values.get('fps', fps)
        if rate is None or not float(rate) > 0:
            raise AnnotationError(f'{where}: no "fps" (set it per video or the dataset\'s fps=)')
        rate = float(rate)
        entry: dict = dict(fps=rate, annotations=[], gt_frames=[])
        if 'num_frames' in values:
            entry['num_frames'] = values['num_frames']
        if 'duration_second' in values:
            entry['duration_second'] = values['duration_second']
        for k, ann in enumerate(info.get('annotations', [])):
            segment = ann.get('segment')
            try:
                s, e = (float(v) for v in segment)
            except (TypeError, ValueError):
                raise AnnotationError(f'{where}: annotations[{k}].segment must be [start, end] '
                                      f'seconds, got {segment!r}') from None
            if e < s:
                raise AnnotationError(f'{where}: annotations[{k}].segment ends before it starts: '
                                      f'{segment}')
            if 'label' not in ann:
                raise AnnotationError(f'{where}: annotations[{k}] has no "label"')
            entry['annotations'].append(dict(segment=[s, e], label=ann['label']))
            entry['gt_frames'].append([s * rate, e * rate])
        database[video] = entry
    if not database:
        raise AnnotationError(f'annotation file {ann_file!r}: no video'
                              + (f' of subset {subset!r}' if subset else ''))
    return database


# ------------------------------------------------------------------------------ dataset
@DATASETS.register_module()
class ThumosWindowDataset(NeckPostMixin, BaseDataset):
    """Sliding windows over long videos (THUMOS-14 as G-TAD, or custom data).

    Args:
        ann_file: official THUMOS annotation CSV, or an ActivityNet-style JSON (module doc).
        pipeline: e.g. ``LoadTALFeature`` -> ``PackLocalizationInputs``.
        data_prefix: ``dict(feature=<folder, or one shared .npz/.h5 file>)``.
        streams: ``{name: folder or shared file}`` concatenated on channels (THUMOS G-TAD: flow,
            then rgb); replaces ``data_prefix.feature``.
        feature_ext: extension of per-video files (``.npy``, ``.npz``, ``.h5``, ``.csv``).
        feature_key: array name in shared ``.npz``/``.h5`` files; ``'{video}'`` = video name.
        feature_stride: keep every k-th stored row (G-TAD: 5 on per-frame features; 1 when the
            features are already at the snippet rate).
        snippet_stride: frames between consecutive snippets after ``feature_stride`` (G-TAD 5).
        window_size, window_stride: T and the window step in snippets (G-TAD 256 / 128).
        ioa_threshold: training windows need a GT with IoA above this (official 0.9).
        tail_min_snippets: add a last window ending at the video end when more than this many
            snippets are left (0: whole video covered); ``'gtad'``: G-TAD ``master``'s rule,
            ``int(window_size / snippet_stride)`` (51 at T = 256, skip 5).
        video_info_file: CSV with fps / frame counts (THUMOS ``thumos14_test_groundtruth.csv``).
        fps: default fps for videos without one.
        subset: for official-layout JSONs, keep this subset.
        ignore_labels: CSV types dropped (``Ambiguous``).
        exclude_videos: videos left out (THUMOS test: ``THUMOS_EXCLUDED_TEST_VIDEOS``).
        skip_missing_features: drop videos without features (logged) instead of failing.
        same_width, length_mismatch: stream checks (``feature_io.load_video_features``);
            ``length_mismatch`` reaches ``LoadTALFeature`` through the window info (the THUMOS
            configs set ``'truncate'``, G-TAD's rule; ``'error'`` is the strict check).
        feat_dim: expected total width, checked on every video at build time.
        neck_input: None: each item is the window, zero-padded to ``window_size``; ``'native'``
            (SoLa configs): each item is the video's features around the window and the model
            cuts the window out of its neck's output (see ``native_input``), so that the neck sees
            the real neighbours of the window, never padding that is not a video edge.
        neck_context: with ``neck_input='native'``, the real snippets handed over on each side
            of the window (clipped to the video); None: the whole video. Exact when it is at least
            the neck's receptive radius (``NeckLocalizer`` checks it), and much less to read.
    """

    def __init__(self,
                 ann_file: str,
                 pipeline: Sequence[Union[dict, Callable]] = (),
                 data_prefix: Optional[dict] = None,
                 streams: Optional[Mapping[str, str]] = None,
                 feature_ext: str = '.npy',
                 feature_key: Optional[str] = None,
                 feature_stride: int = 1,
                 snippet_stride: float = 5,
                 window_size: int = 256,
                 window_stride: int = 128,
                 ioa_threshold: float = 0.9,
                 tail_min_snippets: Union[int, str] = 0,
                 video_info_file: Optional[str] = None,
                 fps: Optional[float] = None,
                 subset: Optional[str] = None,
                 ignore_labels: Sequence[str] = ('Ambiguous', ),
                 exclude_videos: Sequence[str] = (),
                 skip_missing_features: bool = False,
                 same_width: bool = True,
                 length_mismatch: str = 'error',
                 feat_dim: Optional[int] = None,
                 neck_input: Optional[str] = None,
                 neck_context: Optional[int] = None,
                 test_mode: bool = False,
                 **kwargs) -> None:
        self.neck_input = check_neck_input(type(self).__name__, neck_input)
        if neck_context is not None and neck_context < 0:
            raise ValueError(f'ThumosWindowDataset: neck_context must be None (whole video) or '
                             f'>= 0, got {neck_context}')
        self.neck_context = neck_context
        if window_size < 1 or window_stride < 1 or feature_stride < 1 or snippet_stride <= 0:
            raise ValueError('ThumosWindowDataset: window_size, window_stride, feature_stride '
                             f'must be >= 1 and snippet_stride > 0, got {window_size}, '
                             f'{window_stride}, {feature_stride}, {snippet_stride}')
        self.streams = dict(streams) if streams else None
        self.feature_ext = feature_ext if feature_ext.startswith('.') else '.' + feature_ext
        self.feature_key = feature_key
        self.feature_stride = int(feature_stride)
        self.snippet_stride = snippet_stride
        self.window_size = int(window_size)
        self.window_stride = int(window_stride)
        self.ioa_threshold = ioa_threshold
        if tail_min_snippets == 'gtad':
            tail_min_snippets = int(window_size / snippet_stride)
        elif isinstance(tail_min_snippets, str) or tail_min_snippets < 0:
            raise ValueError(f"ThumosWindowDataset: tail_min_snippets must be an int >= 0 or "
                             f"'gtad', got {tail_min_snippets!r}")
        self.tail_min_snippets = int(tail_min_snippets)
        self.video_info_file = video_info_file
        self.fps = fps
        self.subset = subset
        self.ignore_labels = tuple(ignore_labels)
        self.exclude_videos = tuple(exclude_videos)
        self.skip_missing_features = skip_missing_features
        self.same_width = same_width
        self.length_mismatch = length_mismatch
        self.feat_dim = feat_dim
        self.videos: Dict[str, dict] = {}
        # built from MMAction2's registry, so it works with or without a default scope
        transforms = [TRANSFORMS.build(dict(t)) if isinstance(t, dict) else t for t in pipeline]
        super().__init__(ann_file=ann_file, pipeline=transforms,
                         data_prefix=data_prefix or dict(feature=''), test_mode=test_mode, **kwargs)

    # ---------------------------------------------------------------- per video
    def feature_path(self, video_name: str):
        return resolve_feature_paths(video_name, self.data_prefix.get('feature', ''),
                                     self.streams, self.feature_ext)

    def _load_annotations(self) -> Dict[str, dict]:
        if self.ann_file.lower().endswith('.csv'):
            database = load_thumos_annotations(self.ann_file, self.ignore_labels,
                                               self.exclude_videos)
        else:
            database = load_json_annotations(self.ann_file, self.subset, self.fps)
            database = {k: v for k, v in database.items() if k not in self.exclude_videos}
        info = load_video_info(self.video_info_file) if self.video_info_file else {}
        for video, entry in database.items():
            extra = info.get(video, {})
            for field in ('fps', 'num_frames', 'duration_second'):
                if field in extra and field not in entry:
                    entry[field] = extra[field]
            if 'fps' not in entry:
                entry['fps'] = self.fps or entry.get('fps_estimate')
            if not entry.get('fps'):
                raise AnnotationError(f'video {video} ({self.ann_file!r}): no fps: give a '
                                      'video_info_file row, start>0 rows to estimate it, or fps=')
            entry.pop('fps_estimate', None)
        return database

    def load_data_list(self) -> List[dict]:
        database = self._load_annotations()
        data_list: List[dict] = []
        missing: List[str] = []
        self.videos = {}
        skip, T = self.snippet_stride, self.window_size
        for video, entry in database.items():
            paths = self.feature_path(video)
            try:
                length, width = video_feature_shape(
                    paths, video, key=self.feature_key, stride=self.feature_stride,
                    same_width=self.same_width, length_mismatch=self.length_mismatch, warn=True)
            except FeatureError as err:
                if 'does not exist' in str(err):
                    missing.append(str(err))
                    continue
                raise
            if self.feat_dim is not None and width != self.feat_dim:
                raise FeatureError(f'video {video}: features {paths} have {width} channels but '
                                   f'the config says feat_dim={self.feat_dim}')
            fps = float(entry['fps'])
            num_frames = entry.get('num_frames')
            if num_frames is None:
                num_frames = (entry['duration_second'] * fps if 'duration_second' in entry
                              else length * skip)
            covered = length * skip  # frames the features span
            if not 0.5 * num_frames <= covered <= 2 * num_frames:
                raise FeatureError(
                    f'video {video}: features {paths} have {length} snippets x snippet_stride '
                    f'{skip} = {covered:g} frames, but the annotation says num_frames='
                    f'{float(num_frames):g} ({self.ann_file!r}); wrong video, or wrong '
                    'feature_stride / snippet_stride?')
            duration = entry.get('duration_second', num_frames / fps)
            gt_frames = np.asarray(entry['gt_frames'], dtype=np.float64).reshape(-1, 2)
            video_info = dict(video_name=video, fps=fps, num_frames=float(num_frames),
                              duration_second=float(duration), num_snippets=length,
                              annotations=entry['annotations'], gt_frames=gt_frames,
                              feature_path=paths)
            self.videos[video] = video_info
            for s0 in window_starts(length, T, self.window_stride, self.tail_min_snippets):
                ioa = window_ioa(gt_frames, s0, T, skip)
                if not self.test_mode and (len(ioa) == 0 or ioa.max() <= self.ioa_threshold):
                    continue
                data_list.append(self._window_info(video_info, s0, ioa > 0))
        if missing:
            msg = (f'{len(missing)} video(s) of {self.ann_file!r} have no features, e.g. '
                   f'{missing[:3]}')
            if not self.skip_missing_features:
                raise FileNotFoundError(msg + ' (skip_missing_features=True drops them)')
            mmengine.print_log(f'{type(self).__name__}: skipped {msg}', logger='current')
        if not data_list:
            raise AnnotationError(f'{type(self).__name__}: no window from {self.ann_file!r}'
                                  + ('' if self.test_mode else
                                     f' has a GT with IoA > {self.ioa_threshold}'))
        return data_list

    def _window_info(self, video_info: dict, s0: int, keep: np.ndarray) -> dict:
        skip, T = self.snippet_stride, self.window_size
        gt_frames = video_info['gt_frames'][keep]
        labels = [a['label'] for a, k in zip(video_info['annotations'], keep) if k]
        first = skip * s0
        gt_bbox = np.clip((gt_frames - first) / (skip * T), 0.0, 1.0).astype(np.float32)
        info = {k: v for k, v in video_info.items() if k != 'gt_frames'}
        info.update(
            window_start_snippet=int(s0), window_snippets=T, snippet_stride=skip,
            feature_stride=self.feature_stride, feature_key=self.feature_key,
            length_mismatch=self.length_mismatch, gt_frames=gt_frames.copy(), gt_labels=labels,
            gt_bbox=gt_bbox.reshape(-1, 2))
        if self.neck_input == 'native':
            self._defer_window(info, s0)
        return info

    def _defer_window(self, info: dict, s0: int) -> None:
        """Read ``feature_span`` (the window and ``neck_context`` real snippets on each side, or
        the whole video) instead of the padded window; ``neck_post`` cuts the window out of the
        neck output and pads it, as ``LoadTALFeature`` does with the raw features."""
        length, T, ctx = int(info['num_snippets']), self.window_size, self.neck_context
        lo, hi = (0, length) if ctx is None else (max(0, s0 - ctx), min(length, s0 + T + ctx))
        info['feature_span'] = [lo, hi]
        info['neck_post'] = dict(
            crop=[s0 - lo, min(T, length - s0)], pad_to=T, context=ctx,
            key=(f'{info["feature_path"]}|key={self.feature_key}|stride={self.feature_stride}'
                 f'|span={lo}:{hi}'))

    def window_seconds(self, idx: int, segments: np.ndarray) -> np.ndarray:
        """Window-normalised segments of item ``idx`` -> seconds in its video."""
        info = self.get_data_info(idx)
        return window_to_seconds(segments, info['window_start_snippet'], info['window_snippets'],
                                 info['snippet_stride'], info['fps'], info['num_frames'])
