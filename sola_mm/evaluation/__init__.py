"""Metrics (registered) and their pure numpy maths (``functional``)."""
from . import metrics  # noqa: F401
