"""Per-video output files of inference: SRT subtitles and the detections JSON.

* ``detections.json``: the ActivityNet submission layout (``{"version", "results": {video:
  [{label, score, segment: [start_s, end_s]}]}, "external_data"}``), the format ``tools/test.py``
  writes and the official evaluators read;
* ``<video>.srt``: one subtitle per shown detection ("label 0.87"), from its start to its end, so
  the actions appear in any video player that loads subtitles next to the video.
"""
from __future__ import annotations

import os
from typing import Dict, List, Sequence

from ..evaluation.functional.submission import write_submission
from ..visualization.timeline import select_detections

__all__ = ['srt_time', 'write_srt', 'write_detections']


def srt_time(seconds: float) -> str:
    """``HH:MM:SS,mmm`` (SRT's time format)."""
    ms = int(round(max(float(seconds), 0.0) * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f'{h:02d}:{m:02d}:{s:02d},{ms:03d}'


def write_srt(path: str, detections: Sequence[dict], top_k: int = 20,
              score_thr: float = 0.0) -> str:
    """The best ``top_k`` detections as subtitles, in time order; written atomically."""
    shown = sorted(select_detections(detections, top_k, score_thr),
                   key=lambda d: (float(d['segment'][0]), -float(d['score'])))
    blocks = []
    for i, d in enumerate(shown, 1):
        s, e = (float(v) for v in d['segment'])
        blocks.append(f'{i}\n{srt_time(s)} --> {srt_time(max(e, s + 0.001))}\n'
                      f'{d["label"]} {float(d["score"]):.2f}\n')
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f'{path}.tmp.{os.getpid()}'
    with open(tmp, 'w', encoding='utf-8') as f:
        f.write('\n'.join(blocks))
    os.replace(tmp, path)
    return path


def write_detections(path: str, results: List[dict]) -> str:
    """Inference results (``inference_localizer``) as one submission file."""
    entries: Dict[str, list] = {r['video_name']: r['detections'] for r in results}
    return write_submission(path, entries)
