"""ActionFormer (ECCV 2022) in pure PyTorch: backbone, heads, labels, losses, post-processing."""
from .actionformer import (OFFICIAL_TEST_CFG, OFFICIAL_TRAIN_CFG, ActionFormer,
                           convert_official_state_dict)

__all__ = ['ActionFormer', 'OFFICIAL_TRAIN_CFG', 'OFFICIAL_TEST_CFG',
           'convert_official_state_dict']
