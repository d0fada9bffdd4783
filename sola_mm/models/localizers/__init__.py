from .neck_localizer import NeckLocalizer

__all__ = ['NeckLocalizer']
