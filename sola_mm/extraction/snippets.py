"""Which frames make each snippet of a video: the sampling grid behind a feature file.

A snippet is ``clip_len`` frames, ``frame_interval`` apart, fed to the backbone as one clip; one
feature row per snippet. Snippets follow each other every ``stride`` frames. Two alignments:

* ``'start'``: snippet ``j`` starts at frame ``stride * j``; only whole snippets are kept, so a
  video of ``n`` frames has ``(n - span) // stride + 1`` snippets (``span = (clip_len - 1) *
  frame_interval + 1``). ActivityNet's CUHK features (one row per 16 frames, ``feature_frame =
  16 * rows``) and ActionFormer's I3D features (16-frame clips every 4 frames) are built this way.
* ``'center'``: snippet ``j`` is centred on frame ``stride * j`` (frames outside the video are
  clamped to its first / last frame), ``ceil(n / stride)`` snippets. G-TAD's THUMOS features
  (one snippet every 5 frames, covering ``[5j - 2.5, 5j + 2.5]``) are built this way.

A video shorter than one snippet's span has no snippet: :class:`ShortVideoError`.

The presets reproduce the conventions our configs expect of their features (the dataset, not the
extractor, rescales ActivityNet features to ``temporal_scale``; the preset records it).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Dict, Optional

import numpy as np

__all__ = ['SnippetSpec', 'PRESETS', 'ShortVideoError', 'snippet_spec']


class ShortVideoError(ValueError):
    """A video with fewer frames than one snippet needs."""


@dataclass(frozen=True)
class SnippetSpec:
    """Snippet sampling (module docstring)."""

    clip_len: int = 16
    frame_interval: int = 1
    stride: int = 16
    align: str = 'start'
    #: snippets per video after the dataset's rescaling (ActivityNet 100); recorded, not applied
    temporal_scale: Optional[int] = None

    def __post_init__(self) -> None:
        if self.clip_len < 1 or self.frame_interval < 1 or self.stride < 1:
            raise ValueError(f'snippet sampling: clip_len, frame_interval and stride must be >= 1, '
                             f'got {self.clip_len}, {self.frame_interval}, {self.stride}')
        if self.align not in ('start', 'center'):
            raise ValueError(f"snippet sampling: align must be 'start' or 'center', got "
                             f'{self.align!r}')

    @property
    def span(self) -> int:
        """Frames from the first to the last frame of one snippet, inclusive."""
        return (self.clip_len - 1) * self.frame_interval + 1

    def num_snippets(self, total_frames: int) -> int:
        """Snippets of a video of ``total_frames`` frames (0 when shorter than one span)."""
        if total_frames < self.span:
            return 0
        if self.align == 'start':
            return (total_frames - self.span) // self.stride + 1
        return -(-total_frames // self.stride)

    def frame_indices(self, total_frames: int, where: str = 'video') -> np.ndarray:
        """``[num_snippets, clip_len]`` frame indices (int64) of every snippet."""
        count = self.num_snippets(total_frames)
        if count == 0:
            raise ShortVideoError(f'{where}: {total_frames} frame(s), shorter than one snippet '
                                  f'({self.clip_len} frames x interval {self.frame_interval} = '
                                  f'{self.span} frames)')
        offsets = np.arange(self.clip_len, dtype=np.int64) * self.frame_interval
        anchors = np.arange(count, dtype=np.int64) * self.stride
        if self.align == 'center':
            anchors = anchors - (self.span - 1) // 2
        return np.clip(anchors[:, None] + offsets[None], 0, total_frames - 1)

    def covered_frames(self, num_snippets: int) -> int:
        """Frames the feature rows stand for (ActivityNet's ``feature_frame``)."""
        return int(num_snippets * self.stride)

    def to_dict(self) -> dict:
        return asdict(self)


PRESETS: Dict[str, SnippetSpec] = {
    # ActivityNet (BMN / G-TAD on CUHK-style features): one row per 16 frames, rescaled to 100
    'anet': SnippetSpec(clip_len=16, frame_interval=1, stride=16, align='start', temporal_scale=100),
    # THUMOS-14 as G-TAD reads it: one snippet every 5 frames (skip_videoframes), centred
    'thumos_gtad': SnippetSpec(clip_len=5, frame_interval=1, stride=5, align='center'),
    # ActionFormer's THUMOS I3D features: 16-frame clips every 4 frames
    'actionformer_i3d': SnippetSpec(clip_len=16, frame_interval=1, stride=4, align='start'),
}


def snippet_spec(preset: Optional[str] = None, **overrides) -> SnippetSpec:
    """A preset (or the defaults) with the given fields replaced (``None`` values ignored)."""
    if preset is not None and preset not in PRESETS:
        raise ValueError(f'unknown snippet preset {preset!r}; choose one of {sorted(PRESETS)}')
    base = PRESETS[preset] if preset else SnippetSpec()
    return replace(base, **{k: v for k, v in overrides.items() if v is not None})
