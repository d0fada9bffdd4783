"""Reading snippet features from disk, with checks that name the file.

Every loader returns float32 ``[T, C]`` (time first). Formats: ``.npy`` and MMAction2's CSV
(header line, then one row of C values per snippet, the ``csv_mean_100`` layout). Parsed CSVs are
cached next to nothing: callers cache arrays in memory when they want to.
"""
from __future__ import annotations

import os
from typing import Callable, Dict, Optional

import numpy as np
import torch
import torch.nn.functional as F


class FeatureError(ValueError):
    """A feature file that cannot be used: missing, unreadable, empty, NaN/inf, wrong shape."""


def _load_npy(path: str) -> np.ndarray:
    return np.load(path, mmap_mode='r', allow_pickle=False)


def _load_csv(path: str) -> np.ndarray:
    with open(path) as f:
        f.readline()  # header
        return np.loadtxt(f, dtype=np.float32, delimiter=',', ndmin=2)


LOADERS: Dict[str, Callable[[str], np.ndarray]] = {'.npy': _load_npy, '.csv': _load_csv}


def format_of(path: str, fmt: Optional[str] = None) -> str:
    fmt = fmt or os.path.splitext(path)[1]
    fmt = fmt if fmt.startswith('.') else '.' + fmt
    if fmt not in LOADERS:
        raise FeatureError(f'feature file {path!r}: unknown format {fmt!r}; '
                           f'supported: {sorted(LOADERS)}')
    return fmt


def load_features(path: str, fmt: Optional[str] = None, video: str = '',
                  feat_dim: Optional[int] = None, min_length: int = 1) -> np.ndarray:
    """Load one video's features as float32 ``[T, C]`` and check them.

    Raises FeatureError naming the file (and video) when the file is missing or unreadable, is
    not 2-D, has fewer than ``min_length`` snippets, a width other than ``feat_dim``, or NaN/inf.
    """
    where = f'feature file {path!r}' + (f' (video {video})' if video else '')
    fmt = format_of(path, fmt)
    if not os.path.isfile(path):
        raise FeatureError(f'{where} does not exist')
    try:
        array = LOADERS[fmt](path)
    except Exception as err:
        raise FeatureError(f'{where} could not be read as {fmt}: {type(err).__name__}: {err}') from err
    return check_features(np.asarray(array, dtype=np.float32), where, feat_dim, min_length)


def check_features(array: np.ndarray, where: str, feat_dim: Optional[int] = None,
                   min_length: int = 1) -> np.ndarray:
    """Validate a ``[T, C]`` array; ``where`` names its origin in the error."""
    if array.ndim != 2:
        raise FeatureError(f'{where}: expected a 2-D [time, channels] array, got shape '
                           f'{list(array.shape)}')
    if array.shape[0] < min_length or array.shape[1] == 0:
        raise FeatureError(f'{where}: {array.shape[0]} snippets x {array.shape[1]} channels; '
                           f'need at least {min_length} snippet(s)')
    if feat_dim is not None and array.shape[1] != feat_dim:
        raise FeatureError(f'{where}: features have {array.shape[1]} channels but the config '
                           f'says feat_dim={feat_dim}')
    bad = ~np.isfinite(array)
    if bad.any():
        t, c = np.argwhere(bad)[0]
        raise FeatureError(f'{where}: {int(bad.sum())} NaN/inf value(s), first at snippet {t}, '
                           f'channel {c}')
    return array


def resize_features(array: np.ndarray, length: int) -> np.ndarray:
    """Linear resampling along time to ``length`` snippets (``F.interpolate``, align_corners=False,
    as G-TAD/BMN pipelines do); returns the input unchanged when it already has that length."""
    if array.shape[0] == length:
        return np.ascontiguousarray(array)
    x = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)).t()[None]
    return F.interpolate(x, size=length, mode='linear', align_corners=False)[0].t().numpy()


def save_features_atomic(array: np.ndarray, path: str) -> None:
    """Write ``[T, C]`` features as ``.npy`` or CSV through a temp file + rename (never half-written)."""
    fmt = format_of(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f'{path}.tmp.{os.getpid()}'
    try:
        if fmt == '.npy':
            with open(tmp, 'wb') as f:
                np.save(f, np.asarray(array, dtype=np.float32))
        else:
            header = ','.join(f'f{i}' for i in range(array.shape[1]))
            np.savetxt(tmp, array, delimiter=',', header=header, comments='', fmt='%.7g')
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
