from .sola import SoLa

__all__ = ['SoLa']
