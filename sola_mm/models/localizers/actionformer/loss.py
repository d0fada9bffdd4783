"""ActionFormer's losses: sigmoid focal loss and the 1-D centre DIoU loss (official formulas).

Computed in the inputs' dtype, at least float32: the official functions cast to float32, which
is what a float32 (or mixed-precision) model gets here too; a float64 model gets float64 losses.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ['sigmoid_focal_loss', 'ctr_diou_loss_1d']


def _at_least_float32(x: torch.Tensor) -> torch.Tensor:
    return x if x.dtype == torch.float64 else x.float()


def sigmoid_focal_loss(logits: torch.Tensor, targets: torch.Tensor, alpha: float = 0.25,
                       gamma: float = 2.0) -> torch.Tensor:
    """Summed focal loss (RetinaNet) over every element; targets may be smoothed."""
    logits, targets = _at_least_float32(logits), _at_least_float32(targets).to(
        _at_least_float32(logits).dtype)
    p = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction='none')
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    return loss.sum()


def ctr_diou_loss_1d(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-8
                     ) -> torch.Tensor:
    """Summed DIoU loss of (left, right) offsets from the same centre point ``[N, 2]``:
    ``1 - iou + (rho / len_c)^2`` with ``rho = 0.5 (rp - lp - rg + lg)``."""
    pred = _at_least_float32(pred)
    target = _at_least_float32(target).to(pred.dtype)
    if bool((pred < 0).any()) or bool((target < 0).any()):
        raise ValueError('ctr_diou_loss_1d: offsets must be non-negative')
    lp, rp = pred[:, 0], pred[:, 1]
    lg, rg = target[:, 0], target[:, 1]
    inter = torch.minimum(lp, lg) + torch.minimum(rp, rg)
    union = (lp + rp) + (lg + rg) - inter
    iou = inter / union.clamp(min=eps)
    len_c = torch.maximum(lp, lg) + torch.maximum(rp, rg)
    rho = 0.5 * (rp - lp - rg + lg)
    return (1.0 - iou + torch.square(rho / len_c.clamp(min=eps))).sum()
