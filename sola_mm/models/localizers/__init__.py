from .actionformer import ActionFormer  # noqa: F401  (registers 'ActionFormer')
from .batched_bmn import BatchedBMN
from .gtad import GTAD  # noqa: F401  (registers 'GTAD')
from .neck_localizer import NeckLocalizer

__all__ = ['BatchedBMN', 'NeckLocalizer']
