"""Small building blocks of ActionFormer: masked conv, channel LayerNorm, scales, drop-path, PE.

Module and parameter names follow the official code (``conv``, ``weight``/``bias`` of shape
``[1, C, 1]``, ``scale``) so that official state dicts load without renaming.
"""
from __future__ import annotations

import math
from typing import Tuple

import numpy as np
import torch
from torch import nn

__all__ = ['MaskedConv1D', 'ChannelLayerNorm', 'Scale', 'AffineDropPath', 'sinusoid_encoding',
           'downsample_mask']


def downsample_mask(mask: torch.Tensor, length: int) -> torch.Tensor:
    """Nearest downsampling of a bool mask ``[B, 1, T]`` to ``length``: ``out[i] = mask[i * s]``."""
    if mask.shape[-1] == length:
        return mask
    stride = mask.shape[-1] // length
    if stride * length != mask.shape[-1]:
        raise ValueError(f'mask length {mask.shape[-1]} is not a multiple of {length}')
    return mask[..., ::stride]


class MaskedConv1D(nn.Module):
    """``Conv1d`` (odd kernel, 'same' padding) whose outputs at padded positions are zero.

    ``forward(x [B, C, T], mask [B, 1, T] bool) -> (out [B, C', T / stride], mask')``; the mask is
    downsampled by nearest (``mask[i * stride]``). A bias, when present, starts at zero.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 groups: int = 1, bias: bool = True) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f'MaskedConv1D needs an odd kernel, got {kernel_size}')
        self.stride = stride
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, stride,
                              kernel_size // 2, groups=groups, bias=bias)
        if bias:
            nn.init.zeros_(self.conv.bias)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        if x.shape[-1] % self.stride:
            raise ValueError(f'MaskedConv1D: length {x.shape[-1]} is not a multiple of the '
                             f'stride {self.stride}')
        out = self.conv(x)
        out_mask = downsample_mask(mask, out.shape[-1])
        return out.mul_(out_mask.to(out.dtype)), out_mask  # in place: conv keeps its input only


class _ChannelLayerNormFn(torch.autograd.Function):
    """LayerNorm over dim 1 with a hand-written backward: it keeps only the normalised input and
    the inverse std for the backward pass (autograd of the plain formula keeps ~3 tensors of the
    input's size) and runs fewer kernels. Half-precision inputs are normalised in float32."""

    @staticmethod
    def forward(ctx, x, weight, bias, eps):
        dtype = x.dtype
        xf = x.float() if dtype in (torch.float16, torch.bfloat16) else x
        var, mean = torch.var_mean(xf, dim=1, correction=0, keepdim=True)
        rstd = torch.rsqrt(var + eps)
        xhat = (xf - mean).mul_(rstd)
        ctx.save_for_backward(xhat, rstd, weight)
        return torch.addcmul(bias.to(xhat.dtype), xhat, weight.to(xhat.dtype)).to(dtype)

    @staticmethod
    def backward(ctx, grad):
        xhat, rstd, weight = ctx.saved_tensors
        g = grad.to(xhat.dtype)
        grad_w = (g * xhat).sum(dim=(0, 2), keepdim=True)
        grad_b = g.sum(dim=(0, 2), keepdim=True)
        gx = g * weight.to(xhat.dtype)
        proj = (gx * xhat).mean(dim=1, keepdim=True)
        dx = (gx - gx.mean(dim=1, keepdim=True)).sub_(xhat * proj).mul_(rstd)
        return (dx.to(grad.dtype), grad_w.to(weight.dtype), grad_b.to(weight.dtype), None)


class ChannelLayerNorm(nn.Module):
    """LayerNorm over the channels of ``[B, C, T]`` (biased variance, eps 1e-5), affine
    ``weight``/``bias`` of shape ``[1, C, 1]`` (the official ``LayerNorm``)."""

    def __init__(self, num_channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.num_channels = num_channels
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(1, num_channels, 1))
        self.bias = nn.Parameter(torch.zeros(1, num_channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3 or x.shape[1] != self.num_channels:
            raise ValueError(f'ChannelLayerNorm({self.num_channels}): got {list(x.shape)}')
        return _ChannelLayerNormFn.apply(x, self.weight, self.bias, self.eps)


class Scale(nn.Module):
    """A learnable scalar ``scale`` (per FPN level of the regression head)."""

    def __init__(self, init_value: float = 1.0) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(float(init_value)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


class AffineDropPath(nn.Module):
    """Per-channel ``scale`` ([1, C, 1], init 1e-4; LayerScale) followed by drop-path: in training
    with probability p each sample becomes ``x / (1 - p) * floor(1 - p + U)``, ``U =
    torch.rand(B, 1, 1)`` in ``x``'s dtype, one draw per call as the official code."""

    def __init__(self, num_channels: int, drop_prob: float = 0.0,
                 init_scale: float = 1e-4) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.full((1, num_channels, 1), float(init_scale)))
        self.drop_prob = drop_prob

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.drop_prob == 0.0 or not self.training:
            return self.scale * x
        # drop_path(scale * x) with one pass over x: x * (scale * keep_mask / (1 - p))
        keep = 1.0 - self.drop_prob
        mask = (keep + torch.rand((x.shape[0], 1, 1), dtype=x.dtype, device=x.device)).floor_()
        return x * (self.scale * mask).div_(keep)


def sinusoid_encoding(length: int, channels: int) -> torch.Tensor:
    """The official absolute PE: float64 sinusoid table (sin on even, cos on odd channels,
    ``pos / 10000^(2 (j // 2) / C)``), cast to float32 and divided by ``sqrt(C)`` in float32.
    Returns ``[1, C, length]`` float32."""
    pos = np.arange(length, dtype=np.float64)[:, None]
    j = np.arange(channels)
    angle = pos / np.power(10000, 2 * (j // 2) / channels)
    table = np.where(j % 2 == 0, np.sin(angle), np.cos(angle))
    pe = torch.from_numpy(table).float().t().unsqueeze(0).contiguous()
    return pe / math.sqrt(channels)
