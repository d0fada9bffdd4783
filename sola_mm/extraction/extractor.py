"""Snippet features of a video from a frozen MMAction2 recognizer (TSN, I3D, SlowFast, VideoMAE...).

The recognizer is built from its MMAction2 config and checkpoint (path or URL, loaded by mmengine).
Its test pipeline supplies the preprocessing, run with MMAction2's own transforms:

* the spatial steps between decoding and ``FormatShape`` (``Resize``, ``CenterCrop``...; a
  ``ThreeCrop``/``TenCrop`` becomes a ``CenterCrop`` of the same size, one view per snippet, as
  MMAction2's ``clip_feature_extraction.py`` does without ``--multi-view``) are applied once to
  each decoded frame;
* ``FormatShape`` + ``PackActionInputs`` + the model's ``data_preprocessor`` shape and normalise
  each snippet's frames;
* the backbone (+ neck) runs on a batch of snippets (``extract_feat(test_mode=True)``) and
  MMAction2's ``FeatureHead`` pools space and time (``spatial_type``/``temporal_type``, as the
  MMAction2 tool does), one ``C``-vector per snippet.

The video is decoded once, front to back (``video_reader``), and a decoded, preprocessed frame is
kept only while a snippet still to be extracted needs it, so memory does not grow with the video
length. Overlapping snippets (stride < clip length) share their frames' decoding and resizing:
that and the batching are where the speed over MMAction2's tool comes from
(``tools/benchmark_extract.py``).

With ``with_scores=True`` the recognizer's own classification head also runs on every snippet and
the softmax scores are averaged over the video: a video-level classifier (top-k classes for
proposal heads) from the same pass.
"""
from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Union

import numpy as np
import torch
from mmengine.config import Config

from .snippets import SnippetSpec
from .video_reader import DEFAULT_BACKEND, VideoSource

__all__ = ['FeatureExtractor', 'VideoFeatures', 'ExtractorConfigError']

#: loading / sampling steps of a recognizer's test pipeline that the extractor replaces
_SAMPLING_SUFFIXES = ('Init', 'Decode', 'SampleFrames', 'UniformSample')


class ExtractorConfigError(ValueError):
    """A recognizer config the extractor cannot use (names the config file)."""


@dataclass
class VideoFeatures:
    """What :meth:`FeatureExtractor.extract` returns for one video."""

    features: np.ndarray            # [T, C] float32
    fps: float
    num_frames: int
    snippet: SnippetSpec
    class_scores: Optional[np.ndarray] = None   # [num_classes] video-level, with_scores=True
    info: Dict[str, object] = field(default_factory=dict)

    @property
    def duration_second(self) -> float:
        return self.num_frames / self.fps

    def video_info(self) -> Dict[str, object]:
        """Annotation-file fields of this video (ActivityNet and window-dataset layouts)."""
        covered = self.snippet.covered_frames(len(self.features))
        return dict(duration_second=self.duration_second, duration_frame=int(self.num_frames),
                    feature_frame=int(min(covered, self.num_frames)), fps=self.fps,
                    num_frames=int(self.num_frames), num_snippets=int(len(self.features)),
                    feat_dim=int(self.features.shape[1]), snippet=self.snippet.to_dict(),
                    **self.info)


def _test_pipeline(cfg: Config, where: str) -> list:
    pipeline = cfg.get('test_pipeline')
    if pipeline is None:
        loader = cfg.get('test_dataloader') or cfg.get('val_dataloader') or {}
        pipeline = (loader.get('dataset') or {}).get('pipeline')
    if not pipeline:
        raise ExtractorConfigError(f'{where}: the recognizer config has no test_pipeline (nor '
                                   'test_dataloader.dataset.pipeline): the extractor takes its '
                                   'resize / crop / format steps from there')
    return [dict(t) for t in pipeline]


class FeatureExtractor:
    """A frozen recognizer turning videos into ``[T, C]`` snippet features (module docstring).

    Args:
        config: MMAction2 recognizer config (path or Config).
        checkpoint: its weights, a path or URL (None: random initialisation with seed 0, for
            tests and demos).
        snippet: the sampling grid (:mod:`.snippets`).
        backend: ``'pyav'`` or ``'decord'`` (:mod:`.video_reader`).
        batch_size: snippets per backbone call.
        device: torch device.
        spatial_type, temporal_type: ``FeatureHead`` pooling (``'avg'``/``'max'``).
        with_scores: also average the recognizer head's class probabilities over the video.
        cfg_options: overrides merged into the recognizer config.
    """

    def __init__(self, config: Union[str, Config], checkpoint: Optional[str] = None,
                 snippet: Optional[SnippetSpec] = None, backend: str = DEFAULT_BACKEND,
                 batch_size: int = 32, device: str = 'cpu', spatial_type: str = 'avg',
                 temporal_type: str = 'avg', with_scores: bool = False,
                 cfg_options: Optional[dict] = None) -> None:
        import sola_mm  # noqa: F401  (registration, compat)
        from mmaction.registry import MODELS, TRANSFORMS
        from mmengine.registry import init_default_scope
        self.source = config if isinstance(config, str) else (config.filename or '<config>')
        cfg = Config.fromfile(config) if isinstance(config, str) else copy.deepcopy(config)
        if cfg_options:
            cfg.merge_from_dict(cfg_options)
        init_default_scope(cfg.get('default_scope', 'mmaction') or 'mmaction')
        model_cfg = cfg.get('model')
        if not model_cfg or 'backbone' not in model_cfg:
            raise ExtractorConfigError(f'{self.source}: not an MMAction2 recognizer config '
                                       '(no model.backbone)')
        self.cfg = cfg
        self.snippet = snippet or SnippetSpec()
        self.backend = backend
        self.batch_size = int(batch_size)
        if self.batch_size < 1:
            raise ValueError(f'batch_size must be >= 1, got {batch_size}')
        self.device = torch.device(device)
        self.with_scores = with_scores
        model_cfg = copy.deepcopy(model_cfg)
        backbone = model_cfg['backbone']
        if isinstance(backbone, dict):
            backbone.pop('pretrained', None)  # the checkpoint holds every weight
            if 'pretrained2d' in backbone:
                backbone['pretrained2d'] = False
        if not with_scores:
            model_cfg.pop('cls_head', None)
        # without a checkpoint the weights are a seeded random initialisation, so that the
        # features of two runs (extraction, then inference) come from the same network
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            self.model = MODELS.build(model_cfg)
        if checkpoint:
            self._load(checkpoint)
        self.model.to(self.device).eval()
        name = {'ResNet3dSlowFast': 'slowfast', 'ResNetTSM': 'tsm', 'MobileNetV2TSM': 'tsm'}.get(
            backbone.get('type') if isinstance(backbone, dict) else None)
        num_segments = backbone.get('num_segments') if name == 'tsm' else None
        if name == 'tsm' and num_segments != self.snippet.clip_len:
            raise ExtractorConfigError(
                f'{self.source}: a TSM backbone needs clip_len == num_segments ({num_segments}), '
                f'got clip_len={self.snippet.clip_len}')
        self.feature_head = MODELS.build(dict(type='FeatureHead', spatial_type=spatial_type,
                                              temporal_type=temporal_type, backbone_name=name,
                                              num_segments=num_segments))
        self._spatial, self._format, self._pack = self._build_transforms(TRANSFORMS)

    # ------------------------------------------------------------------ building
    def _load(self, checkpoint: str) -> None:
        from mmengine.runner import load_checkpoint
        try:
            load_checkpoint(self.model, checkpoint, map_location='cpu', strict=False,
                            logger='silent')
        except Exception as err:
            raise ExtractorConfigError(f'recognizer checkpoint {checkpoint!r} could not be loaded '
                                       f'into the model of {self.source}: {type(err).__name__}: '
                                       f'{err}') from err

    def _build_transforms(self, registry):
        spatial: List[Callable] = []
        fmt = pack = None
        for step in _test_pipeline(self.cfg, self.source):
            kind = step.get('type', '')
            if kind.endswith(_SAMPLING_SUFFIXES):
                continue
            if kind == 'FormatShape':
                fmt = registry.build(step)
                continue
            if kind == 'PackActionInputs':
                pack = registry.build(dict(type='PackActionInputs'))
                continue
            if kind in ('ThreeCrop', 'TenCrop'):
                step = dict(type='CenterCrop', crop_size=step['crop_size'])
            if fmt is None:
                spatial.append(registry.build(step))
        if fmt is None:
            raise ExtractorConfigError(f'{self.source}: the test pipeline has no FormatShape step')
        return spatial, fmt, pack or registry.build(dict(type='PackActionInputs'))

    # ------------------------------------------------------------------ steps
    def preprocess_frames(self, frames: List[np.ndarray]) -> List[np.ndarray]:
        """The recognizer's spatial test transforms (Resize, CenterCrop...) on decoded frames."""
        if not frames:
            return []
        h, w = frames[0].shape[:2]
        results = dict(imgs=list(frames), img_shape=(h, w), original_shape=(h, w),
                       modality='RGB', num_clips=1, clip_len=len(frames))
        for t in self._spatial:
            results = t(results)
        return list(results['imgs'])

    def snippet_inputs(self, clips: np.ndarray) -> List[torch.Tensor]:
        """``[B, L, H, W, 3]`` uint8 preprocessed clips -> per-snippet input tensors (MMAction2's
        FormatShape + PackActionInputs)."""
        out = []
        for clip in clips:
            results = self._format(dict(imgs=clip, num_clips=1, clip_len=len(clip),
                                        modality='RGB'))
            out.append(self._pack(results)['inputs'])
        return out

    @torch.no_grad()
    def forward_snippets(self, inputs: List[torch.Tensor]):
        """Backbone (+ neck) and FeatureHead on a batch of snippets: ``[B, C]`` features, and the
        head's softmax scores ``[B, K]`` when ``with_scores``."""
        from mmaction.structures import ActionDataSample
        data = self.model.data_preprocessor(
            dict(inputs=inputs, data_samples=[ActionDataSample() for _ in inputs]), False)
        x, kwargs = self.model.extract_feat(data['inputs'], test_mode=True)
        feats = self.feature_head(x, **kwargs)
        feats = feats.reshape(len(inputs), -1)
        scores = None
        if self.with_scores and getattr(self.model, 'cls_head', None) is not None:
            logits = self.model.cls_head(x, **kwargs)
            scores = torch.softmax(logits.reshape(len(inputs), -1), dim=1)
        return feats, scores

    # ------------------------------------------------------------------ one video
    def extract(self, path: str, progress: Optional[Callable[[int, int], None]] = None
                ) -> VideoFeatures:
        """Features of one video file. ``progress(done, total)`` is called after each batch.

        Raises VideoError (unreadable, no frames) or ShortVideoError (shorter than a snippet),
        both naming the file."""
        with VideoSource(path, self.backend) as video:
            idx = self.snippet.frame_indices(video.total_frames, where=path)
            n = len(idx)
            cache: Dict[int, np.ndarray] = {}
            next_frame = 0
            feats: List[np.ndarray] = []
            scores: List[np.ndarray] = []
            for b0 in range(0, n, self.batch_size):
                block = idx[b0:b0 + self.batch_size]
                need = np.unique(block)
                new = need[need >= next_frame]
                if len(new):
                    frames = self.preprocess_frames(video.read(new))
                    cache.update(zip(new.tolist(), frames))
                    next_frame = int(new[-1]) + 1
                clips = np.stack([np.stack([cache[i] for i in row]) for row in block.tolist()])
                f, s = self.forward_snippets(self.snippet_inputs(clips))
                feats.append(f.float().cpu().numpy())
                if s is not None:
                    scores.append(s.float().cpu().numpy())
                if b0 + self.batch_size < n:  # keep only frames a later snippet needs
                    first = int(idx[b0 + self.batch_size, 0])
                    for key in [k for k in cache if k < first]:
                        del cache[key]
                if progress is not None:
                    progress(min(b0 + self.batch_size, n), n)
            features = np.concatenate(feats).astype(np.float32)
            return VideoFeatures(
                features=features, fps=video.fps, num_frames=video.total_frames,
                snippet=self.snippet,
                class_scores=np.concatenate(scores).mean(0) if scores else None,
                info=dict(video_file=os.path.abspath(path), backend=self.backend))
