from .stage1 import SoLaStage1Hook

__all__ = ['SoLaStage1Hook']
