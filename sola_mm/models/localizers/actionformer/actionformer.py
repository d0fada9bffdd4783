"""ActionFormer (Zhang, Wu and Li, ECCV 2022) as an MMAction2 localizer, in pure PyTorch.

Faithful to the official ``LocPointTransformer`` (happyharrycn/actionformer_release @ 61ea7eb):
padding and masks (``preprocessing``), the conv-transformer backbone, the identity FPN, the shared
heads, points, centre-sampling labels, focal + DIoU losses with the EMA loss normaliser and label
smoothing; inference pads each video like the official batch-1 loop and hands the per-level
outputs to ``postprocess.actionformer_postprocess``. Module and parameter names equal the
official ones, so official checkpoints load as they are (``convert_official_state_dict``).
"""
from __future__ import annotations

from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.model import BaseModel

from mmaction.registry import MODELS
from sola_mm.evaluation.functional.classifier import resolve_class_names
from .backbone import ConvTransformerBackbone
from .heads import ClsHead, IdentityNeck, RegHead
from .labels import assign_labels, make_points
from .loss import ctr_diou_loss_1d, sigmoid_focal_loss

__all__ = ['ActionFormer', 'OFFICIAL_TRAIN_CFG', 'OFFICIAL_TEST_CFG',
           'convert_official_state_dict']

#: official defaults (libs/core/config.py) of train_cfg / test_cfg
OFFICIAL_TRAIN_CFG = dict(center_sample='radius', center_sample_radius=1.5, loss_weight=1.0,
                          cls_prior_prob=0.01, init_loss_norm=2000, clip_grad_l2norm=-1,
                          head_empty_cls=[], dropout=0.0, droppath=0.1, label_smoothing=0.0)
OFFICIAL_TEST_CFG = dict(pre_nms_thresh=0.001, pre_nms_topk=5000, iou_threshold=0.1,
                         min_score=0.01, max_seg_num=1000, nms_method='soft', nms_sigma=0.5,
                         duration_thresh=0.05, multiclass_nms=True, ext_score_file=None,
                         voting_thresh=0.75)
LOSS_NORMALIZER_MOMENTUM = 0.9


def convert_official_state_dict(state_dict: Mapping[str, torch.Tensor],
                                prefix: str = '') -> Dict[str, torch.Tensor]:
    """Official ActionFormer weights -> this module's state dict (``prefix`` e.g. 'localizer.'
    for a NeckLocalizer).

    The names are the official ones; this strips ``module.`` (DataParallel), the oracle's
    ``sd/``, takes ``state_dict_ema`` / ``state_dict`` out of an official checkpoint (EMA first,
    which is what the official eval.py loads), and leaves ``loss_normalizer`` out (a training
    state the official code does not save; loading keeps the configured ``init_loss_norm``).
    """
    for key in ('state_dict_ema', 'state_dict'):
        if key in state_dict and isinstance(state_dict[key], Mapping):
            state_dict = state_dict[key]
            break
    out = {}
    for key, value in state_dict.items():
        for strip in ('sd/', 'module.'):
            if key.startswith(strip):
                key = key[len(strip):]
        out[prefix + key] = torch.as_tensor(value)
    return out


@MODELS.register_module()
class ActionFormer(BaseModel):
    """ActionFormer localizer: ``forward(inputs, data_samples, mode)``.

    ``inputs``: a list of per-video ``[C, T_i]`` features (variable length; ``variable_length``
    tells NeckLocalizer to pass them un-stacked) or a stacked ``[B, C, T]`` tensor. Training pads
    every video to ``max_seq_len`` (longer raises); inference runs each video alone, padded to
    ``max_seq_len`` or, when longer, to the next multiple of ``max_div_factor``.

    Data samples: ``gt_instances.gt_segments`` (float32 ``[N, 2]``, feature-grid units, as the
    data side computes them) and ``gt_instances.gt_labels`` (int64) for training; metainfo
    ``video_name``, ``fps``, ``duration`` (or ``duration_second``), ``feat_stride``,
    ``feat_num_frames`` for inference.

    Args (official ``model`` keys, defaults of libs/core/config.py):
        input_dim, num_classes, max_seq_len, max_buffer_len_factor: as the official config
            (the buffer factor only bounds the inference length: ``max_seq_len * factor``).
        backbone_arch, scale_factor, n_head, n_mha_win_size (int or one per level; <= 1 =
        global), embd_kernel_size, embd_dim, embd_with_ln, fpn_dim, fpn_with_ln, head_dim,
        regression_range, head_num_layers, head_kernel_size, head_with_ln, use_abs_pe.
        backbone_type / fpn_type / fpn_start_level / use_rel_pe: only the values of the official
            THUMOS / ANet configs (``convTransformer``, ``identity``, 0, False) are implemented.
        train_cfg, test_cfg: official keys; missing ones take the official defaults.
        class_names: names of the classes in label order (a list, a file of names, or
            ``'thumos14'``: the official THUMOS label_id order, as ``ActionFormerGrid``);
            predictions then carry names, which the metric matches with the ground truth;
            None: integer labels. ``num_classes == 1`` (ANet) predicts no
            label: the metric fuses with a video classifier.
        resize_to, train_crop: ActivityNet's resize to a fixed length and training crop done
            here, after a neck, instead of in the data pipeline (SoLa on the whole video before
            any resize; ``ActionFormerGrid(resize_features=False)`` then keeps the raw length):
            each input is resized like the official dataset (``F.interpolate``, linear,
            ``align_corners=False``, float32, only when its length differs), then in training
            cropped by the data side's ``truncate_feats`` (``train_crop``: ``trunc_thresh``,
            ``crop_ratio``; the metainfo ``feat_offset`` widens the window). None: inputs come
            resized and cropped (the official order).
    """

    variable_length = True
    batched_predict = True

    def __init__(self,
                 input_dim: int = 2048,
                 num_classes: int = 20,
                 max_seq_len: int = 2304,
                 max_buffer_len_factor: float = 6.0,
                 backbone_type: str = 'convTransformer',
                 fpn_type: str = 'identity',
                 backbone_arch: Sequence[int] = (2, 2, 5),
                 scale_factor: int = 2,
                 regression_range: Sequence[Sequence[float]] = ((0, 4), (4, 8), (8, 16),
                                                                (16, 32), (32, 64),
                                                                (64, 10000)),
                 n_head: int = 4,
                 n_mha_win_size: Union[int, Sequence[int]] = -1,
                 embd_kernel_size: int = 3,
                 embd_dim: int = 512,
                 embd_with_ln: bool = True,
                 fpn_dim: int = 512,
                 fpn_with_ln: bool = True,
                 fpn_start_level: int = 0,
                 head_dim: int = 512,
                 head_kernel_size: int = 3,
                 head_num_layers: int = 3,
                 head_with_ln: bool = True,
                 use_abs_pe: bool = False,
                 use_rel_pe: bool = False,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 class_names: Union[None, str, Sequence[str]] = None,
                 resize_to: Optional[int] = None,
                 train_crop: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        unsupported = [(k, v) for k, v, ok in (
            ('backbone_type', backbone_type, 'convTransformer'), ('fpn_type', fpn_type, 'identity'),
            ('fpn_start_level', fpn_start_level, 0), ('use_rel_pe', use_rel_pe, False)) if v != ok]
        if unsupported:
            raise NotImplementedError(f'ActionFormer: {unsupported} not implemented (only the '
                                      'settings of the official THUMOS / ANet configs)')
        levels = backbone_arch[-1] + 1
        self.fpn_strides = [scale_factor ** i for i in range(levels)]
        if len(regression_range) != levels:
            raise ValueError(f'ActionFormer: {levels} levels need {levels} regression ranges, '
                             f'got {len(regression_range)}')
        windows = ([int(n_mha_win_size)] * levels if isinstance(n_mha_win_size, int)
                   else [int(w) for w in n_mha_win_size])
        if len(windows) != levels:
            raise ValueError(f'ActionFormer: n_mha_win_size needs {levels} entries, got {windows}')
        self.max_div_factor = 1
        for s, w in zip(self.fpn_strides, windows):
            stride = s * (w // 2) * 2 if w > 1 else s
            if max_seq_len % stride:
                raise ValueError(f'ActionFormer: max_seq_len {max_seq_len} must be divisible by '
                                 f'every level stride x window ({stride})')
            self.max_div_factor = max(self.max_div_factor, stride)
        if self_dropout := (train_cfg or {}).get('dropout', 0.0):
            raise NotImplementedError(f'ActionFormer: train_cfg.dropout={self_dropout} (MLP / '
                                      'projection dropout) is not implemented; official configs '
                                      'use 0')
        if fpn_dim != embd_dim:
            raise ValueError(f'ActionFormer: the identity FPN needs fpn_dim == embd_dim, got '
                             f'{fpn_dim} and {embd_dim}')
        self.train_cfg = {**OFFICIAL_TRAIN_CFG, **(train_cfg or {})}
        self.test_cfg = {**OFFICIAL_TEST_CFG, **(test_cfg or {})}
        self.feat_dim = input_dim
        self.num_classes = num_classes
        self.max_seq_len = max_seq_len
        self.max_buffer_len = int(max_seq_len * max_buffer_len_factor)
        self.mha_win_size = windows
        self.regression_range = [tuple(float(v) for v in r) for r in regression_range]
        self.class_names = resolve_class_names(class_names)
        if self.class_names is not None and len(self.class_names) != num_classes:
            raise ValueError(f'ActionFormer: {len(self.class_names)} class_names for '
                             f'{num_classes} classes')

        self.resize_to = resize_to
        self.train_crop = dict(train_crop) if train_crop else None
        if self.train_crop is not None and resize_to is None:
            raise ValueError('ActionFormer: train_crop needs resize_to (the crop is defined on '
                             'the resized grid)')
        self.backbone = ConvTransformerBackbone(
            input_dim, embd_dim, n_head, embd_kernel_size, max_seq_len, backbone_arch, windows,
            scale_factor, embd_with_ln, self.train_cfg['droppath'], use_abs_pe)
        self.neck = IdentityNeck(fpn_dim, levels, fpn_with_ln)
        self.cls_head = ClsHead(fpn_dim, head_dim, num_classes, self.train_cfg['cls_prior_prob'],
                                head_num_layers, head_kernel_size, head_with_ln,
                                self.train_cfg['head_empty_cls'])
        self.reg_head = RegHead(fpn_dim, head_dim, levels, head_num_layers, head_kernel_size,
                                head_with_ln)
        # EMA of the number of positives (official: a Python float on the model)
        self.register_buffer('loss_normalizer',
                             torch.tensor(float(self.train_cfg['init_loss_norm']),
                                          dtype=torch.float64))

    # ------------------------------------------------------------------ batching
    def preprocessing(self, feats: Sequence[torch.Tensor], training: bool
                      ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Official ``preprocessing``: zero-pad to ``max_seq_len`` (training; batch) or, for one
        video at inference, to max_seq_len or the next multiple of ``max_div_factor``.
        Returns ``(x [B, C, T], mask [B, 1, T] bool)``."""
        lengths = [int(f.shape[-1]) for f in feats]
        longest = max(lengths)
        for i, f in enumerate(feats):
            if f.dim() != 2 or f.shape[0] != self.feat_dim:
                raise ValueError(f'ActionFormer: input {i} has shape {list(f.shape)}; expected '
                                 f'[input_dim={self.feat_dim}, T]')
        if training:
            if longest > self.max_seq_len:
                raise ValueError(f'ActionFormer: a training input has {longest} > max_seq_len='
                                 f'{self.max_seq_len} features; the data side must truncate')
            length = self.max_seq_len
        elif longest <= self.max_seq_len:
            length = self.max_seq_len
        else:
            stride = self.max_div_factor
            length = (longest + stride - 1) // stride * stride
        if training or len(feats) > 1:
            x = feats[0].new_zeros(len(feats), feats[0].shape[0], length)
            for i, f in enumerate(feats):
                x[i, :, :f.shape[-1]] = f
        else:
            x = F.pad(feats[0], (0, length - lengths[0]))[None]
        lens = torch.tensor(lengths, device=x.device)
        mask = torch.arange(length, device=x.device)[None] < lens[:, None]
        return x, mask[:, None]

    # ------------------------------------------------------------------ network
    def points(self, lengths: Sequence[int], dtype: torch.dtype, device) -> List[torch.Tensor]:
        if lengths[0] > self.max_buffer_len:
            raise ValueError(f'ActionFormer: input length {lengths[0]} exceeds max_seq_len x '
                             f'max_buffer_len_factor = {self.max_buffer_len}')
        return make_points(lengths, self.fpn_strides, self.regression_range, dtype, device)

    def network(self, x: torch.Tensor, mask: torch.Tensor) -> Dict[str, List[torch.Tensor]]:
        """Backbone -> neck -> heads on a padded batch. Returns per level: ``feats``, ``fpn``,
        ``masks [B, T_l]``, ``cls_logits [B, T_l, K]``, ``offsets [B, T_l, 2]``, ``points``."""
        feats, masks = self.backbone(x, mask)
        fpn = self.neck(feats)
        cls_logits = [c.permute(0, 2, 1) for c in self.cls_head(fpn, masks)]
        offsets = [o.permute(0, 2, 1) for o in self.reg_head(fpn, masks)]
        points = self.points([f.shape[-1] for f in fpn], x.dtype, x.device)
        return dict(feats=feats, fpn=fpn, masks=[m[:, 0] for m in masks],
                    cls_logits=cls_logits, offsets=offsets, points=points)

    def forward(self, inputs: Union[torch.Tensor, Sequence[torch.Tensor]],
                data_samples: Optional[list] = None, mode: str = 'tensor', **kwargs):
        feats = list(inputs.unbind(0)) if isinstance(inputs, torch.Tensor) else list(inputs)
        if mode == 'loss':
            return self.loss(feats, data_samples)
        if mode == 'predict':
            return self.predict(feats, data_samples)
        if mode == 'tensor':
            out = self.network(*self.preprocessing(feats, self.training))
            return out['cls_logits'], out['offsets'], out['masks']
        raise RuntimeError(f'ActionFormer: invalid mode {mode!r}; use tensor, loss or predict')

    # ------------------------------------------------------------------ training
    def gt_of(self, sample) -> Tuple[torch.Tensor, torch.Tensor]:
        video = sample.metainfo.get('video_name', '?') if hasattr(sample, 'metainfo') else '?'
        inst = getattr(sample, 'gt_instances', None)
        seg = getattr(inst, 'gt_segments', None) if inst is not None else None
        lab = getattr(inst, 'gt_labels', None) if inst is not None else None
        if seg is None or lab is None:
            raise KeyError(f'ActionFormer: sample {video!r} lacks gt_instances.gt_segments / '
                           'gt_labels (feature-grid segments and labels from the data side)')
        seg = torch.as_tensor(seg).reshape(-1, 2)
        lab = torch.as_tensor(lab).reshape(-1).long()
        if len(seg) != len(lab):
            raise ValueError(f'ActionFormer: sample {video!r} has {len(seg)} segments but '
                             f'{len(lab)} labels')
        if len(lab) and (int(lab.min()) < 0 or int(lab.max()) >= self.num_classes):
            raise ValueError(f'ActionFormer: sample {video!r} has labels outside '
                             f'[0, {self.num_classes})')
        return seg, lab

    def targets(self, points: List[torch.Tensor], gts) -> Tuple[torch.Tensor, torch.Tensor]:
        """Stacked ``(gt_cls [B, FT, K], gt_offsets [B, FT, 2])`` (``assign_labels``)."""
        concat = torch.cat(points, dim=0)
        cfg = self.train_cfg
        cls, off = zip(*(assign_labels(concat, seg.to(concat.device), lab.to(concat.device),
                                       self.num_classes, cfg['center_sample'],
                                       cfg['center_sample_radius']) for seg, lab in gts))
        return torch.stack(cls), torch.stack(off)

    def losses(self, out: Dict[str, List[torch.Tensor]], gt_cls: torch.Tensor,
               gt_offsets: torch.Tensor, update_normalizer: bool = True
               ) -> Dict[str, torch.Tensor]:
        """Official ``losses``: ``cls_loss`` (focal, summed over valid points x classes) and
        ``reg_loss`` (DIoU on positives), both / the EMA normaliser (updated first), and
        ``final_loss = cls + w reg``."""
        valid = torch.cat(out['masks'], dim=1)
        pos = (gt_cls.sum(-1) > 0) & valid
        pred_off = torch.cat(out['offsets'], dim=1)[pos]
        target_off = gt_offsets[pos]
        num_pos = int(pos.sum())
        if update_normalizer:
            m = LOSS_NORMALIZER_MOMENTUM
            self.loss_normalizer.copy_(m * self.loss_normalizer + (1 - m) * max(num_pos, 1))
        norm = self.loss_normalizer.to(gt_cls.dtype if gt_cls.is_floating_point()
                                       else torch.float32)
        target = gt_cls[valid]
        eps = self.train_cfg['label_smoothing']
        target = target * (1 - eps) + eps / (self.num_classes + 1)
        cls_loss = sigmoid_focal_loss(torch.cat(out['cls_logits'], dim=1)[valid], target)
        cls_loss = cls_loss / norm.to(cls_loss.dtype)
        if num_pos == 0:
            reg_loss = 0 * pred_off.sum()
        else:
            reg_loss = ctr_diou_loss_1d(pred_off, target_off) / norm.to(cls_loss.dtype)
        weight = self.train_cfg['loss_weight']
        if weight <= 0:
            weight = cls_loss.detach() / max(float(reg_loss), 0.01)
        return dict(cls_loss=cls_loss, reg_loss=reg_loss, final_loss=cls_loss + reg_loss * weight)

    def loss(self, feats: List[torch.Tensor], data_samples: Optional[list]
             ) -> Dict[str, torch.Tensor]:
        if not data_samples or len(data_samples) != len(feats):
            raise ValueError(f'ActionFormer: mode="loss" needs one data sample per input '
                             f'({len(feats)} inputs, '
                             f'{0 if not data_samples else len(data_samples)} samples)')
        gts = [self.gt_of(s) for s in data_samples]
        if self.resize_to is not None:
            feats = [self.resize(f) for f in feats]
        if self.train_crop is not None:
            feats, gts = zip(*(self.crop(f, gt, s) for f, gt, s in zip(feats, gts, data_samples)))
        out = self.network(*self.preprocessing(list(feats), training=True))
        with torch.no_grad():
            gt_cls, gt_off = self.targets(out['points'], gts)
        terms = self.losses(out, gt_cls, gt_off)
        # mmengine sums the keys containing 'loss': loss_cls + loss_reg = final_loss
        reg_weighted = terms['final_loss'] - terms['cls_loss']
        return dict(loss_cls=terms['cls_loss'], loss_reg=reg_weighted)

    def resize(self, feat: torch.Tensor) -> torch.Tensor:
        """``[C, L] -> [C, resize_to]`` as the official ActivityNet dataset (float32)."""
        if feat.shape[-1] == self.resize_to:
            return feat
        out = F.interpolate(feat[None].float(), size=self.resize_to, mode='linear',
                            align_corners=False)[0]
        return out.to(feat.dtype)

    def crop(self, feat: torch.Tensor, gt: Tuple[torch.Tensor, torch.Tensor], sample
             ) -> Tuple[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]:
        """The data side's random truncation / crop, on the resized features."""
        from sola_mm.datasets.transforms.actionformer import truncate_feats
        offset = float(sample.metainfo.get('feat_offset', 0.5))
        seg, lab = gt
        index = np.arange(feat.shape[-1])[None]
        index, seg_out, lab_out = truncate_feats(
            index, seg.cpu().numpy(), lab.cpu().numpy(), self.max_seq_len,
            self.train_crop.get('trunc_thresh', 0.5), offset, self.train_crop.get('crop_ratio'))
        start, stop = int(index[0, 0]), int(index[0, -1]) + 1
        return feat[:, start:stop], (torch.as_tensor(seg_out).reshape(-1, 2),
                                     torch.as_tensor(lab_out).reshape(-1).long())

    # ------------------------------------------------------------------ inference
    @staticmethod
    def video_meta(sample) -> dict:
        meta = dict(sample.metainfo) if sample is not None else {}
        video = meta.get('video_name', '?')
        if 'duration' not in meta and 'duration_second' in meta:
            meta['duration'] = meta['duration_second']
        missing = [k for k in ('fps', 'duration', 'feat_stride', 'feat_num_frames')
                   if meta.get(k) is None]
        if missing:
            raise KeyError(f'ActionFormer.predict: sample {video!r} lacks metainfo {missing}')
        return meta

    def predict(self, feats: List[torch.Tensor], data_samples: Optional[list]) -> List[dict]:
        """One predict dict per video (``video_name``, ``proposal_list`` of ``{segment (s),
        score, label}``, ``fps``, ``duration_second``), each video run alone as officially."""
        from .postprocess import actionformer_postprocess_videos
        samples = data_samples if data_samples is not None else [None] * len(feats)
        if len(samples) != len(feats):
            raise ValueError(f'ActionFormer.predict: {len(feats)} inputs but {len(samples)} '
                             'data_samples')
        metas, heads = [], []
        for feat, sample in zip(feats, samples):
            metas.append(self.video_meta(sample))
            if self.resize_to is not None:
                feat = self.resize(feat)
            with torch.no_grad():  # each video alone, padded as the official batch-1 inference
                out = self.network(*self.preprocessing([feat], training=False))
            heads.append((out['points'], out['cls_logits'], out['offsets'], out['masks']))
        # one NMS loop for the whole batch
        dets = actionformer_postprocess_videos(heads, metas, self.test_cfg)
        return [self.predict_dict(det, meta) for det, meta in zip(dets, metas)]

    def predict_dict(self, det: dict, meta: dict) -> dict:
        segs = torch.as_tensor(det['segments']).detach().double().cpu().reshape(-1, 2).tolist()
        scores = torch.as_tensor(det['scores']).detach().double().cpu().reshape(-1).tolist()
        labels = torch.as_tensor(det['labels']).detach().cpu().reshape(-1).tolist()
        proposals = []
        for seg, score, label in zip(segs, scores, labels):
            p = dict(segment=seg, score=score)
            if self.num_classes > 1:
                p['label'] = (self.class_names[int(label)] if self.class_names is not None
                              else int(label))
            proposals.append(p)
        return dict(video_name=meta.get('video_name'), proposal_list=proposals,
                    fps=float(meta['fps']), duration_second=float(meta['duration']))
