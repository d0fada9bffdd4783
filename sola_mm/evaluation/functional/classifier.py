"""Video-level classifier scores used to label class-agnostic proposals (numpy only).

Proposal heads (BMN, G-TAD) predict no class. For ActivityNet / THUMOS detection mAP the
published pipelines give every proposal the top-2 classes of an external video classifier:

* **ActivityNet, CUHK** (``cuhk_val_simp_share.json``): ``{"results": {video_id: [200 scores]},
  "class": [200 names]}``, ids without the ``v_`` prefix. A plain ``{video_id: [scores]}`` file is
  accepted too, with the class names from a separate file (BSN's ``action_name.csv``: a header row
  ``action`` then one name per line; or a JSON list; or a text file, one name per line).
  Ties in the class ranking go to the lower index (the official ``argmax``).
* **THUMOS-14, UntrimmedNet** (``uNet_test.npy``): float32 ``(1574, 101)``; row ``i`` is
  ``video_test_{i+1:07d}``, column ``j`` is UCF101 class ``j+1``. Only the 20 THUMOS classes are
  kept, in ascending UCF101 index. Ties go to the higher index (G-TAD ranks with
  ``sorted((score, idx))``).

The fusion itself (score = proposal score x class score, blocked or interleaved layout) is
``sola_mm.models.localizers.gtad.postprocess.fuse_topk_classes``; it is shared with G-TAD, not
duplicated here.
"""
from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from .ground_truth import VideoIdMatcher, read_json

__all__ = [
    'THUMOS14_UCF101_CLASSES', 'VideoClassifierScores', 'load_class_names', 'load_classifier',
    'load_cuhk_classifier', 'load_untrimmednet_classifier', 'resolve_class_names'
]

#: The 20 THUMOS-14 detection classes by 1-based UCF101 index (``type_idx`` of the annotations).
THUMOS14_UCF101_CLASSES: dict[int, str] = {
    7: 'BaseballPitch', 9: 'BasketballDunk', 12: 'Billiards', 21: 'CleanAndJerk',
    22: 'CliffDiving', 23: 'CricketBowling', 24: 'CricketShot', 26: 'Diving',
    31: 'FrisbeeCatch', 33: 'GolfSwing', 36: 'HammerThrow', 40: 'HighJump',
    45: 'JavelinThrow', 51: 'LongJump', 68: 'PoleVault', 79: 'Shotput', 85: 'SoccerPenalty',
    92: 'TennisSwing', 93: 'ThrowDiscus', 97: 'VolleyballSpiking'
}

_TIE_BREAKS = ('first', 'last')


@dataclass
class VideoClassifierScores:
    """Class scores of every video of a classifier file.

    Attributes:
        video_ids: ids as written in the file.
        scores: ``[V, C]`` float64 (float32 inputs are converted exactly).
        class_names: ``C`` names; ``scores[:, j]`` is class ``class_names[j]``.
        tie_break: ``'first'`` (lower index wins a tie, ActivityNet) or ``'last'`` (THUMOS).
        source: file name for error messages.
    """

    video_ids: list[str]
    scores: np.ndarray
    class_names: list[str]
    tie_break: str = 'first'
    source: str = '<memory>'
    _matcher: VideoIdMatcher | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.tie_break not in _TIE_BREAKS:
            raise ValueError(f'tie_break must be one of {_TIE_BREAKS}, got {self.tie_break!r}')
        if self.scores.ndim != 2 or self.scores.shape != (len(self.video_ids),
                                                           len(self.class_names)):
            raise ValueError(f'{self.source}: scores {self.scores.shape} do not match '
                             f'{len(self.video_ids)} videos x {len(self.class_names)} classes')

    def lookup(self, video_name: str) -> np.ndarray | None:
        """The ``[C]`` scores of a video (``v_`` prefix tolerant), or None."""
        if self._matcher is None:
            self._matcher = VideoIdMatcher(self.video_ids)
        idx = self._matcher.find(video_name)
        return None if idx is None else self.scores[idx]


def load_class_names(path: str | os.PathLike) -> list[str]:
    """Class names from a JSON list, a ``.csv`` with a header row, or a text file."""
    path = os.fspath(path)
    if path.endswith('.json') or path.endswith('.json.gz'):
        data = read_json(path)
        if not isinstance(data, list):
            raise ValueError(f'{path}: expected a JSON list of class names')
        return [str(c) for c in data]
    with open(path, newline='', encoding='utf-8') as f:
        if path.endswith('.csv'):
            rows = [r for r in csv.reader(f) if r]
            return [r[0] for r in rows[1:]]  # header row (``action`` in BSN's action_name.csv)
        return [line.strip() for line in f if line.strip()]


def resolve_class_names(spec: str | os.PathLike | Sequence[str] | None) -> list[str] | None:
    """Class names in label order from a config value: None; ``'thumos14'`` (the 20 THUMOS-14
    detection classes in ActionFormer's ``label_id`` order, which is ascending UCF101 index, i.e.
    alphabetical); a file (:func:`load_class_names`); or a sequence of names."""
    if spec is None:
        return None
    if isinstance(spec, str) and spec == 'thumos14':
        return [THUMOS14_UCF101_CLASSES[k] for k in sorted(THUMOS14_UCF101_CLASSES)]
    if isinstance(spec, (str, os.PathLike)):
        return load_class_names(spec)
    return [str(c) for c in spec]


def load_cuhk_classifier(path: str | os.PathLike | Mapping[str, Any],
                         class_names: str | os.PathLike | Sequence[str] | None = None
                         ) -> VideoClassifierScores:
    """ActivityNet video classifier scores (CUHK layout or plain ``{video: [scores]}``).

    Args:
        path: JSON file (``.json`` / ``.json.gz``) or an already loaded dict.
        class_names: names of the score columns; required unless the file has ``"class"``.
    """
    source = '<dict>' if isinstance(path, Mapping) else os.fspath(path)
    data = path if isinstance(path, Mapping) else read_json(path)
    if not isinstance(data, Mapping):
        raise ValueError(f'{source}: expected a JSON object')
    if 'results' in data and isinstance(data['results'], Mapping):
        table = data['results']
        names = data.get('class')
    else:
        table = data
        names = None
    if class_names is not None:
        names = (load_class_names(class_names) if isinstance(class_names, (str, os.PathLike))
                 else [str(c) for c in class_names])
    if names is None:
        raise ValueError(f'{source}: no "class" list in the file; pass class_names (e.g. BSN\'s '
                         f'action_name.csv) to name the score columns')
    video_ids = [str(v) for v in table]
    if not video_ids:
        raise ValueError(f'{source}: no video scores')
    try:
        scores = np.asarray([table[v] for v in table], dtype=np.float64)
    except ValueError as exc:
        raise ValueError(f'{source}: every video needs the same number of class scores') from exc
    if scores.ndim != 2 or scores.shape[1] != len(names):
        raise ValueError(f'{source}: {scores.shape[-1] if scores.ndim == 2 else "?"} scores per '
                         f'video but {len(names)} class names')
    return VideoClassifierScores(video_ids, scores, list(names), 'first', source)


def load_untrimmednet_classifier(path: str | os.PathLike | np.ndarray,
                                 video_template: str = 'video_test_{:07d}',
                                 classes: Mapping[int, str] | None = None
                                 ) -> VideoClassifierScores:
    """THUMOS-14 UntrimmedNet scores (``uNet_test.npy``), restricted to the detection classes.

    Args:
        path: ``.npy`` file or array ``[num_videos, 101]``.
        video_template: row ``i`` is the video ``video_template.format(i + 1)``.
        classes: ``{1-based UCF101 index: name}``; default the 20 THUMOS-14 classes.
    """
    source = '<array>' if isinstance(path, np.ndarray) else os.fspath(path)
    arr = path if isinstance(path, np.ndarray) else np.load(os.fspath(path))
    if arr.ndim != 2:
        raise ValueError(f'{source}: expected [num_videos, num_ucf_classes], got {arr.shape}')
    classes = dict(THUMOS14_UCF101_CLASSES if classes is None else classes)
    ucf = sorted(classes)
    if ucf[-1] > arr.shape[1] or ucf[0] < 1:
        raise ValueError(f'{source}: {arr.shape[1]} columns cannot hold UCF101 index {ucf[-1]}')
    scores = arr[:, [u - 1 for u in ucf]].astype(np.float64)
    video_ids = [video_template.format(i + 1) for i in range(arr.shape[0])]
    return VideoClassifierScores(video_ids, scores, [classes[u] for u in ucf], 'last', source)


def load_classifier(path: str | os.PathLike, fmt: str = 'auto',
                    class_names: str | os.PathLike | Sequence[str] | None = None
                    ) -> VideoClassifierScores:
    """Load a classifier file: ``fmt`` ``'cuhk'`` (JSON), ``'untrimmednet'`` (``.npy``) or
    ``'auto'`` (by extension)."""
    path_s = os.fspath(path)
    if fmt == 'auto':
        fmt = 'untrimmednet' if path_s.endswith('.npy') else 'cuhk'
    if fmt == 'untrimmednet':
        return load_untrimmednet_classifier(path_s)
    if fmt == 'cuhk':
        return load_cuhk_classifier(path_s, class_names)
    raise ValueError(f"classifier format must be 'auto', 'cuhk' or 'untrimmednet', got {fmt!r}")

