from .loading import LoadTALFeature

__all__ = ['LoadTALFeature']
