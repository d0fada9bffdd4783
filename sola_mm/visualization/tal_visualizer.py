"""``TALVisualizer``: mmengine visualizer that draws a video's detection timeline.

``add_datasample(name, detections, duration, annotations)`` renders the figure of
:func:`sola_mm.visualization.timeline.plot_timeline` into the visualizer's image, then saves it
to ``out_file`` or hands it to the visualizer's backends (``LocalVisBackend`` writes it under the
run's ``vis_data``), like MMAction2's ``ActionVisualizer`` does for recognition samples.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
from mmengine.visualization import Visualizer

from mmaction.registry import VISUALIZERS
from .timeline import plot_timeline

__all__ = ['TALVisualizer']


@VISUALIZERS.register_module()
class TALVisualizer(Visualizer):
    """Timeline figures of temporal action detections (module docstring).

    Args:
        top_k, score_thr: detections drawn per video.
        dpi: resolution of the figure.
    """

    def __init__(self, name: str = 'visualizer', vis_backends: Optional[list] = None,
                 save_dir: Optional[str] = None, top_k: int = 20, score_thr: float = 0.0,
                 dpi: int = 100, **kwargs) -> None:
        super().__init__(name=name, vis_backends=vis_backends, save_dir=save_dir, **kwargs)
        self.top_k = top_k
        self.score_thr = score_thr
        self.dpi = dpi

    def render(self, detections: Sequence[dict], duration: float,
               annotations: Optional[Sequence[dict]] = None, title: str = '') -> np.ndarray:
        """The timeline as an RGB ``uint8 [H, W, 3]`` image."""
        import matplotlib.pyplot as plt
        fig = plot_timeline(detections, duration, annotations, title=title, top_k=self.top_k,
                            score_thr=self.score_thr, dpi=self.dpi)
        fig.canvas.draw()
        image = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
        plt.close(fig)
        return image

    def add_datasample(self, name: str, detections: Sequence[dict], duration: float,
                       annotations: Optional[Sequence[dict]] = None, show: bool = False,
                       wait_time: float = 0, out_file: Optional[str] = None,
                       step: int = 0) -> np.ndarray:
        """Draw one video's timeline; save to ``out_file``, or add it to the backends."""
        image = self.render(detections, duration, annotations, title=name)
        self.set_image(image)
        if show:
            self.show(image, win_name=name, wait_time=wait_time)
        if out_file is not None:
            import os

            import mmcv
            os.makedirs(os.path.dirname(os.path.abspath(out_file)), exist_ok=True)
            root, ext = os.path.splitext(out_file)
            tmp = f'{root}.tmp.{os.getpid()}{ext}'
            mmcv.imwrite(image[..., ::-1], tmp)
            os.replace(tmp, out_file)
        else:
            self.add_image(name, image, step)
        return image
