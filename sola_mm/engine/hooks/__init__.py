from .rng_state import RNGStateHook
from .protocol import ProtocolHook
from .stage1 import SoLaStage1Hook

__all__ = ['ProtocolHook', 'RNGStateHook', 'SoLaStage1Hook']
