from .rng_state import RNGStateHook
from .protocol import ProtocolHook
from .stage1 import SoLaStage1Hook
from .timeline_hook import TALVisualizationHook

__all__ = ['ProtocolHook', 'RNGStateHook', 'SoLaStage1Hook', 'TALVisualizationHook']
