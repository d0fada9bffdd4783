"""Temporal self-similarity maps (TSM): cosine similarity between every pair of snippets.

``plot_tsm_pair`` draws the map of the input features and of the SoLa output side by side, with the
ground-truth segments marked along both axes (bars above and to the left of each map, plus dashed
lines at their boundaries). Snippet units on the axes. Uses matplotlib's Agg backend (no display).
"""
from __future__ import annotations

import os
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np


def cosine_tsm(feats: np.ndarray, eps: float = 1e-8) -> np.ndarray:
    """``[T, C]`` -> ``[T, T]`` cosine similarity (the 1e-8 is added to the norm product)."""
    x = np.asarray(feats, dtype=np.float64)
    norms = np.linalg.norm(x, axis=1)
    return (x @ x.T) / (norms[:, None] * norms[None] + eps)


def segments_in_snippets(info: dict, num_snippets: int) -> List[Tuple[float, float]]:
    """GT segments of an annotation entry in snippet units (``sec * T / corrected_second``)."""
    from ..evaluation.linear_probe import corrected_seconds
    scale = num_snippets / corrected_seconds(info)
    return [(float(a['segment'][0]) * scale, float(a['segment'][1]) * scale)
            for a in info.get('annotations', [])]


def plot_tsm_pair(maps: Dict[str, np.ndarray], segments: Sequence[Tuple[float, float]],
                  out_file: str, title: str = '', dpi: int = 100,
                  vmin: Optional[float] = None) -> str:
    """Save the maps (e.g. ``{'raw': tsm0, 'SoLa': tsm1}``) side by side to ``out_file`` (PNG).

    All maps share one colour scale, ``[vmin, 1]``; ``vmin=None`` takes the smallest value of the
    maps (classification features are rarely anti-correlated, and a fixed ``[-1, 1]`` scale would
    wash the structure out)."""
    import matplotlib
    matplotlib.use('Agg', force=False)
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    if vmin is None:
        vmin = min(float(np.min(m)) for m in maps.values())
    vmin = min(vmin, 1.0 - 1e-3)
    fig, axes = plt.subplots(1, len(maps), figsize=(4.6 * len(maps), 4.6), squeeze=False)
    for ax, (name, tsm) in zip(axes[0], maps.items()):
        t = tsm.shape[0]
        image = ax.imshow(tsm, cmap='viridis', vmin=vmin, vmax=1, origin='upper',
                          extent=(0, t, t, 0), interpolation='nearest')
        bar = max(1.0, 0.03 * t)
        for start, end in segments:
            # red bars outside the map along the top and the left axis
            ax.add_patch(Rectangle((start, -bar * 1.2), end - start, bar, color='red',
                                   clip_on=False))
            ax.add_patch(Rectangle((-bar * 1.2, start), bar, end - start, color='red',
                                   clip_on=False))
            for v in (start, end):
                ax.axvline(v, color='white', lw=0.8, ls='--')
                ax.axhline(v, color='white', lw=0.8, ls='--')
        ax.tick_params(pad=2 + 72 * 1.2 * bar / t * 3.3)  # tick labels clear of the GT bars
        ax.set_xlim(0, t)
        ax.set_ylim(t, 0)
        ax.set_title(f'{name}', pad=14)
        ax.set_xlabel('snippet')
        ax.set_ylabel('snippet')
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(out_file)), exist_ok=True)
    tmp = out_file + '.tmp.png'
    fig.savefig(tmp, dpi=dpi)
    plt.close(fig)
    os.replace(tmp, out_file)
    return out_file


def video_tsm_figure(neck, feats: np.ndarray, info: dict, out_file: str,
                     temporal_scale: Optional[int] = None) -> str:
    """TSM of one video's features ``[T, C]`` before and after ``neck`` (a frozen SoLa)."""
    from ..apis.enhance import apply_neck
    from ..datasets.feature_io import resize_features
    if temporal_scale:
        feats = resize_features(feats, temporal_scale)
    enhanced = apply_neck(neck, feats)
    t = feats.shape[0]
    name = info.get('video_name', os.path.splitext(os.path.basename(out_file))[0])
    return plot_tsm_pair({'raw features': cosine_tsm(feats), 'SoLa features': cosine_tsm(enhanced)},
                         segments_in_snippets(info, t), out_file, title=f'{name} (T={t})')
