"""Training windows for SoLa stage 1 (Similarity Matching): one random window per video per epoch.

As in the authors' ``VideoPretrain`` dataset, every video longer than the window (``window``, W = 23
snippets by default) gives one window of W consecutive snippets per epoch, starting at a uniformly
drawn offset in ``[0, T - W]``; shorter videos (and videos of exactly W snippets, as in the authors'
``duration > sampling_duration`` test) are skipped, with the count in the log. Annotations are
read with ``ANetFeatureDataset`` (MMAction2's ActivityNet JSON) but their segments are not used.

Why the feature cache: each item is a small slice of a whole video, so reading the file on every
access would make stage 1 I/O bound (a CSV parse costs far more than the SoLa step on one window).
The dataset loads every video once when it is built (that pass also finds the short videos and
checks widths and values), keeps them in one contiguous float32 array, and never touches the files
again. DataLoader workers forked from the main process share that array copy-on-write.

At the authors' HACS scale (37k videos x ~300 x 2048) that array is about 86 GiB per process, so
``cache='mmap'`` reads each window from the ``.npy`` file instead, as the authors'
``np.load(mmap_mode='r')`` does: the build reads only the headers (lengths and widths), an item reads
its W rows (values checked then), and the operating system's page cache, shared by workers and
ranks, holds what fits (``tools/benchmark_stage1_memory.py``). With ``temporal_scale`` set a video
is read whole and resized per item instead.

Why the sampler: a window must be reproducible by seed yet differ per epoch, also in DataLoader
workers that outlive an epoch (``persistent_workers``), where an epoch attribute set on the dataset
in the main process would not arrive. ``SimilarityWindowSampler`` (mmengine's ``DefaultSampler``,
which the train loop tells the epoch through ``set_epoch``) therefore yields ``(index, epoch)`` pairs,
and the offset of item ``index`` in epoch ``epoch`` is drawn from
``numpy.random.default_rng([seed, epoch, index])``: independent of worker count, order and
process. A plain integer index uses the epoch last given to ``set_epoch`` (0 by default).
"""
from __future__ import annotations

import logging
from typing import Callable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.dataset import DefaultSampler
from mmengine.dist import sync_random_seed
from mmengine.logging import print_log

from mmaction.registry import DATA_SAMPLERS, DATASETS, TRANSFORMS
from .anet_feature_dataset import ANetFeatureDataset
from .feature_io import (FeatureError, load_features, load_video_features, resize_features,
                         video_feature_shape)

__all__ = ['SimilarityWindowDataset', 'SimilarityWindowSampler']

DEFAULT_PIPELINE = (dict(type='PackLocalizationInputs', keys=(),
                         meta_keys=('video_name', 'window_start')),)

Index = Union[int, Tuple[int, int]]
CACHE_MODES = (True, False, 'memory', 'mmap')


@DATASETS.register_module()
class SimilarityWindowDataset(ANetFeatureDataset):
    """One random window of ``window`` snippets per video and epoch, for Similarity Matching.

    Each item is ``pipeline(info)`` where ``info`` holds ``raw_feature`` [C, W] (float32, MMAction2's
    layout), ``video_name``, ``window_start`` (first snippet of the window, after resizing) and
    ``num_snippets`` (video length, after resizing); the default pipeline packs it into
    ``inputs`` [C, W] and a data sample carrying ``video_name`` and ``window_start``.

    Args:
        ann_file: MMAction2 ActivityNet annotation JSON (``{"v_id": {...}}``); segments unused.
        data_prefix: ``dict(feature=<folder of feature files>)``; files ``<video_name><feature_ext>``.
        feature_ext: ``'.npy'`` or ``'.csv'`` (MMAction2's csv_mean_100 layout: header + T rows).
        window: W, snippets per window (authors: 23). Videos with T <= W are skipped.
        feat_dim: expected feature width C, checked on every file; None to skip the check.
        temporal_scale: if set, every video is first resized to this many snippets (linear, as the
            ActivityNet pipeline does: 100). None keeps the native length (the authors' HACS setup).
        pipeline: transforms applied to each window (default: ``PackLocalizationInputs``).
        seed: seed of the window offsets; None draws one with mmengine's ``sync_random_seed``
            (identical on every rank, reproducible when the runner seeds numpy).
        cache: ``True`` / ``'memory'`` keeps all features in memory (default); ``'mmap'`` reads
            each window from the file (only the header at build time: memory bounded by the
            page cache; NaN/inf are reported when a window holding them is read); ``False``
            reloads the whole file for every item.
        **kwargs: passed to ``ANetFeatureDataset`` / mmengine ``BaseDataset`` (e.g. ``indices``).
    """

    def __init__(self,
                 ann_file: str,
                 data_prefix: Optional[dict] = None,
                 feature_ext: str = '.npy',
                 window: int = 23,
                 feat_dim: Optional[int] = None,
                 temporal_scale: Optional[int] = None,
                 pipeline: Sequence[Union[dict, Callable]] = DEFAULT_PIPELINE,
                 seed: Optional[int] = None,
                 cache: bool = True,
                 **kwargs) -> None:
        if window < 1:
            raise ValueError(f'SimilarityWindowDataset: window must be >= 1, got {window}')
        if temporal_scale is not None and temporal_scale < 1:
            raise ValueError(f'SimilarityWindowDataset: temporal_scale must be None or >= 1, got '
                             f'{temporal_scale}')
        self.window = window
        if seed is not None and seed < 0:
            raise ValueError(f'SimilarityWindowDataset: seed must be >= 0 or None, got {seed}')
        self.seed = int(sync_random_seed() if seed is None else seed)
        if cache not in CACHE_MODES:
            raise ValueError(f'SimilarityWindowDataset: cache must be one of {CACHE_MODES}, got '
                             f'{cache!r}')
        self.cache = cache
        self.epoch = 0
        self.num_skipped = 0
        self._store: Optional[np.ndarray] = None
        self._warned_plain_index = False
        kwargs.setdefault('skip_unannotated', False)  # unlabeled videos are fine for stage 1
        # built here from MMAction2's registry, so it works with or without a default scope
        transforms = [TRANSFORMS.build(dict(t)) if isinstance(t, dict) else t for t in pipeline]
        super().__init__(ann_file=ann_file, pipeline=transforms, data_prefix=data_prefix,
                         feature_ext=feature_ext, feat_dim=feat_dim, temporal_scale=temporal_scale,
                         **kwargs)

    # ----------------------------------------------------------------- loading
    def _read(self, info: dict) -> np.ndarray:
        """Features of one video as float32 [T, C], resized to ``temporal_scale`` if set."""
        # the same file options as stage 2 (ANetFeatureDataset records them in ``info``)
        path, video = info['feature_path'], info['video_name']
        key, stride = info.get('feature_key'), int(info.get('feature_stride', 1))
        if isinstance(path, str):
            feats = load_features(path, video=video, feat_dim=self.feat_dim, key=key,
                                  stride=stride)
        else:  # streams: {name: path}, concatenated on channels
            feats = load_video_features(path, video, key=key, stride=stride,
                                        feat_dim=self.feat_dim)
        feats = np.array(feats, dtype=np.float32, order='C')  # materialise (npy files are mmapped)
        if self.temporal_scale:
            feats = resize_features(feats, self.temporal_scale)
        return feats

    def _shape(self, info: dict) -> Tuple[int, int]:
        """``(T, C)`` of a video from the file headers (after stride and ``temporal_scale``)."""
        length, width = video_feature_shape(info['feature_path'], info['video_name'],
                                            key=info.get('feature_key'),
                                            stride=int(info.get('feature_stride', 1)))
        if self.feat_dim is not None and width != self.feat_dim:
            raise FeatureError(f'video {info["video_name"]}: features {info["feature_path"]} have '
                               f'{width} channels but the config says feat_dim={self.feat_dim}')
        return self.temporal_scale or length, width

    def load_data_list(self) -> List[dict]:
        data_list, arrays, offset, longest = [], [], 0, 0
        self.num_skipped = 0
        for info in super().load_data_list():
            if self.cache == 'mmap':
                feats, length = None, self._shape(info)[0]
            else:
                feats = self._read(info)
                length = feats.shape[0]
            longest = max(longest, length)
            if length <= self.window:
                self.num_skipped += 1
                continue
            info.update(num_snippets=length, feature_offset=offset)
            offset += length
            if self.cache in (True, 'memory'):
                arrays.append(feats)
            data_list.append(info)
        scale = (f' after temporal_scale={self.temporal_scale}' if self.temporal_scale
                 else ' (native length, temporal_scale=None)')
        if not data_list:
            raise ValueError(
                f'SimilarityWindowDataset: no video in {self.ann_file!r} is longer than '
                f'window={self.window} snippets (longest: {longest}{scale}); lower `window` in the '
                'dataset config or set `temporal_scale` to more snippets')
        if self.num_skipped:
            print_log(f'SimilarityWindowDataset: skipped {self.num_skipped} of '
                      f'{self.num_skipped + len(data_list)} video(s) in {self.ann_file} with at '
                      f'most window={self.window} snippets{scale}', logger='current')
        self._store = np.concatenate(arrays) if self.cache in (True, 'memory') else None
        return data_list

    def features(self, idx: int) -> np.ndarray:
        """Whole feature sequence [T, C] of item ``idx`` (from memory when cached)."""
        return self._features(self.get_data_info(idx))

    def _features(self, info: dict) -> np.ndarray:
        if self._store is None:
            return self._read(info)
        start = info['feature_offset']
        return self._store[start:start + info['num_snippets']]

    # ----------------------------------------------------------------- windows
    def set_epoch(self, epoch: int) -> None:
        """Epoch used for plain integer indices (``SimilarityWindowSampler`` passes it instead)."""
        self.epoch = int(epoch)

    def window_start(self, idx: int, epoch: int) -> int:
        """Offset of the window of item ``idx`` in ``epoch``: uniform in [0, T - W], a pure function
        of (seed, epoch, idx)."""
        return self._window_start(idx, epoch, self.get_data_info(idx)['num_snippets'])

    def _window_start(self, idx: int, epoch: int, length: int) -> int:
        rng = np.random.default_rng([self.seed, epoch, idx])
        return int(rng.integers(0, length - self.window + 1))

    def _split_index(self, index: Index) -> Tuple[int, int]:
        if isinstance(index, (tuple, list)):
            idx, epoch = index
            return int(idx), int(epoch)
        if not self._warned_plain_index and self.epoch == 0:
            self._warned_plain_index = True
            print_log('SimilarityWindowDataset got plain indices and no set_epoch(): every epoch '
                      'draws the same windows; use sampler=dict(type="SimilarityWindowSampler")',
                      logger='current', level=logging.WARNING)
        return int(index), self.epoch

    def prepare_data(self, index: Index) -> dict:
        idx, epoch = self._split_index(index)
        info = self.get_data_info(idx)
        start = self._window_start(idx, epoch, info['num_snippets'])
        if self._store is None and self.cache == 'mmap' and not self.temporal_scale:
            window = load_video_features(  # only the W rows of the window are read
                info['feature_path'], info['video_name'], key=info.get('feature_key'),
                stride=int(info.get('feature_stride', 1)), feat_dim=self.feat_dim,
                window=(start, self.window))
        else:
            window = self._features(info)[start:start + self.window]
        info.update(raw_feature=np.ascontiguousarray(window.T), window_start=start, epoch=epoch)
        return self.pipeline(info)

    def __getitem__(self, index: Index) -> dict:
        if not self._fully_initialized:
            self.full_init()
        return self.prepare_data(index)


@DATA_SAMPLERS.register_module()
class SimilarityWindowSampler(DefaultSampler):
    """mmengine's ``DefaultSampler`` (same order, sharding and ``set_epoch``) yielding
    ``(index, epoch)`` pairs, so that ``SimilarityWindowDataset`` draws new windows every epoch
    even in persistent DataLoader workers."""

    def __iter__(self) -> Iterator[Tuple[int, int]]:  # type: ignore[override]
        epoch = self.epoch
        return ((index, epoch) for index in super().__iter__())
