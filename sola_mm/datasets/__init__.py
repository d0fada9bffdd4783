"""Feature datasets and transforms for temporal action localization."""
from . import transforms  # noqa: F401
