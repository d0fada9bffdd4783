"""Models: the SoLa neck, the Similarity Matching stage, the neck+localizer composition, G-TAD."""
from . import localizers, losses, necks, self_supervised  # noqa: F401
