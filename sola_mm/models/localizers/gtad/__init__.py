"""G-TAD (Xu et al., CVPR 2020) in pure PyTorch: model, SGAlign, labels, losses, post-processing."""
from .gcnext import GCNeXt
from .gtad import GTAD, OFFICIAL_SETTINGS, convert_official_state_dict, gtad_official_cfg
from .sgalign import SGAlign

__all__ = ['GTAD', 'GCNeXt', 'SGAlign', 'OFFICIAL_SETTINGS', 'gtad_official_cfg',
           'convert_official_state_dict']
