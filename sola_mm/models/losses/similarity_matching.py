"""Similarity Matching, the label-free objective of SoLa stage 1 (Kang et al., CVPR 2023).

A window of snippet features goes through the SoLa neck; S features at evenly spaced positions are
gathered, L2-normalised (z) and projected (g(z)). The predicted map compares every unprojected,
stop-gradient z_i with every projected g(z_j),

    P[i, j] = (1 + cos(sg(z_i), g(z_j))) / 2,

and is trained with binary cross-entropy towards a target that decays with the temporal distance,

    T[i, j] = 1 if i == j else sigmoid(K / (i - j)^2),

so that feature similarity follows temporal distance. The functions here are pure PyTorch (no
mmengine) and follow the authors' code to the last epsilon, because the stage-1 parity tests compare
them with the official implementation at 1e-12 in float64:

- the cosine adds 1e-8 to the *product* of the two norms (not ``F.cosine_similarity``'s eps rule);
- the map is clamped the way the authors overwrite it in place: entries >= 1 become 1 - 1e-5 and
  entries <= 0 become 1e-5, and an overwritten entry gets zero gradient;
- the loss is ``nn.BCELoss`` (mean over all B*S*S entries, diagonal included, logs clamped at -100);
- the target is built in float64 and only then cast to the working dtype (the official code builds it
  in numpy float64 and casts it to float32).

``SimilarityMatchingLoss`` is the registered module holding the knobs (S, step, step_start, K).
"""
from __future__ import annotations

from typing import Dict, Optional

import torch
import torch.nn.functional as F
from torch import nn

from mmaction.registry import MODELS

__all__ = ['gather_positions', 'target_map', 'similarity_map', 'predicted_map',
           'similarity_matching_loss', 'SimilarityMatchingLoss']

#: Added to the product of the two norms in the cosine (authors' ``pairwise_cosine_similarity``).
COS_EPS = 1e-8
#: Bounds the predicted map is pushed back inside (authors' in-place overwrite before the BCE).
PROB_CLAMP = 1e-5


def gather_positions(length: int, step: int = 2, step_start: int = 4, num: int = 8,
                     device: Optional[torch.device] = None) -> torch.Tensor:
    """Indices ``step * i + step_start`` for i = 0..num-1 along a window of ``length`` snippets.

    Raises ValueError naming the knobs when a position falls outside the window.
    """
    if num < 2:
        raise ValueError(f'similarity matching: num (S, positions per window) must be >= 2, got {num}')
    if step < 1 or step_start < 0:
        raise ValueError(f'similarity matching: need step >= 1 and step_start >= 0, got '
                         f'step={step}, step_start={step_start}')
    last = step * (num - 1) + step_start
    if last >= length:
        raise ValueError(f'similarity matching: the last gathered position step*(num-1)+step_start '
                         f'= {step}*{num - 1}+{step_start} = {last} is outside a window of '
                         f'{length} snippets; use a window > {last} or fewer/closer positions')
    return torch.arange(num, device=device) * step + step_start


def target_map(num: int, coef: float = 16.0, dtype: torch.dtype = torch.float32,
               device: Optional[torch.device] = None) -> torch.Tensor:
    """The [num, num] target: 1 on the diagonal, ``sigmoid(coef / (i - j)^2)`` elsewhere.

    Computed in float64 and then cast to ``dtype`` (as the authors do), so a float32 map holds the
    float32 rounding of the exact values. Distances count gathered positions, not snippets.
    """
    pos = torch.arange(num, dtype=torch.float64, device=device)
    dist2 = (pos[:, None] - pos[None, :]) ** 2
    off_diagonal = torch.sigmoid(coef / dist2.masked_fill(dist2 == 0, 1.0))
    target = torch.where(dist2 == 0, torch.ones_like(dist2), off_diagonal)
    return target.to(dtype)


def similarity_map(z: torch.Tensor, gz: torch.Tensor, eps: float = COS_EPS) -> torch.Tensor:
    """Asymmetric cosine map ``cos[b, i, j] = <sg(z_i), g_j> / (||z_i|| * ||g_j|| + eps)``.

    Args:
        z: [B, S, C] unprojected features; detached here (rows carry no gradient).
        gz: [B, S, C] projected features g(z); the gradient flows through them (columns).
    Returns:
        [B, S, S]; neither symmetric nor 1 on the diagonal.
    """
    if z.shape != gz.shape:
        raise ValueError(f'similarity_map: z {list(z.shape)} and g(z) {list(gz.shape)} must have the '
                         'same shape (the projector output width must equal the feature width)')
    rows = z.detach()
    dots = torch.bmm(rows, gz.transpose(1, 2))
    norms = rows.norm(dim=-1)[:, :, None] * gz.norm(dim=-1)[:, None, :]
    return dots / (norms + eps)


def predicted_map(cos: torch.Tensor, clamp: float = PROB_CLAMP) -> torch.Tensor:
    """``(1 + cos) / 2`` with entries >= 1 set to ``1 - clamp`` and <= 0 set to ``clamp``.

    Like the authors' in-place overwrite, a replaced entry is a constant: it gets zero gradient.
    Entries strictly inside (0, 1) are kept as they are, including those in (1 - clamp, 1) and
    (0, clamp), which ``torch.clamp(prob, clamp, 1 - clamp)`` would move.
    """
    prob = (1 + cos) / 2
    high = torch.full_like(prob, 1 - clamp)
    low = torch.full_like(prob, clamp)
    return torch.where(prob >= 1, high, torch.where(prob <= 0, low, prob))


def _autocast_enabled(device_type: str) -> bool:
    try:
        return torch.is_autocast_enabled(device_type)
    except TypeError:  # torch < 2.4 takes no device type
        return torch.is_autocast_cpu_enabled() if device_type == 'cpu' \
            else torch.is_autocast_enabled()


def similarity_matching_loss(prob: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy over every entry, with ``nn.BCELoss`` semantics (log >= -100).

    ``target`` may be the shared [S, S] map; it is broadcast over the batch. Under autocast
    (``--amp``) the BCE runs with autocast off: CUDA's autocast refuses ``binary_cross_entropy``.
    """
    if _autocast_enabled(prob.device.type):
        with torch.autocast(prob.device.type, enabled=False):
            return F.binary_cross_entropy(prob, target.to(prob.dtype).expand_as(prob))
    return F.binary_cross_entropy(prob, target.to(prob.dtype).expand_as(prob))


@MODELS.register_module()
class SimilarityMatchingLoss(nn.Module):
    """Similarity Matching loss on a batch of windows.

    ``gather`` picks the S positions from the neck output, and ``forward(z, gz)`` returns the BCE
    between the predicted map and the target; ``maps`` returns the intermediates as well.

    Args:
        num_positions: S, positions gathered per window (the map is S x S); authors: 8.
        step: stride between gathered positions, in snippets; authors: 2.
        step_start: first gathered position; authors: 4 (positions 4, 6, ..., 18 of a 23 window).
        coef: K, sharpness of the target; authors: 16.
        loss_weight: scales the loss (1 in the paper).
    """

    def __init__(self, num_positions: int = 8, step: int = 2, step_start: int = 4,
                 coef: float = 16.0, loss_weight: float = 1.0) -> None:
        super().__init__()
        gather_positions(step * (num_positions - 1) + step_start + 1, step, step_start,
                         num_positions)  # validates the knobs
        self.num_positions = num_positions
        self.step = step
        self.step_start = step_start
        self.coef = float(coef)
        self.loss_weight = float(loss_weight)
        self._targets: Dict[tuple, torch.Tensor] = {}

    @property
    def min_window(self) -> int:
        """The shortest window that contains every gathered position."""
        return self.step * (self.num_positions - 1) + self.step_start + 1

    def gather(self, feats: torch.Tensor) -> torch.Tensor:
        """[B, C, W] neck output -> [B, S, C] features at the gathered positions (plain selection)."""
        index = gather_positions(feats.shape[-1], self.step, self.step_start, self.num_positions,
                                 device=feats.device)
        return feats.index_select(-1, index).transpose(1, 2).contiguous()

    def target(self, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        """The [S, S] target in ``dtype`` (built once per dtype/device)."""
        key = (dtype, str(device))
        if key not in self._targets:
            self._targets[key] = target_map(self.num_positions, self.coef, dtype, device)
        return self._targets[key]

    def maps(self, z: torch.Tensor, gz: torch.Tensor) -> Dict[str, torch.Tensor]:
        """``cos``, ``prob``, ``target`` and ``loss`` for [B, S, C] inputs ``z`` and ``g(z)``."""
        if z.dim() != 3 or z.shape[1] != self.num_positions:
            raise ValueError(f'SimilarityMatchingLoss expects z [B, {self.num_positions}, C], got '
                             f'{list(z.shape)}')
        cos = similarity_map(z, gz)
        if cos.dtype in (torch.float16, torch.bfloat16):
            # 16-bit (AMP, .half()): 1 - 1e-5 would round to 1 and saturate the BCE
            cos = cos.float()
        prob = predicted_map(cos)
        target = self.target(prob.dtype, prob.device)
        loss = self.loss_weight * similarity_matching_loss(prob, target)
        return dict(cos=cos, prob=prob, target=target, loss=loss)

    def forward(self, z: torch.Tensor, gz: torch.Tensor) -> torch.Tensor:
        return self.maps(z, gz)['loss']

    def extra_repr(self) -> str:
        return (f'num_positions={self.num_positions}, step={self.step}, '
                f'step_start={self.step_start}, coef={self.coef}')
