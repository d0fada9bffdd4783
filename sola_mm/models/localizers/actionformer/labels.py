"""ActionFormer's points and centre-sampling label assignment (official ``PointGenerator`` and
``label_points_single_video``), in input-grid units."""
from __future__ import annotations

from typing import List, Sequence, Tuple

import torch

__all__ = ['make_points', 'assign_labels']


def make_points(lengths: Sequence[int], strides: Sequence[int],
                regression_ranges: Sequence[Sequence[float]], dtype: torch.dtype,
                device=None) -> List[torch.Tensor]:
    """Per level ``[T_l, 4]`` rows ``(t, range_lo, range_hi, stride)`` with ``t = 0, s, 2s, ...``
    (no half-stride offset; ranges in input-grid units)."""
    points = []
    for length, stride, (lo, hi) in zip(lengths, strides, regression_ranges):
        t = torch.arange(length, dtype=dtype, device=device) * stride
        rest = torch.tensor([lo, hi, stride], dtype=dtype, device=device).expand(length, 3)
        points.append(torch.cat([t[:, None], rest], dim=1))
    return points


def assign_labels(points: torch.Tensor, gt_segments: torch.Tensor, gt_labels: torch.Tensor,
                  num_classes: int, center_sample: str = 'radius', radius: float = 1.5,
                  len_tol: float = 1e-3) -> Tuple[torch.Tensor, torch.Tensor]:
    """Targets of one video: ``(cls [FT, K] in points.dtype, offsets [FT, 2] / stride)``.

    ``points``: all levels concatenated ``[FT, 4]``; ``gt_segments [N, 2]`` keep their own dtype
    (float32 from the data side): lengths, centres and the ``min + 1e-3`` tie threshold are
    computed in it, distances to the points in the promoted dtype, as the official code does.

    A point is inside a GT when strictly inside its centre region ``[c - r s, c + r s]``
    clipped to the GT (``center_sample='radius'``; ``'none'``: strictly inside the GT), and its
    largest distance is within the level's range (inclusive). Among the matching GTs, every one
    whose length is within ``len_tol`` of the shortest adds its one-hot label (clamped to 1: multi
    hot); the offsets come from the first shortest one. Unmatched points: cls 0, offsets of the
    first GT (meaningless; the loss only reads positives).
    """
    num_pts = points.shape[0]
    if gt_segments.numel() == 0:
        return (points.new_zeros(num_pts, num_classes), points.new_zeros(num_pts, 2))
    t = points[:, 0, None]
    s0, s1 = gt_segments[:, 0], gt_segments[:, 1]
    left = t - s0[None]
    right = s1[None] - t
    reg = torch.stack((left, right), dim=-1)  # [FT, N, 2]
    if center_sample == 'radius':
        centre = 0.5 * (s0 + s1)
        reach = points[:, 3, None] * radius
        cb_left = t - torch.maximum(centre[None] - reach, s0[None])
        cb_right = torch.minimum(centre[None] + reach, s1[None]) - t
        inside = torch.minimum(cb_left, cb_right) > 0
    elif center_sample == 'none':
        inside = reg.min(dim=-1).values > 0
    else:
        raise ValueError(f"center_sample must be 'radius' or 'none', got {center_sample!r}")
    far = reg.max(dim=-1).values
    in_range = (far >= points[:, 1, None]) & (far <= points[:, 2, None])
    lens = (s1 - s0)[None].expand(num_pts, -1)
    lens = lens.masked_fill(~(inside & in_range), float('inf'))
    min_len, min_idx = lens.min(dim=1)
    tied = (lens <= min_len[:, None] + len_tol) & torch.isfinite(lens)
    one_hot = torch.nn.functional.one_hot(gt_labels.long(), num_classes).to(reg.dtype)
    cls = (tied.to(reg.dtype) @ one_hot).clamp_(0.0, 1.0)
    offsets = reg[torch.arange(num_pts, device=reg.device), min_idx] / points[:, 3, None]
    return cls, offsets
