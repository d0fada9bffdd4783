"""sola_mm: temporal action localization with SoLa (Soft-Landing, CVPR 2023) for MMAction2.

Importing the package (or ``custom_imports=dict(imports=['sola_mm'])`` in a config) applies the
upstream compatibility fixes first, then registers every sola_mm module in MMAction2's registries.
"""
from . import compat

compat.apply_all()

from . import datasets, engine, evaluation, models  # noqa: E402,F401  (registration side effects)
from .version import __version__  # noqa: E402

__all__ = ['__version__']
