
from .align1d import Align1D, align1d, align1d_weights, sgalign_matrices  # noqa: F401
