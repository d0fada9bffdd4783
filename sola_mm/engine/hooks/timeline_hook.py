"""``TALVisualizationHook``: the detection timeline of every test video (``tools/test.py
--show-dir DIR``), as MMAction2's ``VisualizationHook`` does for recognition.

The model predicts per item (a video, or a sliding window of one); the timeline must show the
detections the metric evaluates, after window merging and class labelling. So the hook keeps the
test outputs (and each video's duration and ground truth from the data samples), and at the end
of the test epoch asks the test evaluator's ``TALDetectionMetric`` for its ``detections`` (the
same method ``compute_metrics`` and ``tools/infer.py`` use), then draws every ``interval``-th
video with :class:`~sola_mm.visualization.tal_visualizer.TALVisualizer`.
"""
from __future__ import annotations

import os
from typing import Dict, List, Optional, Sequence

from mmengine.dist import all_gather_object, is_main_process
from mmengine.hooks import Hook

from mmaction.registry import HOOKS
from ...visualization.tal_visualizer import TALVisualizer

__all__ = ['TALVisualizationHook']


def _tal_metric(runner):
    evaluator = getattr(runner, 'test_evaluator', None) or getattr(runner.test_loop,
                                                                   'evaluator', None)
    for metric in getattr(evaluator, 'metrics', []):
        if hasattr(metric, 'detections'):
            return metric
    return None


@HOOKS.register_module()
class TALVisualizationHook(Hook):
    """Timeline PNGs of the test videos (module docstring).

    Args:
        enable: draw at all (``tools/test.py`` sets it with ``--show``/``--show-dir``).
        out_dir: folder of the PNGs (``<video>.png``); None: the visualizer's backends.
        interval: draw every ``interval``-th video.
        show, wait_time: display each figure.
        top_k, score_thr: detections drawn per video.
    """

    priority = 'LOW'

    def __init__(self, enable: bool = False, out_dir: Optional[str] = None, interval: int = 1,
                 show: bool = False, wait_time: float = 0., top_k: int = 20,
                 score_thr: float = 0.0) -> None:
        self.enable = enable
        self.out_dir = out_dir
        self.interval = max(int(interval), 1)
        self.show = show
        self.wait_time = wait_time
        self.top_k = top_k
        self.score_thr = score_thr
        self._outputs: List[dict] = []
        self._videos: Dict[str, dict] = {}

    def before_test_epoch(self, runner) -> None:
        self._outputs, self._videos = [], {}

    def after_test_iter(self, runner, batch_idx: int, data_batch=None,
                        outputs: Optional[Sequence] = None) -> None:
        if not self.enable or not outputs:
            return
        self._outputs.extend(outputs)
        for sample in (data_batch or {}).get('data_samples', []):
            meta = sample.metainfo
            name = meta.get('video_name')
            if name is not None and name not in self._videos:
                self._videos[name] = dict(duration=meta.get('duration_second'),
                                          annotations=meta.get('annotations'))

    def after_test_epoch(self, runner, metrics=None) -> None:
        if not self.enable:
            return
        parts = all_gather_object((self._outputs, self._videos))
        if not is_main_process():
            return
        outputs: List[dict] = []
        info: Dict[str, dict] = {}
        for outs, videos in parts:
            outputs.extend(outs)
            for name, value in videos.items():
                info.setdefault(name, value)
        metric = _tal_metric(runner)
        if metric is None:
            runner.logger.warning('TALVisualizationHook: no TALDetectionMetric in the test '
                                  'evaluator, nothing drawn')
            return
        saved = list(metric.results)
        try:
            metric.results = []
            metric.process(None, outputs)
            gt = metric.ground_truth() if metric.label_mode(
                metric.merge_predictions(metric.results)) == 'oracle' else None
            merged, mode, fused = metric.detections(metric.results, gt)
        finally:
            metric.results = saved
        entries = {}
        for name, seg, sc, labels in (fused or []):
            entries[name] = [dict(label=str(c), score=float(s), segment=[float(a), float(b)])
                             for c, s, (a, b) in zip(labels, sc, seg)]
        for name, v in merged.items():
            entries.setdefault(name, [dict(label='action', score=float(s),
                                           segment=[float(a), float(b)])
                                      for s, (a, b) in zip(v.scores, v.segments)])
        vis = TALVisualizer.get_current_instance()
        if not isinstance(vis, TALVisualizer):
            vis = TALVisualizer(name=f'tal_timeline_{id(self)}', top_k=self.top_k,
                                score_thr=self.score_thr)
        for k, (name, dets) in enumerate(entries.items()):
            if k % self.interval:
                continue
            meta = info.get(name, {})
            duration = meta.get('duration') or max((d['segment'][1] for d in dets), default=1.0)
            out_file = os.path.join(self.out_dir, f'{name}.png') if self.out_dir else None
            vis.add_datasample(name, dets, float(duration), meta.get('annotations'),
                               show=self.show, wait_time=self.wait_time, out_file=out_file,
                               step=k)
        drawn = -(-len(entries) // self.interval)
        runner.logger.info(f'TALVisualizationHook: timelines of {drawn} video(s) in '
                           f'{self.out_dir or "the visualizer backends"}')
