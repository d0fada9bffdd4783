"""Reading snippet features from disk, with checks that name the file.

Every loader returns float32 ``[T, C]`` (time first). Formats:

* ``.npy``: the header is parsed once per file version (path, mtime, size) and only the rows
  needed are read (one ``np.fromfile`` of the window's span; a memory map for strided reads, so
  per-frame features read only every k-th row); Fortran-order or unusual files go through
  ``np.load(mmap_mode='r')``;
* MMAction2's CSV (header line, then one row of C values per snippet, the ``csv_mean_100`` layout).
  Parsing is slow: convert once with ``tools/convert_features.py`` (CSV -> .npy, atomic writes);
* ``.npz``: one array per file (any name), or one file for all videos keyed by video name;
* ``.h5`` / ``.hdf5``: one dataset per file, or one file keyed by video name (G-TAD's THUMOS
  ``flow_val.h5`` / ``rgb_val.h5``); stride and window are HDF5 selections (only those rows are
  read).

Keys (``key``): ``None`` means the file holds exactly one array (per-video files); a string is the
array name inside the file, where ``'{video}'`` is replaced by the video name (shared files). A
missing key is a :class:`FeatureError` naming the file, the key and a few keys that exist.

Streams (:func:`load_video_features`): several files (e.g. ``flow`` and ``rgb`` folders) are
loaded and concatenated on channels in the order given (G-TAD's THUMOS code puts flow first, so the
configs list ``flow`` before ``rgb``). By default every stream must have the same width (two-stream
TSN/I3D features do; ``same_width=False`` allows others) and the same length. A length mismatch is
an error by default (a strict check for custom data); ``length_mismatch='truncate'`` keeps the
shorter length, as G-TAD's THUMOS loader (``master`` ``dataset.py``: ``num_snippet = min(...)``,
then ``h5[:num_snippet]``) does, and logs a warning naming both files and lengths; the THUMOS
configs use it. ``stride`` keeps every k-th snippet (``array[::stride]``, G-TAD's
``[::skip_videoframes]`` on per-frame features), applied to each stream before the length check,
as in G-TAD.
"""
from __future__ import annotations

import logging
import os
from typing import Callable, Dict, List, Mapping, Optional, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F


class FeatureError(ValueError):
    """A feature file that cannot be used: missing, unreadable, empty, NaN/inf, wrong shape."""


#: ``(path, inode, mtime_ns, size)`` -> ``(dtype, shape, data offset)`` of plain C-order ``.npy``
#: files (None: the file needs ``np.load``). Parsing a header costs more than reading a 100 x 400
#: array, and a rewritten file (new inode, mtime or size) is parsed again.
_NPY_LAYOUTS: Dict[Tuple[str, int, int, int],
                   Optional[Tuple[np.dtype, Tuple[int, ...], int]]] = {}


def _npy_layout(path: str) -> Optional[Tuple[np.dtype, Tuple[int, ...], int]]:
    """Header of a ``.npy`` file, parsed once per file version (path, inode, mtime, size)."""
    st = os.stat(path)
    cache_key = (path, st.st_ino, st.st_mtime_ns, st.st_size)
    if cache_key in _NPY_LAYOUTS:
        return _NPY_LAYOUTS[cache_key]
    from numpy.lib import format as npy_format
    layout = None
    with open(path, 'rb') as f:
        version = npy_format.read_magic(f)
        if version in ((1, 0), (2, 0)):
            read = (npy_format.read_array_header_1_0 if version == (1, 0)
                    else npy_format.read_array_header_2_0)
            shape, fortran, dtype = read(f)
            if not fortran and not dtype.hasobject:
                layout = (dtype, tuple(shape), f.tell())
    if len(_NPY_LAYOUTS) > 200_000:  # bounded: one entry per feature file
        _NPY_LAYOUTS.clear()
    _NPY_LAYOUTS[cache_key] = layout
    return layout


def _load_npy(path: str, stride: int = 1,
              window: Optional[Tuple[int, int]] = None) -> np.ndarray:
    """A ``.npy`` array, strided then windowed, reading only the rows needed.

    Plain C-order 2-D files are read with one ``np.fromfile`` of the needed row span (stride 1),
    or through a memory map (stride > 1, where most rows are skipped); anything else goes
    through ``np.load(mmap_mode='r')``.
    """
    layout = _npy_layout(path)
    if layout is None or len(layout[1]) != 2:
        array = np.load(path, mmap_mode='r', allow_pickle=False)
        if stride > 1 and array.ndim >= 1:
            array = array[::stride]
        if window is not None and array.ndim == 2:
            array = array[window[0]:window[0] + window[1]]
        return array
    dtype, (length, width), offset = layout
    rows = range(length)[::stride]
    if window is not None:
        rows = rows[window[0]:window[0] + window[1]]
    if len(rows) == 0 or width == 0:
        return np.empty((len(rows), width), dtype)
    first, last = rows[0], rows[-1]
    row_bytes = width * dtype.itemsize
    if offset + (last + 1) * row_bytes > os.path.getsize(path):
        raise ValueError(f'file is truncated: the header says {length} x {width} {dtype}')
    if stride > 1:
        mapped = np.memmap(path, dtype=dtype, mode='r', offset=offset, shape=(length, width))
        return np.array(mapped[first:last + 1:stride])
    data = np.fromfile(path, dtype=dtype, count=(last - first + 1) * width,
                       offset=offset + first * row_bytes)
    return data.reshape(-1, width)


def _load_csv(path: str) -> np.ndarray:
    with open(path) as f:
        f.readline()  # header
        return np.loadtxt(f, dtype=np.float32, delimiter=',', ndmin=2)


LOADERS: Dict[str, Callable[..., np.ndarray]] = {'.npy': _load_npy, '.csv': _load_csv}
# container formats: the loader takes (path, key) and may hold several videos
KEYED_LOADERS: Dict[str, Callable[[str, Optional[str]], np.ndarray]] = {}


class _KeyMissing(KeyError):
    pass


def _pick(names: List[str], key: Optional[str], path: str) -> str:
    if key is None:
        if len(names) == 1:
            return names[0]
        raise _KeyMissing(f'holds {len(names)} arrays ({_some(names)}); set the key (e.g. '
                          "key='{video}' for one file keyed by video name)")
    if key not in names:
        raise _KeyMissing(f'has no array {key!r} (it holds {len(names)}: {_some(names)})')
    return key


def _some(names: List[str], n: int = 5) -> str:
    return ', '.join(repr(x) for x in names[:n]) + (', ...' if len(names) > n else '')


def _load_npz(path: str, key: Optional[str] = None) -> np.ndarray:
    with np.load(path, allow_pickle=False) as archive:
        return archive[_pick(list(archive.files), key, path)]


def _h5_dataset_names(handle) -> List[str]:
    import h5py
    names: List[str] = []
    handle.visititems(lambda name, obj: names.append(name)
                      if isinstance(obj, h5py.Dataset) else None)
    return names


def _load_h5(path: str, key: Optional[str] = None, stride: int = 1,
             window: Optional[Tuple[int, int]] = None) -> np.ndarray:
    """One HDF5 dataset, strided and windowed by HDF5 itself (only those rows are read)."""
    import h5py
    with h5py.File(path, 'r') as handle:
        if key is not None and key in handle and isinstance(handle[key], h5py.Dataset):
            name = key
        else:
            name = _pick(_h5_dataset_names(handle), key, path)
        dataset = handle[name]
        if dataset.ndim == 0:
            return dataset[()]
        rows = range(dataset.shape[0])[::stride]
        if window is not None and dataset.ndim == 2:
            rows = rows[window[0]:window[0] + window[1]]
        if len(rows) == 0:
            return np.empty((0, ) + dataset.shape[1:], dataset.dtype)
        if rows.step == 1 and len(rows) == dataset.shape[0]:
            return dataset[()]
        return dataset[rows.start:rows.stop:rows.step]


KEYED_LOADERS.update({'.npz': _load_npz, '.h5': _load_h5, '.hdf5': _load_h5})
SUPPORTED = sorted(set(LOADERS) | set(KEYED_LOADERS))


def format_of(path: str, fmt: Optional[str] = None) -> str:
    fmt = fmt or os.path.splitext(path)[1]
    fmt = fmt if fmt.startswith('.') else '.' + fmt
    if fmt.lower() in ('.hdf5', '.h5', '.npz', '.npy', '.csv'):
        fmt = fmt.lower()
    if fmt not in LOADERS and fmt not in KEYED_LOADERS:
        raise FeatureError(f'feature file {path!r}: unknown format {fmt!r}; '
                           f'supported: {SUPPORTED}')
    return fmt


def _resolve_key(key: Optional[str], video: str) -> Optional[str]:
    if key is None:
        return None
    return key.replace('{video}', video) if '{video}' in key else key


def _read_raw(path: str, fmt: str, key: Optional[str], stride: int,
              window: Optional[Tuple[int, int]] = None) -> np.ndarray:
    """The stored array, strided, then cut to ``window`` ((start, length) after the stride)."""
    if fmt == '.npy':
        return _load_npy(path, stride, window)
    if fmt in ('.h5', '.hdf5'):
        return _load_h5(path, key, stride, window)
    array = _read_strided(path, fmt, key, stride)
    if window is not None and array.ndim == 2:
        array = array[window[0]:window[0] + window[1]]
    return array


def _read_strided(path: str, fmt: str, key: Optional[str], stride: int) -> np.ndarray:
    if fmt in KEYED_LOADERS:
        if fmt in ('.h5', '.hdf5'):
            return _load_h5(path, key, stride)
        array = KEYED_LOADERS[fmt](path, key)
    else:  # .npy / CSV hold one video: the key has nothing to select
        array = LOADERS[fmt](path)
    return array[::stride] if stride > 1 and array.ndim >= 1 else array


def load_features(path: str, fmt: Optional[str] = None, video: str = '',
                  feat_dim: Optional[int] = None, min_length: int = 1, *,
                  key: Optional[str] = None, stride: int = 1,
                  window: Optional[Tuple[int, int]] = None) -> np.ndarray:
    """Load one video's features as float32 ``[T, C]`` and check them.

    Args:
        key: array name inside an ``.npz``/``.h5`` file (``'{video}'`` becomes ``video``); None for
            files that hold one array. Ignored for ``.npy``/CSV.
        stride: keep every ``stride``-th snippet.
        window: ``(start, length)`` in snippets after striding: only that slice is returned
            (may be shorter at the end of the video; no padding here).

    Raises FeatureError naming the file (and video) when the file is missing or unreadable, the
    key is missing, the array is not 2-D, has fewer than ``min_length`` snippets, a width other
    than ``feat_dim``, or NaN/inf.
    """
    where = f'feature file {path!r}' + (f' (video {video})' if video else '')
    fmt = format_of(path, fmt)
    if stride < 1:
        raise FeatureError(f'{where}: stride must be >= 1, got {stride}')
    if not os.path.isfile(path):
        raise FeatureError(f'{where} does not exist')
    resolved = _resolve_key(key, video)
    try:
        array = _read_raw(path, fmt, resolved, stride, window)
    except _KeyMissing as err:
        raise FeatureError(f'{where}: missing video key {resolved!r}: the file {err.args[0]}') \
            from None
    except Exception as err:
        raise FeatureError(f'{where} could not be read as {fmt}: {type(err).__name__}: {err}') from err
    if window is not None:
        min_length = min(min_length, 1)
    return check_features(np.asarray(array, dtype=np.float32), where, feat_dim, min_length)


def feature_shape(path: str, fmt: Optional[str] = None, video: str = '', *,
                  key: Optional[str] = None, stride: int = 1) -> Tuple[int, int]:
    """``(T, C)`` after striding, read cheaply where the format allows (.npy header, HDF5 shape);
    other formats are loaded. Errors as :func:`load_features`."""
    where = f'feature file {path!r}' + (f' (video {video})' if video else '')
    fmt = format_of(path, fmt)
    if not os.path.isfile(path):
        raise FeatureError(f'{where} does not exist')
    resolved = _resolve_key(key, video)
    try:
        if fmt == '.npy':
            layout = _npy_layout(path)
            shape = (layout[1] if layout is not None
                     else np.load(path, mmap_mode='r', allow_pickle=False).shape)
        elif fmt in ('.h5', '.hdf5'):
            import h5py
            with h5py.File(path, 'r') as handle:
                if resolved is not None and resolved in handle:
                    name = resolved
                else:
                    name = _pick(_h5_dataset_names(handle), resolved, path)
                shape = handle[name].shape
        else:
            shape = _read_strided(path, fmt, resolved, 1).shape
    except _KeyMissing as err:
        raise FeatureError(f'{where}: missing video key {resolved!r}: the file {err.args[0]}') \
            from None
    except Exception as err:
        raise FeatureError(f'{where} could not be read as {fmt}: {type(err).__name__}: {err}') from err
    if len(shape) != 2:
        raise FeatureError(f'{where}: expected a 2-D [time, channels] array, got shape '
                           f'{list(shape)}')
    return -(-shape[0] // stride), int(shape[1])


# ---------------------------------------------------------------------------------- streams
PathSpec = Union[str, Mapping[str, str]]


def is_feature_file(path: str) -> bool:
    """Whether ``path`` names one file (by a supported extension) rather than a folder."""
    return os.path.splitext(path)[1].lower() in SUPPORTED


def resolve_feature_paths(video: str, feature: Optional[str] = None,
                          streams: Optional[Mapping[str, str]] = None,
                          ext: str = '.npy') -> PathSpec:
    """Feature path(s) of ``video``: ``feature`` (a folder -> ``<folder>/<video><ext>``, or one
    shared file), or ``streams`` ``{name: folder or shared file}`` -> ``{name: path}`` in order."""
    ext = ext if ext.startswith('.') else '.' + ext

    def one(where: str) -> str:
        return where if is_feature_file(where) else os.path.join(where, video + ext)

    if streams:
        return {name: one(where) for name, where in streams.items()}
    return one(feature or '')


def _stream_items(paths: PathSpec) -> List[Tuple[str, str]]:
    if isinstance(paths, str):
        return [('', paths)]
    return list(paths.items())


def video_feature_shape(paths: PathSpec, video: str = '', *, key: Optional[str] = None,
                        stride: int = 1, fmt: Optional[str] = None, same_width: bool = True,
                        length_mismatch: str = 'error', warn: bool = False) -> Tuple[int, int]:
    """``(T, C)`` of the (concatenated) features of one video, with the stream checks of
    :func:`load_video_features`, without loading the arrays where the format allows (``warn``:
    log a truncation, as the loader does)."""
    shapes = [(name, path, feature_shape(path, fmt, video, key=key, stride=stride))
              for name, path in _stream_items(paths)]
    length = _check_streams([(n, p, s) for n, p, s in shapes], video, same_width,
                            length_mismatch, warn=warn)
    return length, sum(s[1] for _, _, s in shapes)


def _check_streams(shapes, video: str, same_width: bool, length_mismatch: str,
                   warn: bool = True) -> int:
    if length_mismatch not in ('error', 'truncate'):
        raise ValueError(f"length_mismatch must be 'error' or 'truncate', got {length_mismatch!r}")
    if len(shapes) < 2:
        return shapes[0][2][0]
    (name0, path0, (len0, dim0)) = shapes[0]
    for name, path, (length, dim) in shapes[1:]:
        if same_width and dim != dim0:
            raise FeatureError(
                f'video {video}: stream width mismatch: {name0} {path0!r} has {dim0} channels but '
                f'{name} {path!r} has {dim}; two-stream features must have the same width '
                '(set same_width=False to concatenate different widths)')
    lengths = [s[2][0] for s in shapes]
    if len(set(lengths)) > 1:
        desc = ', '.join(f'{n} {p!r}: {s[0]} snippets' for n, p, s in shapes)
        if length_mismatch == 'error':
            raise FeatureError(f'video {video}: stream length mismatch ({desc}); set '
                               "length_mismatch='truncate' to keep the shorter length")
        if warn:
            from mmengine.logging import print_log
            print_log(f'video {video}: stream length mismatch ({desc}); truncated to '
                      f'{min(lengths)} snippets', logger='current', level=logging.WARNING)
    return min(lengths)


def load_video_features(paths: PathSpec, video: str = '', *, key: Optional[str] = None,
                        stride: int = 1, fmt: Optional[str] = None,
                        feat_dim: Optional[int] = None, same_width: bool = True,
                        length_mismatch: str = 'error',
                        window: Optional[Tuple[int, int]] = None,
                        pad_to: Optional[int] = None) -> np.ndarray:
    """One video's features float32 ``[T, C]`` from one file or several streams.

    Args:
        paths: a path, or ``{stream: path}`` concatenated on channels in that order.
        key, stride: see :func:`load_features` (applied to every stream).
        feat_dim: expected total width (sum over streams).
        same_width: streams must have equal widths (error names both files and widths).
        length_mismatch: ``'error'`` (default) or ``'truncate'`` to the shorter stream with a
            logged warning (G-TAD's THUMOS rule).
        window: ``(start, length)``: only that slice of snippets (after stride).
        pad_to: zero-pad at the end to this many snippets (short videos / the last window).
    """
    items = _stream_items(paths)
    arrays = []
    if window is not None and len(items) > 1:
        # the stream checks need the full lengths; cheap for .npy/.h5
        video_feature_shape(paths, video, key=key, stride=stride, fmt=fmt, same_width=same_width,
                            length_mismatch=length_mismatch)
    for name, path in items:
        arrays.append((name, path, load_features(path, fmt, video, key=key, stride=stride,
                                                 window=window)))
    if len(arrays) == 1:
        feats = arrays[0][2]
    else:
        length = _check_streams([(n, p, a.shape) for n, p, a in arrays], video, same_width,
                                length_mismatch, warn=window is None)
        feats = np.concatenate([a[:length] for _, _, a in arrays], axis=1)
    if feat_dim is not None and feats.shape[1] != feat_dim:
        desc = ', '.join(f'{n or "features"} {p!r}: {a.shape[1]}' for n, p, a in arrays)
        raise FeatureError(f'video {video}: features have {feats.shape[1]} channels ({desc}) but '
                           f'the config says feat_dim={feat_dim}')
    if pad_to is not None and feats.shape[0] < pad_to:
        feats = np.concatenate(
            [feats, np.zeros((pad_to - feats.shape[0], feats.shape[1]), np.float32)])
    return feats


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
    with np.errstate(all='ignore'):
        total = array.sum()  # NaN/inf make the sum non-finite: one pass, no mask allocated
    bad = None if np.isfinite(total) else ~np.isfinite(array)  # (or a finite overflow)
    if bad is not None and bad.any():
        t, c = np.argwhere(bad)[0]
        raise FeatureError(f'{where}: {int(bad.sum())} NaN/inf value(s), first at snippet {t}, '
                           f'channel {c}')
    return array


def resize_features(array: np.ndarray, length: int) -> np.ndarray:
    """Linear resampling along time to ``length`` snippets (``F.interpolate``, align_corners=False,
    as G-TAD/BMN pipelines do); returns the input unchanged when it already has that length."""
    if array.shape[0] == length:
        return np.ascontiguousarray(array)
    x = torch.from_numpy(np.array(array, dtype=np.float32, order="C")).t()
    return resize_temporal(x, length).t().numpy()


def resize_temporal(x: torch.Tensor, length: int) -> torch.Tensor:
    """:func:`resize_features` on a ``[C, T]`` tensor (differentiable; any device): the one resize
    of the datasets, also applied by ``NeckLocalizer`` after a neck that saw the native length."""
    if x.shape[-1] == length:
        return x
    return F.interpolate(x[None], size=length, mode='linear', align_corners=False)[0]


def save_features_atomic(array: np.ndarray, path: str) -> None:
    """Write ``[T, C]`` features as ``.npy`` or CSV through a temp file + rename (never half-written)."""
    fmt = format_of(path)
    if fmt not in LOADERS:
        raise FeatureError(f'save_features_atomic writes .npy or .csv, not {fmt!r} ({path!r})')
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
