"""ActionFormer's conv-transformer backbone: conv embedding, stem blocks, downsampling branch.

``embd`` (``arch[0]`` x MaskedConv1D -> LN -> ReLU) -> optional absolute PE -> ``arch[1]`` stem
transformer blocks (stride 1, level 0) -> ``arch[2]`` branch blocks (stride ``scale_factor``, one
level each). Pre-LN blocks: ``x + dp(attn(LN1(x)))`` with a max-pooled skip when downsampling, then
``+ dp(MLP(LN2(x)))``; outputs are exactly zero at padded positions.
"""
from __future__ import annotations

from typing import List, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from .attention import MaskedConvAttention
from .blocks import AffineDropPath, ChannelLayerNorm, MaskedConv1D, sinusoid_encoding

__all__ = ['TransformerBlock', 'ConvTransformerBackbone']


class TransformerBlock(nn.Module):
    """One pre-LN block with masked conv-attention (local or global) and a 4x GELU MLP.

    ``drop_path > 0`` creates ``AffineDropPath`` modules (per-channel ``scale``, init 1e-4);
    ``drop_path == 0`` makes them identities, as the official code does.
    """

    def __init__(self, channels: int, num_heads: int, window_size: int, stride: int = 1,
                 drop_path: float = 0.0, mlp_ratio: int = 4) -> None:
        super().__init__()
        self.ln1 = ChannelLayerNorm(channels)
        self.ln2 = ChannelLayerNorm(channels)
        self.attn = MaskedConvAttention(channels, num_heads, window_size, stride=stride)
        self.stride = stride
        hidden = mlp_ratio * channels
        # indices 0 and 3 as the official Sequential(conv, GELU, dropout, conv, dropout)
        self.mlp = nn.Sequential(nn.Conv1d(channels, hidden, 1), nn.GELU(), nn.Identity(),
                                 nn.Conv1d(hidden, channels, 1))
        for conv in (self.mlp[0], self.mlp[3]):
            nn.init.zeros_(conv.bias)
        if drop_path > 0:
            self.drop_path_attn = AffineDropPath(channels, drop_path)
            self.drop_path_mlp = AffineDropPath(channels, drop_path)
        else:
            self.drop_path_attn = nn.Identity()
            self.drop_path_mlp = nn.Identity()

    def skip(self, x: torch.Tensor) -> torch.Tensor:
        """Identity, or max-pool (kernel s + 1, stride s, padding (s + 1) // 2, -inf padding)."""
        s = self.stride
        if s == 1:
            return x
        return F.max_pool1d(x, s + 1, stride=s, padding=(s + 1) // 2)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        out, out_mask = self.attn(self.ln1(x), mask)
        m = out_mask.to(out.dtype)
        out = self.skip(x) * m + self.drop_path_attn(out)
        out = out + self.drop_path_mlp(self.mlp(self.ln2(out)) * m)
        return out, out_mask


class ConvTransformerBackbone(nn.Module):
    """``forward(x [B, C_in, T], mask [B, 1, T]) -> (feats, masks)``, one per level
    (level 0: last stem block; level l: branch block l - 1, length T / scale_factor^l).

    Args:
        in_channels, channels, num_heads: input width, embedding width, heads.
        embd_kernel_size: kernel of the embedding convs. embd_with_ln: LN after them (then the
            convs have no bias).
        max_len: max_seq_len (the absolute PE table length).
        arch: (#embedding convs, #stem blocks, #branch blocks).
        window_sizes: one per level (``1 + arch[2]``), <= 1 = global attention.
        scale_factor: downsampling between levels.
        drop_path: drop-path rate of every block. use_abs_pe: add the sinusoid PE.
    """

    def __init__(self, in_channels: int, channels: int, num_heads: int, embd_kernel_size: int,
                 max_len: int, arch: Sequence[int] = (2, 2, 5),
                 window_sizes: Sequence[int] = (-1, ) * 6, scale_factor: int = 2,
                 embd_with_ln: bool = True, drop_path: float = 0.0,
                 use_abs_pe: bool = False) -> None:
        super().__init__()
        if len(arch) != 3 or len(window_sizes) != 1 + arch[2]:
            raise ValueError(f'backbone: arch must have 3 entries and window_sizes 1 + arch[2] = '
                             f'{1 + arch[2] if len(arch) == 3 else "?"}, got arch={arch}, '
                             f'window_sizes={list(window_sizes)}')
        self.arch = tuple(arch)
        self.max_len = max_len
        self.use_abs_pe = use_abs_pe
        self.embd = nn.ModuleList()
        self.embd_norm = nn.ModuleList()
        for i in range(arch[0]):
            self.embd.append(MaskedConv1D(in_channels if i == 0 else channels, channels,
                                          embd_kernel_size, bias=not embd_with_ln))
            self.embd_norm.append(ChannelLayerNorm(channels) if embd_with_ln else nn.Identity())
        if use_abs_pe:
            self.register_buffer('pos_embd', sinusoid_encoding(max_len, channels),
                                 persistent=False)
        self.stem = nn.ModuleList(
            TransformerBlock(channels, num_heads, window_sizes[0], 1, drop_path)
            for _ in range(arch[1]))
        self.branch = nn.ModuleList(
            TransformerBlock(channels, num_heads, window_sizes[1 + i], scale_factor, drop_path)
            for i in range(arch[2]))

    def position_encoding(self, length: int) -> torch.Tensor:
        """PE for a length-``length`` input: the table in training; at inference, linearly
        re-interpolated to ``length`` when ``length >= max_len`` (official)."""
        pe = self.pos_embd
        if self.training:
            if length > self.max_len:
                raise ValueError(f'ActionFormer: input length {length} exceeds max_seq_len '
                                 f'{self.max_len} in training')
        elif length >= self.max_len:
            pe = F.interpolate(pe, length, mode='linear', align_corners=False)
        return pe[:, :, :length]

    def forward(self, x: torch.Tensor, mask: torch.Tensor
                ) -> Tuple[List[torch.Tensor], List[torch.Tensor]]:
        for conv, norm in zip(self.embd, self.embd_norm):
            x, mask = conv(x, mask)
            x = F.relu(norm(x))
        if self.use_abs_pe:
            x = x + self.position_encoding(x.shape[-1]).to(x.dtype) * mask.to(x.dtype)
        for block in self.stem:
            x, mask = block(x, mask)
        feats, masks = [x], [mask]
        for block in self.branch:
            x, mask = block(x, mask)
            feats.append(x)
            masks.append(mask)
        return feats, masks
