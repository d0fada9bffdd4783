"""Every workaround for defects of the pinned upstream stack, in one place.

Each fix names its upstream issue and carries a version gate: it applies only where the defect
exists, so upgrading the dependency retires it silently. ``apply_all()`` runs once, from
``sola_mm/__init__.py``, before anything imports ``mmaction.models``.

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
def safe_globals() -> List[object]:
    """The classes a mmengine checkpoint may pickle that are safe to rebuild (no code runs)."""
    from mmengine.logging.history_buffer import HistoryBuffer
    allowed: List[object] = [HistoryBuffer, np.ndarray, np.dtype]
    core = getattr(np, '_core', None) or np.core
    allowed.append(core.multiarray._reconstruct)
    allowed.append(core.multiarray.scalar)
    allowed.extend(type(np.dtype(code)) for code in '?bBhHiIlLqQefdgFDGSUVOMm')
    # HistoryBuffer.__getstate__ pickles its statistics functions as getattr(HistoryBuffer, 'min').
    # Under torch's weights-only unpickler getattr can only fetch attributes: REDUCE still calls
    # nothing outside this list (tests/test_compat.py shows a code-running pickle is refused).
    allowed.append(getattr)
    return allowed


def _weights_only_default() -> bool:
    return (_version_tuple(torch.__version__) >= (2, 6)
            and _version_tuple(_dist_version('mmengine')) <= (0, 10, 7)
            and hasattr(torch.serialization, 'add_safe_globals'))


def _add_safe_globals() -> None:
    torch.serialization.add_safe_globals(safe_globals())


FIXES: List[Fix] = [
    Fix('drn', 'open-mmlab/mmaction2#2714 (fix PR #2721 unmerged)', _drn_missing,
        _register_drn_placeholder),
    Fix('trapz', 'numpy 2.4 removed np.trapz; mmaction2 1.2.0 accuracy.py uses it', _trapz_missing,
        _alias_trapz),
    Fix('weights_only', 'open-mmlab/mmengine#1670 (unreleased after 0.10.7)', _weights_only_default,
        _add_safe_globals),
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
