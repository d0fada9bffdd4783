"""G-TAD losses (pure torch, no mmengine), as in the official ``loss_function.py`` of both branches.

* boundary (TEM / "node") loss: class-balanced BCE over the flattened batch, positives ``g > 0.5``;
* ``pem_reg`` (channel 0): MSE on the IoU map over all cells with IoU > 0.7 and random subsets of
  the (0.3, 0.7] and (0, 0.3] cells, sized like the > 0.7 set (``np.random.rand`` draws, mid first);
* ``pem_cls`` (channel 1): class-balanced BCE, positives ``g > 0.9``, negatives the other valid
  cells; THUMOS adds 10 to the positive count and 20 to the entry count (``count_offset=10``).

Totals: ActivityNet ``tem + 10 pem_reg + pem_cls``, THUMOS ``pem_reg + 10 pem_cls + tem``.

Labels are compared with the thresholds in float32, as officially (the dataset casts them with
``torch.Tensor``), whatever dtype they arrive in. Degenerate batches (no positive, no negative, no
selected cell) give finite losses here, where the official code returns NaN; every other case is the
official arithmetic.
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ['boundary_loss', 'pem_reg_loss', 'pem_cls_loss', 'gtad_loss']

EPS = 1e-6


def _balanced_coefficients(num_pos: torch.Tensor, num_entries: torch.Tensor
                           ) -> Tuple[torch.Tensor, torch.Tensor]:
    """``coef_1 = r / 2`` and ``coef_0 = r / (2 (r - 1))`` with ``r = entries / positives``; the
    coefficient of an empty side is set to a finite value (its terms are all masked out)."""
    ratio = num_entries / num_pos
    coef_1 = 0.5 * ratio
    coef_0 = 0.5 * ratio / (ratio - 1)
    zero = torch.zeros_like(ratio)
    coef_1 = torch.where(num_pos > 0, coef_1, zero)
    coef_0 = torch.where(num_pos > 0, coef_0, zero + 0.5)
    coef_0 = torch.where(num_pos < num_entries, coef_0, zero)
    return coef_0, coef_1


def boundary_loss(pred: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
    """Balanced BCE of start or end curves ``[B, T]`` (``bi_loss``), positives ``label > 0.5``."""
    pred = pred.reshape(-1)
    pos = (label.reshape(-1).float() > 0.5).to(pred.dtype)
    num_pos = pos.sum()
    coef_0, coef_1 = _balanced_coefficients(num_pos, torch.full_like(num_pos, pos.numel()))
    loss_pos = coef_1 * torch.log(pred + EPS) * pos
    loss_neg = coef_0 * torch.log(1.0 - pred + EPS) * (1.0 - pos)
    return -torch.mean(loss_pos + loss_neg)


def pem_reg_loss(pred: torch.Tensor, gt_iou: torch.Tensor, mask: torch.Tensor,
                 rand_mid: Optional[np.ndarray | torch.Tensor] = None,
                 rand_low: Optional[np.ndarray | torch.Tensor] = None
                 ) -> Tuple[torch.Tensor, torch.Tensor]:
    """IoU regression of channel 0. Returns ``(loss, weights)``.

    Args:
        pred: ``[B, D, T]`` regression map. gt_iou: masked IoU targets ``[B, D, T]``.
        mask: ``bm_mask [D, T]``.
        rand_mid, rand_low: uniform draws ``[B, D, T]``; drawn with ``np.random.rand`` (mid first,
            like the official code, so ``np.random.seed`` reproduces it) when not given.

    A mid cell is kept iff ``u_mid * is_mid > 1 - n_high / n_mid`` (in float32), likewise for low
    cells; ``loss = 0.5 * sum(w (p - g)^2) / sum(w)``.
    """
    g32 = gt_iou.float()
    mask32 = mask.to(g32)
    high = (g32 > 0.7).float()
    mid = ((g32 <= 0.7) & (g32 > 0.3)).float()
    low = ((g32 <= 0.3) & (g32 > 0.)).float() * mask32
    shape = tuple(gt_iou.shape)
    if rand_mid is None:
        rand_mid = np.random.rand(*shape)
    if rand_low is None:
        rand_low = np.random.rand(*shape)
    keep = []
    for bucket, draws in ((mid, rand_mid), (low, rand_low)):
        draws = torch.as_tensor(draws).to(device=g32.device, dtype=torch.float32)
        if tuple(draws.shape) != shape:
            raise ValueError(f'pem_reg_loss: random draws of shape {list(draws.shape)}, expected '
                             f'{list(shape)}')
        ratio = high.sum() / bucket.sum()
        keep.append((bucket * draws > (1. - ratio)).float())
    weights = (high + keep[0] + keep[1]).to(pred.dtype)
    gt = gt_iou.to(pred.dtype)
    loss = F.mse_loss(pred * weights, gt * weights, reduction='sum')
    return 0.5 * loss / weights.sum().clamp(min=1), weights


def pem_cls_loss(pred: torch.Tensor, gt_iou: torch.Tensor, mask: torch.Tensor,
                 count_offset: float = 0.) -> torch.Tensor:
    """Balanced BCE of channel 1: positives ``g > 0.9``, negatives ``g <= 0.9`` inside the mask.

    ``count_offset`` is added to the positive count and twice to the entry count (THUMOS: 10).
    """
    g32 = gt_iou.float()
    pos = (g32 > 0.9).to(pred.dtype)
    neg = (g32 <= 0.9).to(pred.dtype) * mask.to(pred.dtype)
    num_pos = count_offset + pos.sum()
    num_entries = count_offset + num_pos + neg.sum()
    coef_0, coef_1 = _balanced_coefficients(num_pos, num_entries)
    loss_pos = coef_1 * torch.log(pred + EPS) * pos
    loss_neg = coef_0 * torch.log(1.0 - pred + EPS) * neg
    return -torch.sum(loss_pos + loss_neg) / num_entries.clamp(min=1)


def gtad_loss(conf_map: torch.Tensor, start: torch.Tensor, end: torch.Tensor,
              label_iou: torch.Tensor, label_start: torch.Tensor, label_end: torch.Tensor,
              mask: torch.Tensor, weights: Sequence[float] = (1., 10., 1.),
              pem_cls_count_offset: float = 0.,
              rand_mid: Optional[np.ndarray | torch.Tensor] = None,
              rand_low: Optional[np.ndarray | torch.Tensor] = None) -> Dict[str, torch.Tensor]:
    """All G-TAD loss terms.

    Args:
        conf_map: ``[B, 2, D, T]`` (channel 0 reg, 1 cls). start, end: ``[B, T]``.
        label_iou: ``[B, D, T]`` unmasked IoU targets; label_start/end ``[B, T]``.
        mask: ``bm_mask [D, T]``.
        weights: ``(tem, pem_reg, pem_cls)`` weights of the total; ActivityNet ``(1, 10, 1)``,
            THUMOS ``(1, 1, 10)``.
        pem_cls_count_offset: 0 for ActivityNet, 10 for THUMOS.
        rand_mid, rand_low: pem_reg draws (see :func:`pem_reg_loss`).

    Returns:
        ``tem_start, tem_end, tem, pem_reg, pem_cls, total`` and ``pem_reg_weights``.
    """
    if conf_map.dtype in (torch.float16, torch.bfloat16):
        # AMP: labels rounded to 16 bits would cross the thresholds (0.7 -> 0.7002 is "high")
        conf_map, start, end = conf_map.float(), start.float(), end.float()
    mask = mask.to(conf_map)
    gt_iou = label_iou.to(conf_map) * mask
    reg, reg_weights = pem_reg_loss(conf_map[:, 0], gt_iou, mask, rand_mid, rand_low)
    cls = pem_cls_loss(conf_map[:, 1], gt_iou, mask, pem_cls_count_offset)
    tem_start = boundary_loss(start, label_start)
    tem_end = boundary_loss(end, label_end)
    tem = tem_start + tem_end
    w_tem, w_reg, w_cls = weights
    total = w_tem * tem + w_reg * reg + w_cls * cls
    return dict(tem_start=tem_start, tem_end=tem_end, tem=tem, pem_reg=reg, pem_cls=cls,
                total=total, pem_reg_weights=reg_weights)
