"""MMAction2's BMN with a batched ``predict``: same network, losses and checkpoints, same output.

``mmaction.models.localizers.BMN.predict`` reads sample 0 of a batch only, picks its candidate
proposals in a Python double loop over the T x T map and post-processes one video at a time.
``BatchedBMN`` predicts every sample of the batch, selects the candidates with array operations in
the loop's order and float32 arithmetic, and post-processes them with
:func:`sola_mm.evaluation.functional.bmn_post_processing` (batched soft-NMS): the proposal lists
equal ``BMN.predict``'s (tests/models/test_batched_bmn.py; 25.9x on the post-processing alone,
``tools/benchmark_eval.py``). The network runs the fused boundary-matching layer
(:class:`.fused_bm.FusedBoundaryMatching`, ``fused_bm=True``): MMAction2's outputs with a small
fraction of the FLOPs and memory (``tools/benchmark_bmn.py``).
"""
from __future__ import annotations

from typing import List, Sequence

import numpy as np
import torch
from mmaction.models.localizers import BMN
from mmaction.registry import MODELS

from ...evaluation.functional.soft_nms import bmn_post_processing
from .fused_bm import FusedBoundaryMatching


def _boundary_bins(scores: np.ndarray, keep: int) -> np.ndarray:
    """BMN's boundary candidates: local peaks or scores above half the maximum; ``keep`` (0 for
    starts, -1 for ends) is always a candidate."""
    bins = np.zeros(scores.shape[0], dtype=bool)
    bins[keep] = True
    mid = scores[1:-1]
    bins[1:-1] |= ((mid > scores[2:]) & (mid > scores[:-2])) | (mid > 0.5 * scores.max())
    return bins


def bmn_candidates(start: np.ndarray, end: np.ndarray, cls_map: np.ndarray,
                   reg_map: np.ndarray) -> np.ndarray:
    """``[N, 7]`` rows (tmin, tmax, start score, end score, cls, reg, score) in BMN's loop order
    (duration outer, start inner) from ``[T]`` boundary curves and ``[D, T]`` confidence maps."""
    tscale = start.shape[0]
    start_bins, end_bins = _boundary_bins(start, 0), _boundary_bins(end, -1)
    duration, begin = np.meshgrid(np.arange(tscale), np.arange(tscale), indexing='ij')
    stop = begin + duration + 1
    mask = (stop < tscale) & start_bins[begin] & end_bins[np.minimum(stop, tscale - 1)]
    d, s = np.nonzero(mask)
    e = s + d + 1
    score = start[s] * end[e] * cls_map[d, s] * reg_map[d, s]  # float32, the loop's order
    return np.stack([s / tscale, e / tscale, start[s], end[e], cls_map[d, s], reg_map[d, s],
                     score], axis=1).astype(np.float64)


@MODELS.register_module()
class BatchedBMN(FusedBoundaryMatching, BMN):
    """BMN whose ``predict`` returns one ``{video_name, proposal_list}`` per sample of the batch.

    Takes BMN's arguments plus ``fused_bm`` (default True: the conv-first boundary-matching layer
    of :mod:`.fused_bm`, same outputs; False: MMAction2's dense layer) and
    ``sample_mask_in_state_dict`` (default False: checkpoints leave out the rebuilt 128 MB
    ``sample_mask``; True: keep it, for loaders that need MMAction2's exact key set).
    """

    batched_predict = True

    def predict(self, batch_inputs, batch_data_samples: Sequence, **kwargs) -> List[dict]:
        if isinstance(batch_inputs, (list, tuple)):
            batch_inputs = torch.stack(list(batch_inputs))
        with torch.no_grad():
            confidence_map, start, end = self._forward(batch_inputs)
        conf, start, end = (t.detach().cpu().numpy() for t in (confidence_map, start, end))
        candidates = [bmn_candidates(start[i], end[i], conf[i, 1], conf[i, 0])
                      for i in range(conf.shape[0])]
        infos = [sample.metainfo for sample in batch_data_samples]
        lists = bmn_post_processing(candidates, infos, self.soft_nms_alpha,
                                    self.soft_nms_low_threshold, self.soft_nms_high_threshold,
                                    self.post_process_top_k, self.feature_extraction_interval)
        return [dict(video_name=info['video_name'], proposal_list=proposals)
                for info, proposals in zip(infos, lists)]
