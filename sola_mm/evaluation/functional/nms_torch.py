"""Batched 1-D Soft-NMS / NMS and score voting in PyTorch (CPU or GPU), the mmcv variant that
ActionFormer compiles as a C++ op (``libs/utils/csrc/nms_cpu.cpp``, ``libs/utils/nms.py``).

This variant differs from the G-TAD / BMN ones of :mod:`.soft_nms` (numpy) in four ways:

* no up-front sort: every step picks the **first** maximum of the remaining scores *in the
  current arrangement*, which the op permutes as it goes (the picked entry is swapped with the
  first remaining slot; a removed entry is replaced by the last one). The permutation is
  reproduced here, so ties resolve exactly as in the official op;
* the IoU has ``+1e-6`` in each length: ``inter / (len_i + len_j - inter)``, ``len = x2 - x1 +
  1e-6``;
* Gaussian decay ``exp(-iou**2 / sigma)`` of **every** later entry (no IoU > 0 test), and an entry
  whose decayed score is ``< min_score`` is removed;
* everything is float32 when the inputs are (the op only takes float32; ``sigma``,
  ``min_score`` and ``iou_threshold`` are C ``float`` s there and are rounded to the input dtype
  here).

The official loop is O(N^2) scalar work per call and runs until every entry is selected or
removed. Here one step is a handful of tensor operations over a padded ``[G, W]`` batch of
groups (videos x classes), and the loop stops after ``max_keep`` selections (what
``batched_nms`` keeps anyway). Hard NMS (``method='hard'``, official ``nms_1d_cpu``: scores
unchanged, entries with ``iou >= iou_threshold`` suppressed) runs through the same loop; its
official tie order comes from an unstable ``torch.sort`` and is not reproducible, here ties go to
the current arrangement.

:func:`score_voting` is ActionFormer's ``seg_voting`` (bounding-box voting) batched the same way.
"""
from __future__ import annotations

from typing import Optional, Sequence, Tuple

import torch

__all__ = ['padded_soft_nms', 'score_voting', 'group_pad', 'NMS_METHODS']

#: method names and the official ``method`` integers of the C++ op (0 vanilla, 1 linear,
#: 2 gaussian); ``'hard'`` is the separate ``nms_1d_cpu`` (greedy NMS, scores unchanged).
NMS_METHODS = {'vanilla': 0, 'linear': 1, 'gaussian': 2, 'hard': -1}


def group_pad(values: Sequence[torch.Tensor], group: torch.Tensor, num_groups: int,
              fill: Sequence[float]) -> Tuple[list, torch.Tensor, torch.Tensor]:
    """Scatter flat per-entry tensors into padded ``[num_groups, W, ...]`` rows.

    Entries keep their order inside a group (stable). Returns the padded tensors, the count per
    group ``[G]`` and each entry's column ``[N]``.
    """
    device = group.device
    counts = torch.bincount(group, minlength=num_groups)
    order = torch.argsort(group, stable=True)
    starts = torch.cumsum(counts, 0) - counts
    col = torch.empty_like(group)
    col[order] = torch.arange(group.numel(), device=device) - starts[group[order]]
    width = int(counts.max()) if group.numel() else 0
    out = []
    for v, f in zip(values, fill):
        padded = v.new_full((num_groups, width) + tuple(v.shape[1:]), f)
        padded[group, col] = v
        out.append(padded)
    return out, counts, col


def padded_soft_nms(x1: torch.Tensor, x2: torch.Tensor, scores: torch.Tensor,
                    counts: torch.Tensor, sigma: float = 0.5, min_score: float = 1e-3,
                    iou_threshold: float = 0.1, method: str = 'gaussian',
                    max_keep: Optional[int] = None
                    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Soft-NMS (or NMS) of ``G`` independent groups at once, identical to the official op.

    Args:
        x1, x2, scores: ``[G, W]`` padded rows; row ``g`` holds ``counts[g]`` entries.
        counts: ``[G]`` number of entries per row.
        sigma: Gaussian parameter (decay ``exp(-iou**2 / sigma)``).
        min_score: entries whose (decayed) score falls below it are removed (soft methods).
        iou_threshold: for ``'vanilla'``/``'linear'``/``'hard'``; unused by ``'gaussian'``.
        method: ``'gaussian'`` (ActionFormer's soft-NMS), ``'linear'``, ``'vanilla'`` (C++
            method 0) or ``'hard'`` (``nms_1d_cpu``; pre-filter by ``min_score`` yourself).
        max_keep: stop after this many selections per row (None: run to the end, like the op).

    Returns:
        ``inds [G, K]`` (input columns in selection order, -1 = none), ``dets [G, K, 3]``
        (``x1, x2, score at selection``; the op's ``dets``) and ``num_kept [G]``.
    """
    if method not in NMS_METHODS:
        raise ValueError(f'padded_soft_nms: method must be one of {sorted(NMS_METHODS)}, got '
                         f'{method!r}')
    if not (x1.shape == x2.shape == scores.shape) or scores.dim() != 2:
        raise ValueError(f'padded_soft_nms: x1, x2, scores must be [G, W] alike, got '
                         f'{tuple(x1.shape)}, {tuple(x2.shape)}, {tuple(scores.shape)}')
    num_rows, width = scores.shape
    device, dtype = scores.device, scores.dtype
    keep_cap = width if max_keep is None else max(0, min(int(max_keep), width))
    out_inds = torch.full((num_rows, keep_cap), -1, dtype=torch.long, device=device)
    out_dets = torch.zeros((num_rows, keep_cap, 3), dtype=dtype, device=device)
    if keep_cap == 0 or num_rows == 0:
        return out_inds, out_dets, torch.zeros(num_rows, dtype=torch.long, device=device)
    # the op's C floats: 1-element tensors (not Python scalars, which some CUDA kernels turn
    # into a multiplication by the reciprocal)
    neg_sigma_t = torch.tensor([-sigma], dtype=dtype, device=device)
    min_t = torch.tensor([min_score], dtype=dtype, device=device)
    thr_t = torch.tensor([iou_threshold], dtype=dtype, device=device)
    neg_inf = float('-inf')
    pos = torch.arange(width, device=device)
    alive = counts.to(device=device, dtype=torch.long).clone()
    used = pos[None, :] < alive[:, None]
    bad = used & ~(torch.isfinite(scores) & torch.isfinite(x1) & torch.isfinite(x2))
    if bool(bad.any()):
        row, col = (int(v) for v in torch.nonzero(bad)[0])
        raise ValueError(f'padded_soft_nms: row {row}, entry {col}: segment '
                         f'[{float(x1[row, col])}, {float(x2[row, col])}] / score '
                         f'{float(scores[row, col])} is not finite')
    # working state in the op's current arrangement, planes [x1, x2, score, area, input column];
    # selected, removed and padding slots hold score -inf (so inputs must be finite)
    state = torch.stack((x1, x2, scores, x2 - x1 + 1e-6, pos.to(dtype).expand(num_rows, width)))
    state[2].masked_fill_(~used, neg_inf)
    rows = torch.arange(num_rows, device=device)  # original row of each working row
    r = rows
    picked_rows, picked_steps, picked = [], [], []
    for i in range(keep_cap):
        sc = state[2]
        pick = sc.argmax(1)  # the first maximum of the remaining entries
        chosen = state[:, r, pick]  # [5, n]
        found = chosen[2] > neg_inf
        if not bool(found.all()):  # rows with nothing left are done: drop them
            sel = torch.nonzero(found).squeeze(1)
            if sel.numel() == 0:
                break
            state, alive, rows, pick, chosen = (state[:, sel], alive[sel], rows[sel], pick[sel],
                                                chosen[:, sel])
            r = torch.arange(rows.numel(), device=device)
            cur = int(alive.max())
            if cur < state.shape[2]:  # every row has shrunk: drop the dead columns
                state, pos = state[..., :cur].contiguous(), pos[:cur]
            sc = state[2]
        picked_rows.append(rows)
        picked_steps.append(i)
        picked.append(chosen)
        # the swap: the entry of slot i moves to the picked slot, slot i is now selected
        state[:, r, pick] = state[:, :, i].clone()
        sc[:, i] = neg_inf
        # decay (or suppress) every remaining entry
        x1_, x2_, _, area, _ = state
        ix1, ix2, _, iarea, _ = chosen[:, :, None]
        inter = torch.minimum(ix2, x2_).sub_(torch.maximum(ix1, x1_)).clamp_(min=0)
        ovr = inter.div_((iarea + area).sub_(inter))  # inter / (len_i + len_j - inter)
        if method == 'hard':
            kept = (sc > neg_inf) & (ovr < thr_t)
        else:
            if method == 'gaussian':  # -(ovr * ovr) / sigma == (ovr * ovr) / -sigma exactly
                sc.mul_(ovr.mul_(ovr).div_(neg_sigma_t).exp_())
                sc.nan_to_num_(nan=neg_inf, neginf=neg_inf)  # -inf * 0 (underflow): -inf
            else:
                if method == 'linear':
                    weight = torch.where(ovr >= thr_t, 1 - ovr, torch.ones_like(ovr))
                else:
                    weight = (ovr < thr_t).to(dtype)
                sc.copy_(torch.where(sc > neg_inf, sc * weight, sc))
            kept = sc >= min_t
        # removal = swap with the last entry, scanning left to right: kept entries left of the
        # new end stay, the holes there take the kept entries right of it, rightmost first
        new_alive = i + 1 + kept.sum(1)
        tail = pos >= new_alive[:, None]
        holes = (kept | tail).logical_not_() & (pos > i)
        if bool(holes.any()):
            hole_row, hole_col = torch.nonzero(holes, as_tuple=True)  # ascending per row
            donor_row, donor_col = torch.nonzero((kept & tail).flip(1), as_tuple=True)
            state[:, hole_row, hole_col] = state[:, donor_row, pos.numel() - 1 - donor_col]
        sc.masked_fill_(tail, neg_inf)
        alive = new_alive
    if picked:
        steps = torch.cat([torch.full((len(rw), ), s, dtype=torch.long, device=device)
                           for rw, s in zip(picked_rows, picked_steps)])
        rw = torch.cat(picked_rows)
        vals = torch.cat(picked, 1)
        out_dets[rw, steps] = vals[:3].t()
        out_inds[rw, steps] = vals[4].long()
    num_kept = (out_inds >= 0).sum(1)
    return out_inds, out_dets, num_kept


def score_voting(nms_segs: torch.Tensor, all_segs: torch.Tensor, all_scores: torch.Tensor,
                 all_counts: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """ActionFormer's ``seg_voting`` for ``G`` groups at once.

    ``seg_i <- sum_j w_ij seg_j / sum_j w_ij`` with ``w_ij = [iou_ij >= thr] * score_j * iou_ij``,
    ``j`` over the group's ``all_counts[g]`` entries of ``all_segs [G, W, 2]`` / ``all_scores
    [G, W]`` (ActionFormer: every pre-NMS candidate, with its original score); the IoU has no
    epsilon. ``nms_segs [G, K, 2]``; padded rows of it give garbage the caller ignores.
    """
    width = all_segs.shape[1]
    valid = torch.arange(width, device=all_segs.device)[None, :] < all_counts[:, None]
    a0, a1 = all_segs[:, None, :, 0], all_segs[:, None, :, 1]
    s0, s1 = nms_segs[:, :, None, 0], nms_segs[:, :, None, 1]
    inter = (torch.minimum(s1, a1) - torch.maximum(s0, a0)).clamp(min=0)
    iou = inter / ((s1 - s0) + (a1 - a0) - inter)
    weight = (iou >= iou_threshold).to(all_scores.dtype) * all_scores[:, None, :] * iou
    weight = torch.where(valid[:, None, :], weight, torch.zeros_like(weight))
    weight = weight / weight.sum(-1, keepdim=True)
    return torch.bmm(weight, all_segs)
