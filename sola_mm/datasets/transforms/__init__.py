from .actionformer import ActionFormerGrid, ActionFormerTruncate
from .loading import LoadTALFeature

__all__ = ['ActionFormerGrid', 'ActionFormerTruncate', 'LoadTALFeature']
