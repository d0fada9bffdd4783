"""ActionFormer inference post-processing, batched over videos, in PyTorch (CPU or GPU).

The official code (``meta_archs.inference_single_video`` / ``postprocessing``, ``utils/nms.py``,
the C++ ``softnms`` op) runs one video at a time, on the CPU, with a scalar NMS loop. The same
rules here, as tensor operations over a batch of videos (oracle facts 25-28):

1. **Candidates, per level** (:func:`select_candidates`): ``prob = sigmoid(logit) * mask``,
   flattened over (t, class); keep ``prob > pre_nms_thresh``; the ``pre_nms_topk`` best per level
   (descending, ties in (t, class) order); ``seg = (t - off_l * s, t + off_r * s)``; keep
   ``seg_len > duration_thresh``; levels concatenated in order.
2. **NMS** (:func:`batched_nms`): one group per (video, class) in ascending class id
   (``multiclass_nms``) or per video. Soft-NMS is the official op
   (:func:`~sola_mm.evaluation.functional.nms_torch.padded_soft_nms`: first maximum of the
   permuted arrangement, ``exp(-iou**2 / sigma)``, removal below ``min_score``), each group capped
   at ``max_seg_num``. Class-agnostic mode then applies **score voting** against every candidate
   (``voting_thresh > 0``; never in multiclass mode). Per video: sort by score (descending, stable)
   and cap at ``max_seg_num``. ``nms_method='hard'`` is greedy NMS after dropping scores
   ``<= min_score``; ``'none'`` returns the candidates as they are.
3. **Seconds** (:func:`grid_to_seconds`): ``(seg * feat_stride + 0.5 * num_frames) / fps`` in the
   segments' dtype, then values ``<= 0`` become ``0 * value`` (so ``-0.0`` occurs, as
   officially) and values ``>= duration`` become ``duration``.

Everything keeps the dtype of the head outputs (the official code is float32; the float64 path
exists for parity checks of a float64 model). Sorting is stable, so exact score ties resolve to
the lower index; the official ``torch.sort`` calls are unstable there (no fixture has a tie).
"""
from __future__ import annotations

from typing import Dict, List, Mapping, Optional, Sequence

import torch
import torch.nn.functional as F

from sola_mm.evaluation.functional.nms_torch import group_pad, padded_soft_nms, score_voting

__all__ = ['DEFAULT_TEST_CFG', 'Candidates', 'select_candidates', 'concat_candidates',
           'batched_nms', 'grid_to_seconds', 'actionformer_postprocess',
           'actionformer_postprocess_batch', 'actionformer_postprocess_videos']

#: official defaults of ``test_cfg`` (``libs/core/config.py``); ``ext_score_file`` is handled by
#: the metric (``TALDetectionMetric(classifier_file=..., fusion_score='sqrt')``).
DEFAULT_TEST_CFG = dict(pre_nms_thresh=0.001, pre_nms_topk=5000, iou_threshold=0.1,
                        min_score=0.01, max_seg_num=1000, nms_method='soft', nms_sigma=0.5,
                        duration_thresh=0.05, multiclass_nms=True, voting_thresh=0.75)
_META_KEYS = ('fps', 'duration', 'feat_stride', 'feat_num_frames')


class Candidates:
    """Padded candidates of ``B`` videos: ``segs [B, N, 2]`` (grid units), ``scores [B, N]``,
    ``labels [B, N]``, ``counts [B]`` and ``level_counts [B, L]``."""

    __slots__ = ('segs', 'scores', 'labels', 'counts', 'level_counts')

    def __init__(self, segs, scores, labels, counts, level_counts) -> None:
        self.segs, self.scores, self.labels = segs, scores, labels
        self.counts, self.level_counts = counts, level_counts

    def video(self, b: int):
        """``(segs [n, 2], scores [n], labels [n])`` of video ``b``."""
        n = int(self.counts[b])
        return self.segs[b, :n], self.scores[b, :n], self.labels[b, :n]


def _as_batch(x: torch.Tensor, dims: int) -> torch.Tensor:
    return x.unsqueeze(0) if x.dim() == dims - 1 else x


def select_candidates(points: Sequence[torch.Tensor], cls_logits: Sequence[torch.Tensor],
                      reg_offsets: Sequence[torch.Tensor], masks: Sequence[torch.Tensor],
                      pre_nms_thresh: float, pre_nms_topk: int,
                      duration_thresh: float) -> Candidates:
    """Step 1 (module docstring) for ``B`` videos.

    Args:
        points: per level ``[T_l, 4]`` ``(t, range_lo, range_hi, stride)``.
        cls_logits: per level ``[B, T_l, K]`` logits (or ``[T_l, K]`` for one video).
        reg_offsets: per level ``[B, T_l, 2]`` offsets in stride units.
        masks: per level ``[B, T_l]`` bool (True = valid position).
    """
    if not len(points) == len(cls_logits) == len(reg_offsets) == len(masks):
        raise ValueError(f'select_candidates: {len(points)} point levels, {len(cls_logits)} '
                         f'logit levels, {len(reg_offsets)} offset levels, {len(masks)} mask '
                         'levels')
    blocks_seg, blocks_score, blocks_label, blocks_valid = [], [], [], []
    for level, (pts, logit, off, mask) in enumerate(zip(points, cls_logits, reg_offsets, masks)):
        logit, off, mask = _as_batch(logit, 3), _as_batch(off, 3), _as_batch(mask, 2)
        num_videos, length, num_classes = logit.shape
        if off.shape != (num_videos, length, 2) or mask.shape != (num_videos, length) or \
                pts.shape != (length, 4):
            raise ValueError(f'select_candidates: level {level}: logits {tuple(logit.shape)}, '
                             f'offsets {tuple(off.shape)}, mask {tuple(mask.shape)}, points '
                             f'{tuple(pts.shape)} do not match [B, T, K] / [B, T, 2] / [B, T] / '
                             '[T, 4]')
        prob = (logit.sigmoid() * mask.unsqueeze(-1)).flatten(1)
        keep = prob > pre_nms_thresh
        ranked = torch.where(keep, prob, torch.full_like(prob, float('-inf')))
        top = max(0, min(int(pre_nms_topk), prob.shape[1]))
        score, idx = torch.sort(ranked, dim=1, descending=True, stable=True)
        score, idx = score[:, :top], idx[:, :top]
        in_top = torch.arange(top, device=prob.device)[None, :] < keep.sum(1, keepdim=True)
        pt = torch.div(idx, num_classes, rounding_mode='floor')
        label = torch.fmod(idx, num_classes)
        off_sel = off.gather(1, pt.unsqueeze(-1).expand(-1, -1, 2))
        pts_sel = pts[pt]  # [B, top, 4]
        left = pts_sel[..., 0] - off_sel[..., 0] * pts_sel[..., 3]
        right = pts_sel[..., 0] + off_sel[..., 1] * pts_sel[..., 3]
        valid = in_top & ((right - left) > duration_thresh)
        blocks_seg.append(torch.stack((left, right), -1))
        blocks_score.append(score)
        blocks_label.append(label)
        blocks_valid.append(valid)
    valid = torch.cat(blocks_valid, 1)
    level_counts = torch.stack([v.sum(1) for v in blocks_valid], 1)
    video, col = torch.nonzero(valid, as_tuple=True)  # row-major: level order kept
    seg = torch.cat(blocks_seg, 1)[video, col]
    score = torch.cat(blocks_score, 1)[video, col]
    label = torch.cat(blocks_label, 1)[video, col]
    (segs, scores, labels), counts, _ = group_pad(
        [seg, score, label], video, valid.shape[0], (0., float('-inf'), -1))
    return Candidates(segs, scores, labels, counts, level_counts)


def concat_candidates(parts: Sequence[Candidates]) -> Candidates:
    """One padded batch from the candidates of separately run videos (any lengths)."""
    if not parts:
        raise ValueError('concat_candidates: no candidates')
    width = max(p.scores.shape[1] for p in parts)

    def pad(x, fill):
        return F.pad(x, (0, 0, 0, width - x.shape[1]) if x.dim() == 3 else
                     (0, width - x.shape[1]), value=fill)

    levels = {p.level_counts.shape[1] for p in parts if p.level_counts is not None}
    return Candidates(torch.cat([pad(p.segs, 0.) for p in parts]),
                      torch.cat([pad(p.scores, float('-inf')) for p in parts]),
                      torch.cat([pad(p.labels, -1) for p in parts]),
                      torch.cat([p.counts for p in parts]),
                      torch.cat([p.level_counts for p in parts]) if len(levels) == 1 and all(
                          p.level_counts is not None for p in parts) else None)


def _flat(cand: Candidates):
    """Flat ``(video, segs, scores, labels)`` of the padded candidates (video-major order)."""
    width = cand.scores.shape[1]
    valid = torch.arange(width, device=cand.scores.device)[None, :] < cand.counts[:, None]
    video, col = torch.nonzero(valid, as_tuple=True)
    return video, cand.segs[video, col], cand.scores[video, col], cand.labels[video, col]


def batched_nms(cand: Candidates, iou_threshold: float, min_score: float, max_seg_num: int,
                nms_method: str = 'soft', multiclass: bool = True, sigma: float = 0.5,
                voting_thresh: float = 0.75) -> Candidates:
    """Step 2 (module docstring): the official ``batched_nms`` for every video at once.

    Returns the kept segments per video, sorted by score and capped (``level_counts`` None).
    """
    if nms_method not in ('soft', 'hard', 'none'):
        raise ValueError(f"nms_method must be 'soft', 'hard' or 'none', got {nms_method!r}")
    if nms_method == 'none':
        return cand
    max_seg_num = int(max_seg_num)
    if max_seg_num < 1:
        raise ValueError(f'max_seg_num must be >= 1, got {max_seg_num}')
    num_videos = cand.scores.shape[0]
    video, segs, scores, labels = _flat(cand)
    if multiclass:  # groups (video, class), classes ascending within a video
        num_classes = int(labels.max()) + 1 if labels.numel() else 1
        uniq, group = torch.unique(video * num_classes + labels, sorted=True,
                                   return_inverse=True)
        group_video = torch.div(uniq, num_classes, rounding_mode='floor')
    else:
        group, group_video = video, torch.arange(num_videos, device=video.device)
    num_groups = group_video.numel()
    (gx, gscore, glabel), gcount, _ = group_pad([segs, scores, labels], group, num_groups,
                                                (0., 0., -1))
    if num_groups == 0 or gx.shape[1] == 0:
        empty = cand.segs[:, :0]
        return Candidates(empty, cand.scores[:, :0], cand.labels[:, :0],
                          torch.zeros_like(cand.counts), None)
    nms_x, nms_score, nms_label, nms_count = gx, gscore, glabel, gcount
    if nms_method == 'hard' and min_score > 0:  # the official NMSop filters first ...
        keep = scores > min_score
        (nms_x, nms_score, nms_label), nms_count, _ = group_pad(
            [segs[keep], scores[keep], labels[keep]], group[keep], num_groups, (0., 0., -1))
    inds, dets, nkept = padded_soft_nms(
        nms_x[..., 0], nms_x[..., 1], nms_score, nms_count, sigma=sigma, min_score=min_score,
        iou_threshold=iou_threshold, method='gaussian' if nms_method == 'soft' else 'hard',
        max_keep=max_seg_num)
    kept_segs = dets[..., :2]
    if not multiclass and voting_thresh > 0:  # ... but votes with every candidate
        kept_segs = score_voting(kept_segs, gx, gscore, gcount, voting_thresh)
    kept_labels = nms_label.gather(1, inds.clamp(min=0))
    # per video: groups in order (classes ascending), then a stable sort by score and the cap
    k = inds.shape[1]
    valid = torch.arange(k, device=inds.device)[None, :] < nkept[:, None]
    g, c = torch.nonzero(valid, as_tuple=True)
    (vsegs, vscores, vlabels), vcounts, _ = group_pad(
        [kept_segs[g, c], dets[g, c, 2], kept_labels[g, c]], group_video[g], num_videos,
        (0., float('-inf'), -1))
    order = torch.sort(vscores, dim=1, descending=True, stable=True)[1][:, :max_seg_num]
    vcounts = vcounts.clamp(max=max_seg_num)
    return Candidates(vsegs.gather(1, order.unsqueeze(-1).expand(-1, -1, 2)),
                      vscores.gather(1, order), vlabels.gather(1, order), vcounts, None)


def _meta_tensor(metas: Sequence[Mapping], key: str, like: torch.Tensor) -> torch.Tensor:
    values = []
    for i, meta in enumerate(metas):
        value = meta.get(key)
        if value is None and key == 'duration':
            value = meta.get('duration_second')
        if value is None:
            raise KeyError(f'ActionFormer post-processing: video {meta.get("video_name", i)!r} '
                           f'lacks meta {key!r} (needs {list(_META_KEYS)})')
        values.append(float(value))
    return torch.tensor(values, dtype=like.dtype, device=like.device)[:, None, None]


def grid_to_seconds(segs: torch.Tensor, metas: Sequence[Mapping]) -> torch.Tensor:
    """Step 3 (module docstring): ``[B, N, 2]`` grid segments -> seconds, per video meta."""
    stride = _meta_tensor(metas, 'feat_stride', segs)
    half = torch.tensor([0.5 * float(m['feat_num_frames']) for m in metas], dtype=segs.dtype,
                        device=segs.device)[:, None, None]
    fps = _meta_tensor(metas, 'fps', segs)
    duration = _meta_tensor(metas, 'duration', segs)
    sec = (segs * stride + half) / fps
    sec = torch.where(sec <= 0, sec * 0.0, sec)
    return torch.where(sec >= duration, sec * 0.0 + duration, sec)


def _test_cfg(test_cfg: Optional[Mapping]) -> dict:
    unknown = set(test_cfg or {}) - set(DEFAULT_TEST_CFG) - {'ext_score_file'}
    if unknown:
        raise ValueError(f'ActionFormer test_cfg: unknown keys {sorted(unknown)}; allowed '
                         f'{sorted(DEFAULT_TEST_CFG)}')
    return {**DEFAULT_TEST_CFG, **(test_cfg or {})}


def _candidates(heads, cfg: dict) -> Candidates:
    return select_candidates(*heads, cfg['pre_nms_thresh'], cfg['pre_nms_topk'],
                             cfg['duration_thresh'])


def _detections(cand: Candidates, metas: Sequence[Mapping], cfg: dict) -> List[Dict]:
    if len(metas) != cand.scores.shape[0]:
        raise ValueError(f'ActionFormer post-processing: {cand.scores.shape[0]} videos but '
                         f'{len(metas)} metas')
    det = batched_nms(cand, cfg['iou_threshold'], cfg['min_score'], cfg['max_seg_num'],
                      cfg['nms_method'], cfg['multiclass_nms'], cfg['nms_sigma'],
                      cfg['voting_thresh'])
    seconds = grid_to_seconds(det.segs, metas)
    out = []
    for b in range(len(metas)):
        n = int(det.counts[b])
        out.append(dict(segments=seconds[b, :n], scores=det.scores[b, :n],
                        labels=det.labels[b, :n]))
    return out


def actionformer_postprocess_batch(points: Sequence[torch.Tensor],
                                   cls_logits: Sequence[torch.Tensor],
                                   reg_offsets: Sequence[torch.Tensor],
                                   masks: Sequence[torch.Tensor], metas: Sequence[Mapping],
                                   test_cfg: Optional[Mapping] = None) -> List[Dict]:
    """Detections of ``B`` videos (steps 1-3) from the heads' outputs.

    Args:
        points: per level ``[T_l, 4]``.
        cls_logits, reg_offsets, masks: per level ``[B, T_l, K]``, ``[B, T_l, 2]``, ``[B, T_l]``.
        metas: per video ``fps``, ``duration`` (or ``duration_second``), ``feat_stride``,
            ``feat_num_frames``.
        test_cfg: official ``test_cfg`` keys; missing ones take :data:`DEFAULT_TEST_CFG`.

    Returns:
        per video ``dict(segments [R, 2] seconds, scores [R], labels [R] int64)`` sorted by
        score, on the input device.
    """
    cfg = _test_cfg(test_cfg)
    return _detections(_candidates((points, cls_logits, reg_offsets, masks), cfg), metas, cfg)


def actionformer_postprocess_videos(heads: Sequence[Sequence], metas: Sequence[Mapping],
                                    test_cfg: Optional[Mapping] = None) -> List[Dict]:
    """Like :func:`actionformer_postprocess_batch` for videos run separately (as the official
    inference does, each padded to its own length): ``heads[i] = (points, cls_logits,
    reg_offsets, masks)`` of video ``i`` (per level ``[T_l, 4]``, ``[T_l, K]`` or ``[1, T_l, K]``,
    ...). Candidates are selected per video, then one NMS loop runs for all of them."""
    cfg = _test_cfg(test_cfg)
    parts = []
    for points, logits, offsets, masks in heads:
        parts.append(_candidates((points, [_as_batch(c, 3) for c in logits],
                                  [_as_batch(o, 3) for o in offsets],
                                  [_as_batch(m, 2) for m in masks]), cfg))
    return _detections(concat_candidates(parts), metas, cfg)


def actionformer_postprocess(points: Sequence[torch.Tensor], cls_logits: Sequence[torch.Tensor],
                             reg_offsets: Sequence[torch.Tensor], masks: Sequence[torch.Tensor],
                             meta: Mapping, test_cfg: Optional[Mapping] = None) -> Dict:
    """:func:`actionformer_postprocess_batch` for one video (``[T_l, K]``, ``[T_l, 2]``,
    ``[T_l]`` per level)."""
    return actionformer_postprocess_batch(
        points, [_as_batch(c, 3) for c in cls_logits], [_as_batch(o, 3) for o in reg_offsets],
        [_as_batch(m, 2) for m in masks], [meta], test_cfg)[0]
