from .rng_state import RNGStateHook
from .stage1 import SoLaStage1Hook

__all__ = ['RNGStateHook', 'SoLaStage1Hook']
