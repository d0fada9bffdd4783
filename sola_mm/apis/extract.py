"""Extract snippet features for many videos: resume, failures reported, one shard per rank.

``extract_features(extractor, inputs, out_dir)`` writes, for each video ``<name>.<video ext>``:

* ``<out_dir>/<name><ext>``: the ``[T, C]`` features (``.npy`` default, ``.h5`` or MMAction2
  ``.csv``), written to a temp file and renamed;
* ``<out_dir>/meta/<name>.json``: fps, frame count, duration, snippet grid, feature width (and the
  recognizer's video-level class scores with ``with_scores``), written last: a video whose
  meta file exists is finished and skipped on a rerun (``overwrite=False``);
* at the end (rank 0), ``<out_dir>/video_info.json``: every finished video in the ActivityNet
  annotation layout (``duration_second, duration_frame, feature_frame, fps, num_frames,
  annotations``): the timing the features stand for, with the annotations (and ``subset``) of
  an annotation file when one is given (then also ``video_info_<subset>.json`` per subset:
  training / validation annotation files whose ``feature_frame`` matches the features).

A video that fails (unreadable, no frames, shorter than one snippet, ...) is reported with its
path and the reason, the run goes on, and the summary lists every failure. Under a distributed
launcher each rank takes every ``world_size``-th video.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
from typing import Dict, List, Optional, Sequence, Union

import numpy as np

from ..datasets.feature_io import save_features_atomic
from ..evaluation.functional.submission import atomic_write_json
from ..extraction.extractor import FeatureExtractor, VideoFeatures

__all__ = ['VIDEO_EXTENSIONS', 'list_videos', 'extract_features', 'save_video_features',
           'read_video_meta', 'meta_path']

VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mkv', '.webm', '.mov', '.m4v', '.mpg', '.mpeg', '.flv',
                    '.wmv', '.3gp', '.ts')
FEATURE_FORMATS = ('.npy', '.h5', '.csv')


def is_video_file(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in VIDEO_EXTENSIONS


def list_videos(inputs: Union[str, Sequence[str]], video_root: Optional[str] = None) -> List[str]:
    """Video paths from a video file, a folder (files with a video extension, sorted), or a list
    file (``.txt``: one path per line, relative to ``video_root`` or to the list file's folder;
    anything after the first space is ignored, as in MMAction2's video lists)."""
    if not isinstance(inputs, str):
        return [p for item in inputs for p in list_videos(item, video_root)]
    if os.path.isdir(inputs):
        return sorted(os.path.join(inputs, f) for f in os.listdir(inputs)
                      if is_video_file(f) and os.path.isfile(os.path.join(inputs, f)))
    if inputs.endswith('.txt') and os.path.isfile(inputs):
        root = video_root or os.path.dirname(os.path.abspath(inputs))
        with open(inputs, encoding='utf-8') as f:
            names = [line.split(' ')[0].strip() for line in f if line.strip()]
        return [n if os.path.isabs(n) else os.path.join(root, n) for n in names]
    if not os.path.exists(inputs):
        raise FileNotFoundError(f'{inputs}: no such video, folder or list file')
    return [inputs]


def video_name(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0]


def meta_path(out_dir: str, name: str) -> str:
    return os.path.join(out_dir, 'meta', name + '.json')


def read_video_meta(feature_file: str) -> Optional[dict]:
    """The meta JSON the extractor wrote next to ``feature_file``, or None."""
    path = meta_path(os.path.dirname(os.path.abspath(feature_file)),
                     video_name(feature_file))
    if not os.path.isfile(path):
        return None
    with open(path, encoding='utf-8') as f:
        return json.load(f)


def _save_h5(array: np.ndarray, path: str) -> None:
    import h5py
    fd, tmp = tempfile.mkstemp(prefix='.' + os.path.basename(path) + '.', suffix='.tmp',
                               dir=os.path.dirname(os.path.abspath(path)))
    os.close(fd)
    try:
        with h5py.File(tmp, 'w') as f:
            f.create_dataset('features', data=np.asarray(array, dtype=np.float32))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def save_video_features(result: VideoFeatures, out_dir: str, name: str, fmt: str = '.npy',
                        class_names: Optional[Sequence[str]] = None) -> str:
    """Write the features (atomically) then the meta file; returns the feature path."""
    if fmt not in FEATURE_FORMATS:
        raise ValueError(f'feature format must be one of {FEATURE_FORMATS}, got {fmt!r}')
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, name + fmt)
    if fmt == '.h5':
        _save_h5(result.features, path)
    else:
        save_features_atomic(result.features, path)
    meta = dict(result.video_info(), feature_file=os.path.basename(path))
    if result.class_scores is not None:
        meta['class_scores'] = [float(x) for x in result.class_scores]
        if class_names is not None:
            meta['class_names'] = list(class_names)
    atomic_write_json(meta_path(out_dir, name), meta)
    return path


def _annotation_entry(meta: dict) -> dict:
    keys = ('duration_second', 'duration_frame', 'feature_frame', 'fps', 'num_frames')
    return dict({k: meta[k] for k in keys if k in meta}, annotations=[])


class _Bars:
    """Overall (videos) and per-video (snippets) progress bars on stderr; no-ops when off."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.enabled = enabled
        self.videos = self.snippets = None
        if enabled:
            from tqdm import tqdm
            self._tqdm = tqdm
            self.videos = tqdm(total=total, desc='videos', unit='video', position=0,
                               file=sys.stderr, dynamic_ncols=True)

    def video(self, name: str):
        if not self.enabled:
            return None
        self.snippets = self._tqdm(total=0, desc=name[:30], unit='snippet', position=1,
                                   leave=False, file=sys.stderr, dynamic_ncols=True)

        def update(done: int, total: int) -> None:
            self.snippets.total = total
            self.snippets.n = done
            self.snippets.refresh()
        return update

    def done(self) -> None:
        if self.snippets is not None:
            self.snippets.close()
            self.snippets = None
        if self.videos is not None:
            self.videos.update(1)

    def write(self, msg: str) -> None:
        if self.enabled:
            self._tqdm.write(msg, file=sys.stderr)
        else:
            print(msg, file=sys.stderr)

    def close(self) -> None:
        if self.videos is not None:
            self.videos.close()


def extract_features(extractor: FeatureExtractor, inputs: Union[str, Sequence[str]],
                     out_dir: str, fmt: str = '.npy', overwrite: bool = False,
                     progress: bool = True, video_root: Optional[str] = None,
                     class_names: Optional[Sequence[str]] = None,
                     rank: int = 0, world_size: int = 1) -> Dict[str, object]:
    """Extract every video of ``inputs`` (file, folder or list) into ``out_dir``.

    Returns ``dict(written=[paths], skipped=[names], failed={video path: reason}, videos=n)``
    for this rank's shard. ``video_info.json`` is written by the caller (:func:`write_video_info`)
    once every rank is done.
    """
    videos = list_videos(inputs, video_root)
    names = [video_name(v) for v in videos]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f'videos with the same name would write the same feature file: {dup[:5]}')
    shard = videos[rank::world_size]
    written, skipped, failed = [], [], {}
    bars = _Bars(len(shard), progress)
    try:
        for path in shard:
            name = video_name(path)
            if not overwrite and os.path.isfile(meta_path(out_dir, name)) \
                    and os.path.isfile(os.path.join(out_dir, name + fmt)):
                skipped.append(name)
                bars.done()
                continue
            try:
                result = extractor.extract(path, progress=bars.video(name))
                written.append(save_video_features(result, out_dir, name, fmt, class_names))
            except (ValueError, OSError, RuntimeError) as err:
                # VideoError / ShortVideoError name the file; others get it here
                msg = str(err) if path in str(err) else f'{path}: {err}'
                failed[path] = msg
                bars.write(f'FAILED {msg}')
            bars.done()
    finally:
        bars.close()
    return dict(written=written, skipped=skipped, failed=failed, videos=len(shard),
                all_names=names)


def write_video_info(out_dir: str, names: Sequence[str],
                     class_names: Optional[Sequence[str]] = None,
                     annotations: Optional[Dict[str, dict]] = None) -> Optional[str]:
    """``video_info.json`` (ActivityNet layout) for every finished video of ``names``: the
    timing measured by the extractor, and ``annotations`` / ``subset`` copied from
    ``annotations`` (an annotation database, ``v_`` prefixes matched) when given, in which case
    each subset also gets ``video_info_<subset>.json`` (the train / val annotation files of a
    config). With class scores in the meta files also ``video_scores.json`` (CUHK layout:
    ``{"results": {video: scores}, "class": names}``). Returns the info path (None: no video)."""
    from ..evaluation.functional.ground_truth import VideoIdMatcher
    keys = list(annotations or {})
    matcher = VideoIdMatcher(keys)
    database, scores, subsets = {}, {}, {}
    for name in names:
        path = meta_path(out_dir, name)
        if not os.path.isfile(path):
            continue
        with open(path, encoding='utf-8') as f:
            meta = json.load(f)
        entry = _annotation_entry(meta)
        idx = matcher.find(name) if annotations else None
        if idx is not None:
            given = annotations[keys[idx]]
            entry['annotations'] = list(given.get('annotations') or [])
            if given.get('subset'):
                entry['subset'] = given['subset']
                subsets.setdefault(given['subset'], {})[name] = entry
        database[name] = entry
        if 'class_scores' in meta:
            scores[name] = meta['class_scores']
    if not database:
        return None
    info = atomic_write_json(os.path.join(out_dir, 'video_info.json'), database)
    for subset, part in subsets.items():
        atomic_write_json(os.path.join(out_dir, f'video_info_{subset}.json'), part)
    if scores and class_names is not None:
        atomic_write_json(os.path.join(out_dir, 'video_scores.json'),
                          dict(results=scores, **{'class': list(class_names)}))
    return info
