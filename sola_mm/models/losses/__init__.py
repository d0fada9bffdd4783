
"""Losses: Similarity Matching (SoLa stage 1)."""
from .similarity_matching import SimilarityMatchingLoss  # noqa: F401
