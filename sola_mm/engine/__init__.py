"""Engine pieces: safe checkpoint loading, the hooks that run SoLa's stage 1, ActionFormer's
optimizer groups and warm-up scheduler."""
from . import hooks, optim_constructor, schedulers  # noqa: F401
