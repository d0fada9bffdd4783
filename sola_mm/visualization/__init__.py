"""Figures: temporal self-similarity maps (TSM) before / after SoLa."""
from .tsm import cosine_tsm, plot_tsm_pair, segments_in_snippets, video_tsm_figure

__all__ = ['cosine_tsm', 'plot_tsm_pair', 'segments_in_snippets', 'video_tsm_figure']
