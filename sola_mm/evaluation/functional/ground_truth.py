"""Ground-truth loading for temporal action localization evaluation (numpy only).

Two annotation layouts are read, so one metric works on the official files and on MMAction2's:

* **official ActivityNet layout** ``{"database": {id: {"subset", "duration", "annotations"}}}``;
  ``version``/``taxonomy`` are not required, so G-TAD's THUMOS ``thumos_gt.json`` (string segments
  such as ``"18.6"``, no version/taxonomy) loads too. Only videos of the requested ``subset`` are
  kept, like the official ``ANETdetection``/``ANETproposal``.
* **MMAction2 / BSN layout** ``{"v_id": {"duration_second", "annotations": [{segment, label}]}}``.
  It has no subset field in general: every video is used, unless entries carry ``subset`` or a
  ``video_info`` CSV (columns ``video`` and ``subset``, e.g. BSN's ``video_info_new.csv``) says
  which subset each video belongs to.

Classes are indexed in order of first appearance among the kept instances, which is the official
``activity_index`` (Python >= 3.7 keeps JSON object order). Segments are converted with
``float()``, as the official code does, and are never clipped.

Video ids: the official GT has bare YouTube ids (``abc``), MMAction2 files and model outputs use
``v_abc``. :class:`VideoIdMatcher` matches an id exactly first and only then tries adding or
removing a ``v_`` prefix; ids are never blindly cut by two characters.
"""
from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

__all__ = [
    'GroundTruth', 'VideoIdMatcher', 'expand_video_ids', 'load_ground_truth', 'load_video_list',
    'read_json'
]


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file; ``.gz`` files are decompressed transparently."""
    path = os.fspath(path)
    if path.endswith('.gz'):
        import gzip
        with gzip.open(path, 'rt', encoding='utf-8') as f:
            return json.load(f)
    with open(path, encoding='utf-8') as f:
        return json.load(f)


def expand_video_ids(ids: Iterable[str]) -> set[str]:
    """Each id plus its ``v_``-prefixed / unprefixed spelling (for blocked-video lists)."""
    out: set[str] = set()
    for vid in ids:
        out.add(vid)
        out.add('v_' + vid)
        if vid.startswith('v_'):
            out.add(vid[2:])
    return out


class VideoIdMatcher:
    """Find a video id in a list, tolerating a ``v_`` prefix on either side.

    Lookup order: the id itself, then the id without a leading ``v_``, then ``v_`` + id. An exact
    match always wins, so an id that genuinely starts with ``v_`` is never confused.
    """

    def __init__(self, video_ids: Sequence[str]) -> None:
        self._index: dict[str, int] = {}
        for i, vid in enumerate(video_ids):
            self._index.setdefault(vid, i)

    def find(self, name: str) -> int | None:
        """Index of ``name`` in the list, or None."""
        idx = self._index.get(name)
        if idx is not None:
            return idx
        if name.startswith('v_'):
            idx = self._index.get(name[2:])
            if idx is not None:
                return idx
        return self._index.get('v_' + name)


@dataclass
class GroundTruth:
    """Ground-truth instances of one subset, as flat arrays.

    Attributes:
        video_ids: ids of the subset's videos in file order (videos without annotations too).
        classes: class names, indexed by first appearance (official ``activity_index``).
        video: ``[N]`` int64, index into ``video_ids`` of each instance.
        label: ``[N]`` int64, index into ``classes`` of each instance.
        segments: ``[N, 2]`` float64 (start, end) in seconds, unclipped.
        durations: ``[V]`` float64 video durations in seconds (NaN when the file has none).
        source: file name (or ``'<dict>'``), used in error messages.
        id_prefix: ``'v_'`` when the file is in the MMAction2 layout and every id carries the
            ``v_`` that MMAction2 adds to YouTube ids; ``''`` otherwise (official layout).
    """

    video_ids: list[str]
    classes: list[str]
    video: np.ndarray
    label: np.ndarray
    segments: np.ndarray
    durations: np.ndarray
    source: str = '<dict>'
    id_prefix: str = ''
    _matcher: VideoIdMatcher | None = field(default=None, repr=False)

    @property
    def num_instances(self) -> int:
        return int(self.label.shape[0])

    @property
    def class_index(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.classes)}

    def find_video(self, name: str) -> int | None:
        """Index of a video id in :attr:`video_ids` (``v_`` prefix tolerant), or None."""
        if self._matcher is None:
            self._matcher = VideoIdMatcher(self.video_ids)
        return self._matcher.find(name)

    def canonical_id(self, name: str) -> str:
        """The GT spelling of ``name`` if the video is in the GT, else ``name`` unchanged."""
        idx = self.find_video(name)
        return name if idx is None else self.video_ids[idx]

    def submission_id(self, name: str) -> str:
        """The id to write in an ActivityNet submission: the GT spelling without the ``v_``
        that the MMAction2 layout adds (official ids are bare YouTube ids). Only a prefix known
        to be added by the layout is removed; ids are never cut blindly."""
        vid = self.canonical_id(name)
        if self.id_prefix and vid.startswith(self.id_prefix):
            return vid[len(self.id_prefix):]
        return vid

    def labels_of_video(self, name: str) -> list[str]:
        """Distinct GT class names of a video, in annotation order ([] if unknown)."""
        idx = self.find_video(name)
        if idx is None:
            return []
        out: list[str] = []
        for lab in self.label[self.video == idx]:
            c = self.classes[int(lab)]
            if c not in out:
                out.append(c)
        return out


def load_video_list(spec: str | os.PathLike | Iterable[str] | None) -> list[str]:
    """Video ids from an iterable, a JSON file (list or dict keys) or a text file (one a line)."""
    if spec is None:
        return []
    if isinstance(spec, (str, os.PathLike)):
        path = os.fspath(spec)
        if path.endswith('.json') or path.endswith('.json.gz'):
            data = read_json(path)
            if isinstance(data, Mapping):
                return [str(k) for k in data]
            if isinstance(data, list):
                return [str(k) for k in data]
            raise ValueError(f'{path}: expected a JSON list of video ids (or an object keyed by '
                             f'video id), got {type(data).__name__}')
        with open(path, encoding='utf-8') as f:
            return [line.strip() for line in f if line.strip() and not line.startswith('#')]
    return [str(v) for v in spec]


def _read_video_info_subsets(path: str | os.PathLike) -> dict[str, str]:
    with open(path, newline='', encoding='utf-8') as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None or 'video' not in reader.fieldnames \
                or 'subset' not in reader.fieldnames:
            raise ValueError(f'{os.fspath(path)}: a video_info CSV needs the columns "video" and '
                             f'"subset", got {reader.fieldnames}')
        return {row['video']: row['subset'] for row in reader}


def load_ground_truth(ann: str | os.PathLike | Mapping[str, Any],
                      subset: str | None = None,
                      blocked_videos: str | os.PathLike | Iterable[str] | None = None,
                      video_info_file: str | os.PathLike | None = None) -> GroundTruth:
    """Load ground truth from an official-layout or MMAction2-layout annotation file or dict.

    Args:
        ann: path (``.json`` or ``.json.gz``) or an already loaded dict.
        subset: keep only videos of this subset (``'validation'``, ``'test'``, ...). None keeps
            every video. Required to be present in the file for the official layout.
        blocked_videos: ids removed from the GT (``v_`` prefix tolerant): an iterable or a
            file accepted by :func:`load_video_list`.
        video_info_file: optional CSV with ``video`` and ``subset`` columns giving the subset of
            each video of an MMAction2-layout file.

    Returns:
        :class:`GroundTruth`.
    """
    source = '<dict>' if isinstance(ann, Mapping) else os.fspath(ann)
    data = ann if isinstance(ann, Mapping) else read_json(ann)
    if not isinstance(data, Mapping):
        raise ValueError(f'{source}: expected a JSON object, got {type(data).__name__}')

    if 'database' in data and isinstance(data['database'], Mapping):
        entries = data['database']
        official = True
    else:
        entries = data
        official = False

    info_subsets = _read_video_info_subsets(video_info_file) if video_info_file else None

    video_ids: list[str] = []
    durations: list[float] = []
    vid_rows: list[int] = []
    lab_rows: list[str] = []
    seg_rows: list[tuple[float, float]] = []
    for vid, entry in entries.items():
        if not isinstance(entry, Mapping):
            raise ValueError(f'{source}: video {vid!r}: expected an object with "annotations", '
                             f'got {type(entry).__name__}')
        if subset is not None:
            if 'subset' in entry:
                vsub = entry['subset']
            elif info_subsets is not None:
                vsub = info_subsets.get(vid)
                if vsub is None:
                    vsub = info_subsets.get(vid[2:] if vid.startswith('v_') else 'v_' + vid)
            elif official:
                raise ValueError(f'{source}: video {vid!r} has no "subset" field; the official '
                                 f'layout needs one to select subset={subset!r}')
            else:
                vsub = subset  # MMAction2 layout without subset info: the file is the split
            if vsub != subset:
                continue
        vidx = len(video_ids)
        video_ids.append(vid)
        dur = entry.get('duration', entry.get('duration_second'))
        durations.append(float(dur) if dur is not None else float('nan'))
        annotations = entry.get('annotations', [])
        if annotations is None:
            annotations = []
        for k, a in enumerate(annotations):
            try:
                seg = a['segment']
                label = a['label']
                if len(seg) != 2:
                    raise ValueError('segment must have 2 values')
                start, end = float(seg[0]), float(seg[1])
            except (KeyError, TypeError, ValueError, IndexError) as exc:
                raise ValueError(
                    f'{source}: video {vid!r} annotation {k}: expected '
                    f'{{"segment": [start, end], "label": name}}, got {a!r}') from exc
            vid_rows.append(vidx)
            lab_rows.append(label)
            seg_rows.append((start, end))

    blocked = expand_video_ids(load_video_list(blocked_videos))
    if blocked:
        drop = {i for i, vid in enumerate(video_ids) if vid in blocked}
        if drop:
            keep_v = [i for i in range(len(video_ids)) if i not in drop]
            remap = {old: new for new, old in enumerate(keep_v)}
            video_ids = [video_ids[i] for i in keep_v]
            durations = [durations[i] for i in keep_v]
            rows = [r for r in range(len(vid_rows)) if vid_rows[r] not in drop]
            vid_rows = [remap[vid_rows[r]] for r in rows]
            lab_rows = [lab_rows[r] for r in rows]
            seg_rows = [seg_rows[r] for r in rows]

    classes: list[str] = []
    class_index: dict[str, int] = {}
    labels = np.empty(len(lab_rows), dtype=np.int64)
    for r, name in enumerate(lab_rows):
        ci = class_index.get(name)
        if ci is None:
            ci = class_index[name] = len(classes)
            classes.append(name)
        labels[r] = ci

    return GroundTruth(
        video_ids=video_ids,
        classes=classes,
        video=np.asarray(vid_rows, dtype=np.int64),
        label=labels,
        segments=np.asarray(seg_rows, dtype=np.float64).reshape(-1, 2),
        durations=np.asarray(durations, dtype=np.float64),
        source=source,
        id_prefix=('v_' if not official and video_ids
                   and all(v.startswith('v_') for v in video_ids) else ''))
