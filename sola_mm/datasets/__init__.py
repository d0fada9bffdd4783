"""Feature datasets and transforms for temporal action localization."""
from . import transforms  # noqa: F401
from .anet_feature_dataset import ANetFeatureDataset
from .sm_window_dataset import SimilarityWindowDataset

__all__ = ['ANetFeatureDataset', 'SimilarityWindowDataset']
