"""GCNeXt, G-TAD's graph block: a temporal conv branch plus a semantic branch on a dynamic kNN
graph.

``out = ReLU(tconvs(x) + x + max_k sconvs([x_neighbour, x_centre]))`` (Xu et al., CVPR 2020). The
kNN graph is rebuilt from the block's own input in every block and for every video: the 3 nearest
snippets by squared Euclidean distance, the snippet itself included. Parameter names follow the
official code (``tconvs.0/2/4``, ``sconvs.0/2/4``) so official weights load as they are.
"""
from __future__ import annotations

from typing import Tuple, Union

import torch
from torch import nn

__all__ = ['knn_indices', 'gather_neighbours', 'GCNeXt']


@torch.no_grad()
def knn_indices(x: torch.Tensor, k: int) -> torch.Tensor:
    """Indices ``[B, T, k]`` of the k nodes closest to each node of ``x [B, C, T]`` (top-k of
    ``-||x_i - x_j||^2``; each node is its own nearest neighbour)."""
    if k > x.shape[2]:
        raise ValueError(f'kNN: k={k} neighbours requested but the sequence has only '
                         f'{x.shape[2]} snippets')
    inner = torch.bmm(x.transpose(1, 2), x)
    sq_norm = (x * x).sum(dim=1)
    neg_dist = 2 * inner - sq_norm[:, None, :] - sq_norm[:, :, None]
    return neg_dist.topk(k=k, dim=-1).indices


def gather_neighbours(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Neighbour features ``[B, C, T, k]`` of ``x [B, C, T]`` for indices ``idx [B, T, k]``."""
    batch, channels, length = x.shape
    k = idx.shape[-1]
    flat_idx = (idx + torch.arange(batch, device=x.device).view(-1, 1, 1) * length).reshape(-1)
    nodes = x.transpose(1, 2).reshape(batch * length, channels)
    return nodes[flat_idx].view(batch, length, k, channels).permute(0, 3, 1, 2)


class GCNeXt(nn.Module):
    """One GCNeXt block, ``[B, C, T] -> [B, C, T]``.

    Args:
        channels: input and output width C.
        k: neighbours of the semantic graph (3 in G-TAD).
        groups, width_group: the grouped convs have ``groups * width_group`` channels (official
            32 x 4 = 128, whatever C is).
    """

    def __init__(self, channels: int, k: int = 3, groups: int = 32, width_group: int = 4) -> None:
        super().__init__()
        width = groups * width_group
        self.k = k
        self.tconvs = nn.Sequential(
            nn.Conv1d(channels, width, kernel_size=1), nn.ReLU(inplace=True),
            nn.Conv1d(width, width, kernel_size=3, padding=1, groups=groups),
            nn.ReLU(inplace=True),
            nn.Conv1d(width, channels, kernel_size=1))
        self.sconvs = nn.Sequential(
            nn.Conv2d(2 * channels, width, kernel_size=1), nn.ReLU(inplace=True),
            nn.Conv2d(width, width, kernel_size=1, groups=groups), nn.ReLU(inplace=True),
            nn.Conv2d(width, channels, kernel_size=1))

    def forward(self, x: torch.Tensor, return_index: bool = False
                ) -> Union[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]:
        idx = knn_indices(x, self.k)
        centre = x.unsqueeze(-1).expand(-1, -1, -1, self.k)
        edges = torch.cat((gather_neighbours(x, idx), centre), dim=1)  # [B, 2C, T, k]
        # max (not amax): the gradient goes to one neighbour, as in the official code
        semantic = self.sconvs(edges).max(dim=-1).values
        out = torch.relu(self.tconvs(x) + x + semantic)
        return (out, idx) if return_index else out
