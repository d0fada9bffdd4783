"""Feature datasets and transforms for temporal action localization."""
from . import preflight, transforms  # noqa: F401  (preflight registers DataCheckHook)
from .anet_feature_dataset import ANetFeatureDataset
from .probe_dataset import LinearProbeDataset
from .sm_window_dataset import SimilarityWindowDataset
from .thumos_window_dataset import ThumosWindowDataset

__all__ = ['ANetFeatureDataset', 'LinearProbeDataset', 'SimilarityWindowDataset',
           'ThumosWindowDataset']
