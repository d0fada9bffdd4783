"""ActionFormer's identity neck and the classification / regression heads (shared by levels)."""
from __future__ import annotations

import math
from typing import List, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import ChannelLayerNorm, MaskedConv1D, Scale

__all__ = ['IdentityNeck', 'ClsHead', 'RegHead']


class IdentityNeck(nn.Module):
    """Official ``FPNIdentity``: one LayerNorm per level (``fpn_norms``), not masked, so padded
    positions become the LN bias; ``with_ln=False`` passes the features through."""

    def __init__(self, channels: int, num_levels: int, with_ln: bool = True) -> None:
        super().__init__()
        self.fpn_norms = nn.ModuleList(
            ChannelLayerNorm(channels) if with_ln else nn.Identity() for _ in range(num_levels))

    def forward(self, feats: Sequence[torch.Tensor]) -> List[torch.Tensor]:
        return [norm(x) for norm, x in zip(self.fpn_norms, feats)]


class _ConvTower(nn.Module):
    """``(num_layers - 1) x [MaskedConv1D(k) -> LN -> ReLU]`` (no conv bias with LN)."""

    def __init__(self, in_channels: int, channels: int, num_layers: int, kernel_size: int,
                 with_ln: bool) -> None:
        super().__init__()
        self.head = nn.ModuleList()
        self.norm = nn.ModuleList()
        for i in range(num_layers - 1):
            self.head.append(MaskedConv1D(in_channels if i == 0 else channels, channels,
                                          kernel_size, bias=not with_ln))
            self.norm.append(ChannelLayerNorm(channels) if with_ln else nn.Identity())

    def tower(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        for conv, norm in zip(self.head, self.norm):
            x, _ = conv(x, mask)
            x = F.relu(norm(x))
        return x


class ClsHead(_ConvTower):
    """Logits ``[B, K, T_l]`` per level; the last conv's bias starts at ``-log((1 - p) / p)``
    (prior ``p``), ``empty_cls`` classes at the prior 1e-6 (official ``head_empty_cls``)."""

    def __init__(self, in_channels: int, channels: int, num_classes: int,
                 prior_prob: float = 0.01, num_layers: int = 3, kernel_size: int = 3,
                 with_ln: bool = True, empty_cls: Sequence[int] = ()) -> None:
        super().__init__(in_channels, channels, num_layers, kernel_size, with_ln)
        self.cls_head = MaskedConv1D(channels, num_classes, kernel_size)
        with torch.no_grad():
            if prior_prob > 0:
                self.cls_head.conv.bias.fill_(-math.log((1 - prior_prob) / prior_prob))
            for idx in empty_cls:
                self.cls_head.conv.bias[idx] = -math.log((1 - 1e-6) / 1e-6)

    def forward(self, feats: Sequence[torch.Tensor], masks: Sequence[torch.Tensor]
                ) -> List[torch.Tensor]:
        return [self.cls_head(self.tower(x, m), m)[0] for x, m in zip(feats, masks)]


class RegHead(_ConvTower):
    """Offsets ``[B, 2, T_l]`` (left, right, in stride units) = ``ReLU(scale_l * conv)``."""

    def __init__(self, in_channels: int, channels: int, num_levels: int, num_layers: int = 3,
                 kernel_size: int = 3, with_ln: bool = True) -> None:
        super().__init__(in_channels, channels, num_layers, kernel_size, with_ln)
        self.scale = nn.ModuleList(Scale() for _ in range(num_levels))
        self.offset_head = MaskedConv1D(channels, 2, kernel_size)

    def forward(self, feats: Sequence[torch.Tensor], masks: Sequence[torch.Tensor]
                ) -> List[torch.Tensor]:
        return [F.relu(scale(self.offset_head(self.tower(x, m), m)[0]))
                for scale, x, m in zip(self.scale, feats, masks)]
