"""G-TAD (Xu et al., CVPR 2020) as an MMAction2 localizer, in pure PyTorch.

Faithful to the official code of both branches (``anet`` for ActivityNet, ``master`` for THUMOS14):
grouped input conv, four GCNeXt blocks, SGAlign (inner + kNN-context Align1D features over widened
anchors), a 2-D head giving the ``[B, 2, D, T]`` confidence map (channel 0 reg, 1 cls) and the
start/end curves; official labels, losses and post-processing. The only structural change is the
fused SGAlign + first head conv (``fused_sgalign=True``), which gives the same outputs with a small
fraction of the memory; ``fused_sgalign=False`` materialises the SGAlign tensor like the original.
"""
from __future__ import annotations

import copy
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.model import BaseModel
from torch import nn

from mmaction.registry import MODELS
from sola_mm.models.ops.inference_chunks import check_chunk_size, per_chunk
from .gcnext import GCNeXt
from .labels import anet_labels, proposal_mask, thumos_window_labels
from .loss import gtad_loss
from .postprocess import anet_proposals, anet_segments, apply_soft_nms, window_proposals
from .sgalign import SGAlign

__all__ = ['GTAD', 'OFFICIAL_SETTINGS', 'gtad_official_cfg', 'convert_official_state_dict']

#: Official settings of the two branches (model, loss and post-processing arguments of GTAD).
OFFICIAL_SETTINGS: Dict[str, dict] = {
    'anet': dict(variant='anet', feat_dim=400, temporal_dim=100, max_duration=100, h_dim_1d=256,
                 h_dim_2d=128, h_dim_3d=512, inner_bins=32, context_bins=4, kernel_2d=1,
                 loss_weights=dict(tem=1., pem_reg=10., pem_cls=1.), pem_cls_count_offset=0.,
                 soft_nms_sigma=0.8, max_proposals=100, max_proposal_frames=None),
    'thumos': dict(variant='thumos', feat_dim=2048, temporal_dim=256, max_duration=64,
                   h_dim_1d=256, h_dim_2d=128, h_dim_3d=512, inner_bins=16, context_bins=16,
                   kernel_2d=3, loss_weights=dict(tem=1., pem_reg=1., pem_cls=10.),
                   pem_cls_count_offset=10., soft_nms_sigma=0.46, max_proposals=200,
                   max_proposal_frames=300.),
}


def gtad_official_cfg(variant: str = 'anet', **overrides) -> dict:
    """Model config ``dict(type='GTAD', ...)`` with a branch's official settings, plus overrides."""
    if variant not in OFFICIAL_SETTINGS:
        raise ValueError(f"gtad_official_cfg: variant must be one of {sorted(OFFICIAL_SETTINGS)}, "
                         f'got {variant!r}')
    cfg = dict(type='GTAD', **copy.deepcopy(OFFICIAL_SETTINGS[variant]))
    cfg.update(overrides)
    return cfg


def convert_official_state_dict(state_dict: Mapping[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Official G-TAD weights -> this module's state dict.

    Accepts a checkpoint dict (``{'state_dict': ...}``), DataParallel keys (``module.``) and the
    oracle's ``sd/`` prefix. Parameter names are otherwise the same (``backbone1.0``, ``regu_s.1``,
    ``localization.8``, ...); ``goi_align`` has no parameters.
    """
    if 'state_dict' in state_dict and isinstance(state_dict['state_dict'], Mapping):
        state_dict = state_dict['state_dict']
    out = {}
    for key, value in state_dict.items():
        for prefix in ('sd/', 'module.'):
            if key.startswith(prefix):
                key = key[len(prefix):]
        out[key] = torch.as_tensor(value)
    return out


def _as_numpy(value, name: str, video: str) -> np.ndarray:
    if value is None:
        raise KeyError(f'GTAD: sample {video!r} has no {name}')
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float64)


@MODELS.register_module()
class GTAD(BaseModel):
    """G-TAD localizer: ``forward(inputs [B, C, T] or list of [C, T], data_samples, mode)``.

    The defaults are the official ActivityNet settings (``anet`` branch). The official THUMOS14
    settings (``master`` branch; ``gtad_official_cfg('thumos')``) are: ``variant='thumos'``,
    ``feat_dim=2048`` (flow 1024 + rgb 1024 TSN features), ``temporal_dim=256``,
    ``max_duration=64``, widths 256/128/512, ``inner_bins=16``, ``context_bins=16``,
    ``kernel_2d=3`` (padding 1), ``loss_weights=dict(tem=1, pem_reg=1, pem_cls=10)``,
    ``pem_cls_count_offset=10``, ``soft_nms_sigma=0.46``, ``max_proposals=200``,
    ``max_proposal_frames=300``; windows of 256 snippets, one every ``snippet_stride=5`` frames,
    training windows at stride 128 kept if some GT has IoA > 0.9; Adam lr 4e-5, weight decay 1e-4,
    gradient-norm clip 1, batch 8, 10 epochs, lr x0.1 every 5. ActivityNet trains with Adam
    lr 4e-3 (opts default; the paper's script may override), weight decay 1e-4, batch 16.

    Args:
        feat_dim: input width C (divisible by 4: the input conv has 4 groups).
        temporal_dim: T snippets per video (ActivityNet: resized to 100) or per window.
        max_duration: D proposal durations; ``variant='anet'`` needs D == T, ``'thumos'`` D <= T.
        h_dim_1d, h_dim_2d, h_dim_3d: widths of the 1-D backbone (divisible by 4), the 2-D head,
            and the first head conv.
        knn_k, gcnext_groups, gcnext_width_group: GCNeXt graph size and grouped width (3, 32, 4).
        inner_bins, context_bins: SGAlign bins Ri / Rc. sampling_ratio: Align1D samples per bin
            (0 = adaptive, official). expand_ratio: anchor widening (0.5).
        kernel_2d: kernel of the two middle head convs (padding ``kernel_2d // 2``).
        variant: ``'anet'`` (whole-video predictions in normalised time, boundary candidates) or
            ``'thumos'`` (sliding windows: all cells, frames, window keys in the output).
        label_style: ``'anet'`` (from ``gt_instances.gt_bbox``) or ``'thumos'`` (from the window
            metainfo ``gt_frames``, ``window_start_snippet``, ``snippet_stride``); defaults to
            ``variant``.
        loss_weights: weights of ``tem`` (boundary / "node"), ``pem_reg`` and ``pem_cls``; keys
            not given keep the variant's official value (ActivityNet 1/10/1, THUMOS 1/1/10).
        pem_cls_count_offset: THUMOS's ``+10`` on the pem_cls counts (0 for ActivityNet); None =
            the variant's.
        soft_nms_sigma, max_proposals: Soft-NMS sigma (divides IoU^2) and the proposals kept;
            None = the variant's (ActivityNet 0.8 / 100, THUMOS 0.46 / 200).
        max_proposal_frames: proposals at least this long (frames) get score 0 before Soft-NMS
            (THUMOS's 300); None disables.
        fused_sgalign: apply the first head conv before the Align1D interpolation (same result,
            6% of the plain path's training-step peak at the ActivityNet shape, batch 16, and ~30x
            faster on CPU; tools/benchmark_gtad.py). False = the official order.
        head_chunk_size: videos per pass of the fused 2-D head when no gradient is needed (test,
            predict): 1 (default) keeps each video's maps in cache, faster and ~1/B of the
            memory at batch B; None runs the whole batch at once. Training is unaffected.
    """

    batched_predict = True

    def __init__(self,
                 feat_dim: int = 400,
                 temporal_dim: int = 100,
                 max_duration: int = 100,
                 h_dim_1d: int = 256,
                 h_dim_2d: int = 128,
                 h_dim_3d: int = 512,
                 knn_k: int = 3,
                 gcnext_groups: int = 32,
                 gcnext_width_group: int = 4,
                 inner_bins: int = 32,
                 context_bins: int = 4,
                 sampling_ratio: int = 0,
                 expand_ratio: float = 0.5,
                 kernel_2d: int = 1,
                 variant: str = 'anet',
                 label_style: Optional[str] = None,
                 loss_weights: Optional[Dict[str, float]] = None,
                 pem_cls_count_offset: Optional[float] = None,
                 soft_nms_sigma: Optional[float] = None,
                 max_proposals: Optional[int] = None,
                 max_proposal_frames: Optional[float] = None,
                 fused_sgalign: bool = True,
                 head_chunk_size: Optional[int] = 1,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if variant not in ('anet', 'thumos'):
            raise ValueError(f"GTAD: variant must be 'anet' or 'thumos', got {variant!r}")
        label_style = label_style or variant
        if label_style not in ('anet', 'thumos'):
            raise ValueError(f"GTAD: label_style must be 'anet' or 'thumos', got {label_style!r}")
        for name, value in (('feat_dim', feat_dim), ('h_dim_1d', h_dim_1d)):
            if value < 4 or value % 4:
                raise ValueError(f'GTAD: {name}={value} must be a positive multiple of 4 (the '
                                 'input conv has groups=4)')
        if variant == 'anet' and max_duration != temporal_dim:
            raise ValueError(f"GTAD(variant='anet'): max_duration must equal temporal_dim (the "
                             f'official anet branch), got D={max_duration}, T={temporal_dim}')
        if not 1 <= max_duration <= temporal_dim:
            raise ValueError(f'GTAD: need 1 <= max_duration <= temporal_dim, got '
                             f'D={max_duration}, T={temporal_dim}')
        if kernel_2d < 1 or kernel_2d % 2 == 0:
            raise ValueError(f'GTAD: kernel_2d must be odd and positive, got {kernel_2d}')
        official = OFFICIAL_SETTINGS[variant]
        weights = dict(official['loss_weights'])
        if loss_weights is not None:
            unknown = set(loss_weights) - set(weights)
            if unknown:
                raise ValueError(f'GTAD: unknown loss_weights keys {sorted(unknown)}; expected '
                                 f'{sorted(weights)}')
            weights.update(loss_weights)

        self.feat_dim = feat_dim
        self.temporal_dim = temporal_dim
        self.max_duration = max_duration
        self.variant = variant
        self.label_style = label_style
        self.loss_weights = weights
        self.pem_cls_count_offset = float(official['pem_cls_count_offset']
                                          if pem_cls_count_offset is None else pem_cls_count_offset)
        self.soft_nms_sigma = official['soft_nms_sigma'] if soft_nms_sigma is None \
            else soft_nms_sigma
        self.max_proposals = official['max_proposals'] if max_proposals is None else max_proposals
        self.max_proposal_frames = max_proposal_frames
        self.fused_sgalign = fused_sgalign
        self.head_chunk_size = check_chunk_size('GTAD', head_chunk_size)

        def gcnext() -> GCNeXt:
            return GCNeXt(h_dim_1d, k=knn_k, groups=gcnext_groups, width_group=gcnext_width_group)

        self.backbone1 = nn.Sequential(
            nn.Conv1d(feat_dim, h_dim_1d, kernel_size=3, padding=1, groups=4),
            nn.ReLU(inplace=True), gcnext())
        self.regu_s = nn.Sequential(gcnext(), nn.Conv1d(h_dim_1d, 1, kernel_size=1), nn.Sigmoid())
        self.regu_e = nn.Sequential(gcnext(), nn.Conv1d(h_dim_1d, 1, kernel_size=1), nn.Sigmoid())
        self.backbone2 = nn.Sequential(gcnext())
        self.goi_align = SGAlign(temporal_dim, max_duration, inner_bins, context_bins, k=knn_k,
                                 sampling_ratio=sampling_ratio, expand_ratio=expand_ratio)
        pad = kernel_2d // 2
        self.localization = nn.Sequential(
            nn.Conv2d(h_dim_1d * (inner_bins + context_bins), h_dim_3d, kernel_size=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(h_dim_3d, h_dim_2d, kernel_size=1), nn.ReLU(inplace=True),
            nn.Conv2d(h_dim_2d, h_dim_2d, kernel_size=kernel_2d, padding=pad),
            nn.ReLU(inplace=True),
            nn.Conv2d(h_dim_2d, h_dim_2d, kernel_size=kernel_2d, padding=pad),
            nn.ReLU(inplace=True),
            nn.Conv2d(h_dim_2d, 2, kernel_size=1), nn.Sigmoid())
        self.register_buffer('bm_mask', torch.from_numpy(proposal_mask(temporal_dim, max_duration)),
                             persistent=False)

    # ----------------------------------------------------------------------------- network
    def _stack(self, inputs: Union[torch.Tensor, Sequence[torch.Tensor]]) -> torch.Tensor:
        x = inputs if isinstance(inputs, torch.Tensor) else torch.stack(list(inputs))
        if x.dim() != 3 or x.shape[1] != self.feat_dim or x.shape[2] != self.temporal_dim:
            raise ValueError(f'GTAD expects inputs [B, feat_dim={self.feat_dim}, '
                             f'temporal_dim={self.temporal_dim}], got {list(x.shape)}')
        return x

    def _head(self, gcnext_feature: torch.Tensor) -> torch.Tensor:
        if not self.fused_sgalign:
            return self.localization(self.goi_align.features(gcnext_feature))
        first = self.localization[0]
        # the per-bin projection for the whole batch (one matmul), then the interpolation and the
        # rest of the head, in chunks of videos at test time (.ops.inference_chunks);
        # localization[1] (ReLU) is applied inside the interpolation, video by video
        z = self.goi_align.project_bins(gcnext_feature, first.weight)
        return per_chunk(self._head_after_projection, z, self.head_chunk_size)

    def _head_after_projection(self, z: torch.Tensor) -> torch.Tensor:
        first = self.localization[0]
        return self.localization[2:](self.goi_align.interpolate(z, first.bias, relu=True))

    def _forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(conf_map [B, 2, D, T], start [B, T], end [B, T])``."""
        base_feature = self.backbone1(x)
        gcnext_feature = self.backbone2(base_feature)
        start = self.regu_s(base_feature).squeeze(1)
        end = self.regu_e(base_feature).squeeze(1)
        return self._head(gcnext_feature), start, end

    def forward_intermediates(self, inputs: Union[torch.Tensor, Sequence[torch.Tensor]]
                              ) -> Dict[str, torch.Tensor]:
        """Outputs plus the official intermediates, for checks against the reference code:
        ``base_feature``, ``gcnext_feature``, ``context_feature``, ``knn_idx [5, B, T, k]``
        (backbone1.2, backbone2.0, regu_s.0, regu_e.0, context), ``sgalign`` (plain SGAlign
        output), ``conf_map``, ``start``, ``end``. Memory-heavy: small shapes only."""
        x = self._stack(inputs)
        base, idx0 = self.backbone1[2](self.backbone1[1](self.backbone1[0](x)), return_index=True)
        gcn, idx1 = self.backbone2[0](base, return_index=True)
        curves, idx = [], [idx0, idx1]
        for branch in (self.regu_s, self.regu_e):
            feat, knn = branch[0](base, return_index=True)
            curves.append(branch[2](branch[1](feat)).squeeze(1))
            idx.append(knn)
        context, idx4 = self.goi_align.context(gcn)
        sgalign = self.goi_align.features(gcn)
        return dict(base_feature=base, gcnext_feature=gcn, context_feature=context,
                    knn_idx=torch.stack(idx + [idx4]), sgalign=sgalign,
                    conf_map=self.localization(sgalign), start=curves[0], end=curves[1])

    def forward(self, inputs: Union[torch.Tensor, Sequence[torch.Tensor]],
                data_samples: Optional[list] = None, mode: str = 'tensor', **kwargs):
        x = self._stack(inputs)
        if mode == 'tensor':
            return self._forward(x)
        if mode == 'loss':
            return self.loss(x, data_samples)
        if mode == 'predict':
            return self.predict(x, data_samples)
        raise RuntimeError(f'GTAD: invalid mode {mode!r}; use tensor, loss or predict')

    # ----------------------------------------------------------------------------- training
    def sample_labels(self, sample) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """float64 ``(iou_map [D, T], start [T], end [T])`` of one data sample."""
        meta = sample.metainfo
        video = meta.get('video_name', '?')
        if self.label_style == 'anet':
            instances = getattr(sample, 'gt_instances', None)
            gt = _as_numpy(getattr(instances, 'gt_bbox', None), 'gt_instances.gt_bbox', video)
            return anet_labels(gt.reshape(-1, 2), self.temporal_dim, self.max_duration)
        missing = [k for k in ('gt_frames', 'window_start_snippet', 'snippet_stride')
                   if k not in meta]
        if missing:
            raise KeyError(f"GTAD(label_style='thumos'): sample {video!r} lacks metainfo "
                           f'{missing}; the sliding-window dataset must provide them')
        gt = _as_numpy(meta['gt_frames'], 'gt_frames', video).reshape(-1, 2)
        return thumos_window_labels(gt, int(meta['window_start_snippet']),
                                    float(meta['snippet_stride']), self.temporal_dim,
                                    self.max_duration)

    def generate_labels(self, data_samples: list, device: torch.device
                        ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Stacked float32 labels (the official ``torch.Tensor`` cast, before any threshold)."""
        if not data_samples:
            raise ValueError('GTAD: mode="loss" needs data_samples with ground truth')
        per_sample = [self.sample_labels(s) for s in data_samples]
        return tuple(torch.tensor(np.stack(parts), dtype=torch.float32, device=device)
                     for parts in zip(*per_sample))  # type: ignore[return-value]

    def loss(self, x: torch.Tensor, data_samples: list) -> Dict[str, torch.Tensor]:
        conf_map, start, end = self._forward(x)
        label_iou, label_start, label_end = self.generate_labels(data_samples, x.device)
        w = self.loss_weights
        terms = gtad_loss(conf_map, start, end, label_iou, label_start, label_end, self.bm_mask,
                          weights=(w['tem'], w['pem_reg'], w['pem_cls']),
                          pem_cls_count_offset=self.pem_cls_count_offset)
        return dict(loss_tem=w['tem'] * terms['tem'], loss_pem_reg=w['pem_reg'] * terms['pem_reg'],
                    loss_pem_cls=w['pem_cls'] * terms['pem_cls'])

    # ----------------------------------------------------------------------------- inference
    def predict(self, x: torch.Tensor, data_samples: Optional[list]) -> List[dict]:
        """One dict per sample: ``video_name``, ``proposal_list`` (score, segment in seconds,
        sorted by score) and the video / window keys a metric needs (see the class docstring)."""
        with torch.no_grad():
            conf_map, start, end = self._forward(x)
        conf = conf_map.detach().double().cpu().numpy()
        starts = start.detach().double().cpu().numpy()
        ends = end.detach().double().cpu().numpy()
        samples = data_samples if data_samples is not None else [None] * x.shape[0]
        if len(samples) != x.shape[0]:
            raise ValueError(f'GTAD.predict: {x.shape[0]} inputs but {len(samples)} data_samples')
        results = []
        for i, sample in enumerate(samples):
            meta = dict(sample.metainfo) if sample is not None else {}
            if self.variant == 'anet':
                results.append(self._predict_video(conf[i], starts[i], ends[i], meta))
            else:
                results.append(self._predict_window(conf[i], meta))
        return results

    def _nms(self, segments: np.ndarray, scores: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        segs, kept = apply_soft_nms(segments, scores, self.soft_nms_sigma, self.max_proposals,
                                    self.max_proposal_frames)
        order = np.argsort(-kept, kind='stable')
        return segs[order], kept[order]

    def _predict_video(self, conf: np.ndarray, start: np.ndarray, end: np.ndarray,
                       meta: dict) -> dict:
        video = meta.get('video_name')
        if 'duration_second' not in meta:
            raise KeyError(f'GTAD.predict: sample {video!r} lacks metainfo duration_second')
        duration = float(meta['duration_second'])
        props, _ = anet_proposals(start, end, conf[1], conf[0])
        segs, scores = self._nms(props[:, :2], props[:, 2] * props[:, 3])
        seconds = anet_segments(segs, duration)
        proposals = [dict(score=float(s), segment=[float(a), float(b)])
                     for s, (a, b) in zip(scores, seconds)]
        return dict(video_name=video, proposal_list=proposals, duration_second=duration)

    def _predict_window(self, conf: np.ndarray, meta: dict) -> dict:
        video = meta.get('video_name')
        missing = [k for k in ('window_start_snippet', 'snippet_stride', 'fps') if k not in meta]
        if missing:
            raise KeyError(f"GTAD(variant='thumos').predict: sample {video!r} lacks metainfo "
                           f'{missing}')
        first_snippet = int(meta['window_start_snippet'])
        stride = float(meta['snippet_stride'])
        fps = float(meta['fps'])
        props = window_proposals(conf[1], conf[0], stride * first_snippet, stride)
        segs, scores = self._nms(props[:, :2], props[:, 2] * props[:, 3])
        # Unclipped: the metric merges windows with Soft-NMS before clipping to the video.
        proposals = [dict(score=float(s), segment=[float(a) / fps, float(b) / fps],
                          segment_frames=[float(a), float(b)])
                     for s, (a, b) in zip(scores, segs)]
        out = dict(video_name=video, proposal_list=proposals, fps=fps,
                   window_start_snippet=first_snippet, snippet_stride=stride)
        if 'num_frames' in meta:
            out['num_frames'] = meta['num_frames']
            out.setdefault('duration_second', float(meta['num_frames']) / fps)
        if 'duration_second' in meta:
            out['duration_second'] = float(meta['duration_second'])
        return out
