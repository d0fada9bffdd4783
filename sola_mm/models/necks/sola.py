"""The SoLa (Soft-Landing) neck: a gated residual temporal conv stack on frozen snippet features.

out = x + tanh(alpha) * f(x), with f = conv(k1, d1) -> ReLU -> conv(k2, d2) -> ReLU -> 1x1 conv and
alpha a learnable scalar initialised to 0, so the module starts as the identity (Kang et al., 2023).
Works on [B, C, T] (MMAction2's layout) and keeps the shape.
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
from mmengine.model import BaseModule
from torch import nn

from mmaction.registry import MODELS


def same_padding(kernel_size: int, dilation: int) -> int:
    """The authors' padding rule, floor(d*(k-1)/2); keeps the length when d*(k-1) is even."""
    return dilation * (kernel_size - 1) // 2


@MODELS.register_module()
class SoLa(BaseModule):
    """Soft-Landing neck.

    Args:
        in_channels: feature width C (input and output).
        hidden_channels: width H of the conv stack (the paper uses 512 for C=2048).
        kernel_size1, dilation1, kernel_size2, dilation2: the two temporal convolutions.
        alpha_init: initial gate parameter; 0 makes the module an identity at the start.
        frozen: no gradient, always in eval mode, left out of the optimizer.
        pretrained: a stage-1 checkpoint (Similarity Matching) or a plain state dict to load.
    """

    def __init__(self,
                 in_channels: int,
                 hidden_channels: int = 512,
                 kernel_size1: int = 5,
                 dilation1: int = 1,
                 kernel_size2: int = 1,
                 dilation2: int = 1,
                 alpha_init: float = 0.0,
                 frozen: bool = False,
                 pretrained: Optional[str] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        for name, value in (('kernel_size1', kernel_size1), ('kernel_size2', kernel_size2),
                            ('dilation1', dilation1), ('dilation2', dilation2)):
            if value < 1:
                raise ValueError(f'SoLa: {name} must be >= 1, got {value}')
        for name, k, d in (('1', kernel_size1, dilation1), ('2', kernel_size2, dilation2)):
            if d * (k - 1) % 2:
                raise ValueError(f'SoLa: dilation{name} * (kernel_size{name} - 1) = {d * (k - 1)} is '
                                 'odd, so the authors\' padding would shorten the sequence')
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.conv1 = nn.Conv1d(in_channels, hidden_channels, kernel_size1, dilation=dilation1,
                               padding=same_padding(kernel_size1, dilation1))
        self.conv2 = nn.Conv1d(hidden_channels, hidden_channels, kernel_size2, dilation=dilation2,
                               padding=same_padding(kernel_size2, dilation2))
        self.conv_out = nn.Conv1d(hidden_channels, in_channels, 1)
        self.alpha = nn.Parameter(torch.full((1,), float(alpha_init)))
        self.frozen = frozen
        self.pretrained = pretrained
        # where the current weights came from: None until a stage-1 checkpoint (load_pretrained)
        # or a state dict holding every SoLa tensor (resume, load_from, a test checkpoint) is
        # loaded; a frozen neck without weights is the identity, i.e. the baseline
        self.weights_source: Optional[str] = None
        if frozen:
            self.freeze()

    @property
    def receptive_radius(self) -> int:
        """Snippets on each side that an output snippet depends on (conv1, then conv2)."""
        return (same_padding(self.conv1.kernel_size[0], self.conv1.dilation[0])
                + same_padding(self.conv2.kernel_size[0], self.conv2.dilation[0]))

    def branch(self, x: torch.Tensor) -> torch.Tensor:
        """f(x), the residual branch before the tanh(alpha) gate; [B, C, T] -> [B, C, T]."""
        return self.conv_out(torch.relu(self.conv2(torch.relu(self.conv1(x)))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_gate(x)[0]

    def forward_with_gate(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """``(out, tanh(alpha) f(x))``: the output and its gated branch, so that stage 1 can log
        ``vector_norm_ratio`` without running the conv stack a second time."""
        if x.dim() != 3 or x.shape[1] != self.in_channels:
            raise ValueError(f'SoLa expects features [B, {self.in_channels}, T], got '
                             f'{list(x.shape)}; check `in_channels` against the feature width')
        gated = torch.tanh(self.alpha) * self.branch(x)
        return x + gated, gated

    @torch.no_grad()
    def vector_norm_ratio(self, x: torch.Tensor,
                          gated: Optional[torch.Tensor] = None) -> torch.Tensor:
        """The authors' diagnostic: mean ||tanh(alpha) f(x)|| / (mean ||x|| + 1e-8), norms over C.
        ``gated`` (from ``forward_with_gate``) avoids recomputing the branch."""
        if gated is None:
            gated = torch.tanh(self.alpha) * self.branch(x)
        return gated.norm(dim=1).mean() / (x.norm(dim=1).mean() + 1e-8)

    def freeze(self) -> None:
        """No gradient, eval mode from now on (train() keeps it in eval)."""
        self.frozen = True
        for param in self.parameters():
            param.requires_grad_(False)
        super().train(False)

    def train(self, mode: bool = True) -> 'SoLa':
        return super().train(mode and not self.frozen)

    def init_weights(self) -> None:
        super().init_weights()
        if self.pretrained:
            self.load_pretrained(self.pretrained)

    def load_pretrained(self, path: str) -> None:
        """Load SoLa weights from a stage-1 checkpoint (any prefix ending in ``neck.``) or a bare
        SoLa state dict."""
        from sola_mm.engine.checkpoint import load_submodule_state
        load_submodule_state(self, path, prefixes=('neck.', 'sola.', ''))
        self.weights_source = path

    @property
    def has_weights(self) -> bool:
        """Whether trained weights were loaded (stage 1, or a checkpoint holding the neck)."""
        return self.weights_source is not None

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs) -> None:
        # called by torch's and mmengine's load_state_dict for every submodule: a checkpoint that
        # holds all of the neck's tensors (resume, load_from, tools/test.py) gives it weights
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)
        own = [prefix + name for name, _ in self.named_parameters(recurse=True)]
        if own and all(key in state_dict for key in own):
            self.weights_source = 'a loaded state dict'
