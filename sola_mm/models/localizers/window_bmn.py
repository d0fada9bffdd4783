"""BMN on sliding windows (THUMOS): MMAction2's BMN with window-aware ``predict``.

MMAction2's ``BMN.predict`` scales its normalised proposals by the sample's ``duration_second``
and only reads sample 0. On a window (``ThumosWindowDataset``) the proposals are relative to the
window, so this subclass predicts every sample of the batch and converts each proposal to seconds
in the video: frame = ``snippet_stride * window_start_snippet + x * snippet_stride *
window_snippets``, clipped to ``[0, num_frames]``, divided by ``fps``. Each output dict carries
``video_name``, ``fps``, ``duration_second`` and the window keys, so the metric merges the windows
of a video (concatenate, soft-NMS, top-k). Samples without window keys behave as plain BMN.

Not imported by ``sola_mm/__init__``: configs import it with
``custom_imports = dict(imports=['sola_mm', 'sola_mm.models.localizers.window_bmn'])``.
"""
from __future__ import annotations

import numpy as np
import torch
from mmaction.models.localizers import BMN
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample

from ...datasets.thumos_window_dataset import window_to_seconds

WINDOW_KEYS = ('window_start_snippet', 'window_snippets', 'snippet_stride', 'fps', 'num_frames',
               'duration_second')


@MODELS.register_module()
class WindowBMN(BMN):
    """BMN whose predictions on windows are in video seconds (one dict per sample)."""

    batched_predict = True

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault('feature_extraction_interval', 1)
        super().__init__(*args, **kwargs)

    def predict(self, batch_inputs, batch_data_samples, **kwargs):
        if isinstance(batch_inputs, (list, tuple)):
            batch_inputs = torch.stack(list(batch_inputs))
        outputs = []
        for i, sample in enumerate(batch_data_samples):
            meta = dict(sample.metainfo)
            if 'window_start_snippet' not in meta:
                outputs.extend(super().predict(batch_inputs[i:i + 1], [sample], **kwargs))
                continue
            unit = ActionDataSample()
            unit.set_metainfo(dict(video_name=meta['video_name'], duration_second=1.0,
                                   duration_frame=1))
            result = super().predict(batch_inputs[i:i + 1], [unit], **kwargs)[0]
            proposals = result['proposal_list']
            if proposals:
                seg = window_to_seconds(np.array([p['segment'] for p in proposals]),
                                        meta['window_start_snippet'], meta['window_snippets'],
                                        meta['snippet_stride'], meta['fps'], meta['num_frames'])
                proposals = [dict(score=p['score'], segment=[float(a), float(b)])
                             for p, (a, b) in zip(proposals, seg) if b > a]
            out = dict(video_name=meta['video_name'], proposal_list=proposals)
            out.update({k: meta[k] for k in WINDOW_KEYS if k in meta})
            outputs.append(out)
        return outputs
