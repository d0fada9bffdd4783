"""Every workaround for defects of the pinned upstream stack, in one place.

Each fix names its upstream issue and carries a version gate: it applies only where the defect
exists, so upgrading the dependency retires it silently. ``apply_all()`` runs once, from
``sola_mm/__init__.py``, before anything imports ``mmaction.models``.

The one other upstream gap, CPU-only multi-process launching (mmengine 0.10.7 assumes NCCL and
CUDA device ids), is a config adjustment rather than a patch: ``sola_mm/engine/launch.py``.

Set ``SOLA_MM_SKIP_COMPAT=name1,name2`` to leave named fixes out (the tests use it to show that each
fix is needed).
"""
from __future__ import annotations

import importlib.util
import os
import sys
import types
from dataclasses import dataclass
from typing import Callable, Dict, List

import numpy as np
import torch

__all__ = ['Fix', 'FIXES', 'apply_all', 'applied', 'safe_globals']


def _version_tuple(version: str) -> tuple:
    parts = []
    for piece in version.split('+')[0].split('.')[:3]:
        digits = ''.join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def _dist_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version(name)
    except PackageNotFoundError:
        return '0'


@dataclass(frozen=True)
class Fix:
    """One upstream defect: where it is reported, when it applies, how we work around it."""
    name: str
    upstream: str
    needed: Callable[[], bool]
    apply: Callable[[], None]


# 1. mmaction2 1.2.0 wheels omit localizers/drn/ yet localizers/__init__.py imports it.
def _drn_missing() -> bool:
    return (_dist_version('mmaction2') == '1.2.0'
            and 'mmaction.models.localizers.drn' not in sys.modules
            and importlib.util.find_spec('mmaction') is not None
            and not os.path.exists(os.path.join(
                os.path.dirname(importlib.util.find_spec('mmaction').origin),
                'models', 'localizers', 'drn', '__init__.py')))


def _register_drn_placeholder() -> None:
    package = types.ModuleType('mmaction.models.localizers.drn')
    package.__path__ = []  # a package with nothing in it
    module = types.ModuleType('mmaction.models.localizers.drn.drn')

    class DRN:  # noqa: D401 - a stand-in that explains itself when used
        """Placeholder: DRN's sources are missing from the mmaction2 1.2.0 wheel."""

        def __init__(self, *args, **kwargs):
            raise ImportError('DRN is not shipped in the mmaction2 1.2.0 wheel '
                              '(open-mmlab/mmaction2#2714); install mmaction2 from source to use it.')

    module.DRN = DRN
    package.drn = module
    sys.modules['mmaction.models.localizers.drn'] = package
    sys.modules['mmaction.models.localizers.drn.drn'] = module


# 2. numpy 2.4 removed np.trapz; mmaction's AR@AN (evaluation/functional/accuracy.py) still calls it.
def _trapz_missing() -> bool:
    return not hasattr(np, 'trapz') and hasattr(np, 'trapezoid')


def _alias_trapz() -> None:
    np.trapz = np.trapezoid  # same function, renamed in numpy 2.0


# 3. torch >= 2.6 loads checkpoints with weights_only=True; mmengine <= 0.10.7 checkpoints pickle
#    HistoryBuffer and numpy objects in their message hub (fixed on mmengine main, #1670, unreleased).
def _history_buffer_method(obj: object, name: str) -> Callable:
    """Stands in for ``builtins.getattr`` while a checkpoint is unpickled with weights_only.

    ``HistoryBuffer.__getstate__`` stores its statistics functions (``HistoryBuffer.min`` ...),
    which pickle protocol 2 (torch.save's) writes as ``getattr(HistoryBuffer, 'min')``. Allowing
    the real ``getattr`` would let a crafted file read any attribute reachable from an allowed
    object (``__globals__``, ``__self__`` -> the builtins module) and, with SETITEM, overwrite
    module globals; this stand-in rebuilds exactly that one form and refuses everything else."""
    from mmengine.logging.history_buffer import HistoryBuffer
    if (obj is HistoryBuffer and isinstance(name, str) and not name.startswith('_')
            and callable(HistoryBuffer.__dict__.get(name))):
        return getattr(HistoryBuffer, name)
    import pickle
    raise pickle.UnpicklingError(
        f'weights_only checkpoint loading: getattr({obj!r}, {name!r}) is refused (only '
        'HistoryBuffer statistics methods may be rebuilt this way)')


def safe_globals() -> List[object]:
    """The classes a mmengine checkpoint may pickle that are safe to rebuild (no code runs)."""
    from mmengine.logging.history_buffer import HistoryBuffer
    allowed: List[object] = [HistoryBuffer, np.ndarray, np.dtype]
    core = getattr(np, '_core', None) or np.core
    allowed.append(core.multiarray._reconstruct)
    allowed.append(core.multiarray.scalar)
    allowed.extend(type(np.dtype(code)) for code in '?bBhHiIlLqQefdgFDGSUVOMm')
    # `builtins.getattr` in the file resolves to the restricted stand-in above, never to getattr
    allowed.append((_history_buffer_method, 'builtins.getattr'))
    return allowed


def _weights_only_default() -> bool:
    return (_version_tuple(torch.__version__) >= (2, 6)
            and _version_tuple(_dist_version('mmengine')) <= (0, 10, 7)
            and hasattr(torch.serialization, 'add_safe_globals'))


def _add_safe_globals() -> None:
    torch.serialization.add_safe_globals(safe_globals())


# 4. mmengine <= 0.10.7 writes checkpoints (LocalBackend.put, after torch.save to memory), dumped
#    results (put_text) and the `last_checkpoint` pointer in place: a kill during the write leaves a
#    truncated file that `--resume` then picks up. Write to a temp file in the same folder, fsync, and
#    os.replace it (atomic on POSIX); make `find_latest_checkpoint` skip a pointer naming a missing or
#    empty file (falling back to the newest complete epoch_*/iter_* checkpoint).
def _atomic_write(data, filepath, mode: str, encoding: str = None) -> None:
    filepath = os.fspath(filepath)
    folder = os.path.dirname(os.path.abspath(filepath))
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f'.{os.path.basename(filepath)}.tmp.{os.getpid()}')
    try:
        with open(tmp, mode, encoding=encoding) as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, filepath)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _newest_complete_checkpoint(work_dir: str):
    import glob
    import re
    found = []
    for path in glob.glob(os.path.join(work_dir, '*.pth')):
        match = re.fullmatch(r'(?:epoch|iter)_(\d+)\.pth', os.path.basename(path))
        if match and os.path.getsize(path) > 0:
            found.append((int(match.group(1)), path))
    return max(found)[1] if found else None


def _checked_find_latest(original):
    def find_latest_checkpoint(path):
        latest = original(path)
        if latest is None or (os.path.isfile(latest) and os.path.getsize(latest) > 0):
            return latest
        fallback = _newest_complete_checkpoint(path)
        from mmengine.logging import print_log
        print_log(f'{os.path.join(path, "last_checkpoint")} names {latest!r}, which is missing or '
                  f'empty; resuming from {fallback!r} instead', logger='current', level=30)
        return fallback
    find_latest_checkpoint.sola_mm_checked = True
    return find_latest_checkpoint


def _writes_in_place() -> bool:
    from mmengine.fileio.backends import LocalBackend
    return (_version_tuple(_dist_version('mmengine')) <= (0, 10, 7)
            and not getattr(LocalBackend.put, 'sola_mm_atomic', False))


def _atomic_local_writes() -> None:
    import mmengine.runner.checkpoint as ckpt_module
    import mmengine.runner.runner as runner_module
    from mmengine.fileio.backends import LocalBackend

    def put(self, obj: bytes, filepath) -> None:
        _atomic_write(obj, filepath, 'wb')

    def put_text(self, obj: str, filepath, encoding: str = 'utf-8') -> None:
        _atomic_write(obj, filepath, 'w', encoding)

    put.sola_mm_atomic = put_text.sola_mm_atomic = True
    put.__doc__, put_text.__doc__ = LocalBackend.put.__doc__, LocalBackend.put_text.__doc__
    LocalBackend.put, LocalBackend.put_text = put, put_text
    for module in (ckpt_module, runner_module):
        if not getattr(module.find_latest_checkpoint, 'sola_mm_checked', False):
            module.find_latest_checkpoint = _checked_find_latest(module.find_latest_checkpoint)


# 5. mmcv-lite (the ops-free build mmaction2 needs on CPU) warns at every import of
#    mmcv.cnn.bricks.transformer that MultiScaleDeformableAttention (a compiled op no sola_mm model
#    uses) is missing: every tool started with it. Ignore exactly that message, only where
#    mmcv-lite <= 2.2 is installed without the full mmcv (with the full build the op imports).
_MSDA_MESSAGE = r'Fail to import ``MultiScaleDeformableAttention``'


def _mmcv_lite_warns() -> bool:
    lite = _dist_version('mmcv-lite')
    return (lite != '0' and _version_tuple(lite) <= (2, 2, 0) and _dist_version('mmcv') == '0'
            and 'mmcv.cnn.bricks.transformer' not in sys.modules)


def _ignore_msda_warning() -> None:
    import warnings
    warnings.filterwarnings('ignore', message=_MSDA_MESSAGE, category=UserWarning)


FIXES: List[Fix] = [
    Fix('drn', 'open-mmlab/mmaction2#2714 (fix PR #2721 unmerged)', _drn_missing,
        _register_drn_placeholder),
    Fix('trapz', 'numpy 2.4 removed np.trapz; mmaction2 1.2.0 accuracy.py uses it', _trapz_missing,
        _alias_trapz),
    Fix('weights_only', 'open-mmlab/mmengine#1670 (unreleased after 0.10.7)', _weights_only_default,
        _add_safe_globals),
    Fix('atomic_save', 'mmengine 0.10.7 LocalBackend.put/put_text write in place (no temp file)',
        _writes_in_place, _atomic_local_writes),
    Fix('mmcv_lite_warning', 'open-mmlab/mmpose#3014, open-mmlab/mmcv#1975 (mmcv-lite warns about '
        'a compiled op it does not ship)', _mmcv_lite_warns, _ignore_msda_warning),
]

_APPLIED: Dict[str, bool] = {}


def applied() -> Dict[str, bool]:
    """Which fixes ran in this process (name -> True)."""
    return dict(_APPLIED)


def apply_all() -> None:
    """Apply every needed fix once; idempotent."""
    skip = {s.strip() for s in os.environ.get('SOLA_MM_SKIP_COMPAT', '').split(',') if s.strip()}
    for fix in FIXES:
        if fix.name in _APPLIED or fix.name in skip:
            continue
        if fix.needed():
            fix.apply()
            _APPLIED[fix.name] = True
