"""Engine pieces: safe checkpoint loading and the hooks that run SoLa's stage 1."""
from . import hooks  # noqa: F401
