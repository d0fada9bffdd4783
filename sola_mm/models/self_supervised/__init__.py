
"""Stage-1 (self-supervised) models: SoLaPretrainer."""
from .sola_pretrainer import SoLaPretrainer  # noqa: F401
