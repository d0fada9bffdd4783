"""``LinearProbeMetric``: the SoLa paper's linear evaluation as an mmengine metric.

Fed by a ``LinearProbeDataset`` val dataloader (whole videos of the train and val annotation files,
``probe_split`` in the metainfo) and a model whose ``predict`` returns one dict per video with the
enhanced ``feature`` [C, T] and the metainfo (``SoLaPretrainer.predict``). The probe is fitted on
the ``train`` videos and scored on the ``val`` ones (``sola_mm.evaluation.linear_probe``). With the
default ``prefix='probe'`` the keys are ``probe/score`` (use ``save_best='probe/score',
rule='greater'`` in the CheckpointHook), ``probe/acc_boundary``, ``probe/acc_action``, ... and, with
``compare_raw``, ``probe/raw_score``: the same probe on the input features (computed once, cached).
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from mmaction.registry import METRICS
from ..linear_probe import build_probe_set, linear_probe

_INFO_KEYS = ('video_name', 'duration_second', 'duration_frame', 'feature_frame', 'annotations')


def _to_numpy_tc(feature: Any) -> np.ndarray:
    if isinstance(feature, torch.Tensor):
        feature = feature.detach().cpu().float().numpy()
    return np.ascontiguousarray(np.asarray(feature, dtype=np.float32).T)  # [C, T] -> [T, C]


@METRICS.register_module()
class LinearProbeMetric(BaseMetric):
    """Linear probe accuracy of the predicted features (paper protocol, all settings exposed).

    Args:
        boundary_k: "near a boundary" neighbourhood in snippets.
        epochs, lr, momentum, batch_size, score_epochs, normalize, seed, sampling, chunk_size:
            see ``linear_probe`` (defaults: the authors' protocol, one random snippet per
            100-snippet chunk, mean accuracy of epochs 6-15; ``sampling='all'``: every snippet).
        compare_raw: also report ``raw_score``, the probe on the model's inputs.
        per_class: also report ``acc_class/<category>`` (off by default: ActivityNet would add
            200 keys to every validation log line; ``tools/linear_eval.py`` prints them).
        prefix: metric key prefix (default ``'probe'``).
    """

    default_prefix = 'probe'

    def __init__(self, boundary_k: int = 2, epochs: int = 16, lr: float = 0.01,
                 momentum: float = 0.9, batch_size: int = 256,
                 score_epochs: Tuple[int, int] = (5, 14), normalize: bool = True, seed: int = 0,
                 sampling: str = 'chunk', chunk_size: int = 100,
                 compare_raw: bool = True, per_class: bool = False, collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.boundary_k = boundary_k
        self.probe_args = dict(epochs=epochs, lr=lr, momentum=momentum, batch_size=batch_size,
                               score_epochs=tuple(score_epochs), normalize=normalize, seed=seed,
                               sampling=sampling, chunk_size=chunk_size)
        self.compare_raw = compare_raw
        self.per_class = per_class
        self._raw_result: Optional[Dict[str, Any]] = None

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        inputs = data_batch.get('inputs') if isinstance(data_batch, dict) else None
        for i, sample in enumerate(data_samples):
            if 'feature' not in sample or 'probe_split' not in sample:
                raise KeyError('LinearProbeMetric: each prediction needs `feature` and '
                               '`probe_split` (use a LinearProbeDataset val dataloader and a model '
                               f'whose predict returns features, e.g. SoLaPretrainer); got keys '
                               f'{sorted(sample)}')
            entry = dict(split=sample['probe_split'], feature=_to_numpy_tc(sample['feature']),
                         info={k: sample[k] for k in _INFO_KEYS if k in sample})
            if self.compare_raw and self._raw_result is None and inputs is not None:
                entry['raw'] = _to_numpy_tc(inputs[i])
            self.results.append(entry)

    def _probe(self, results: List[dict], key: str) -> Dict[str, Any]:
        train = [(r[key], r['info']) for r in results if r['split'] == 'train']
        val = [(r[key], r['info']) for r in results if r['split'] == 'val']
        if not train or not val:
            raise ValueError(f'LinearProbeMetric: {len(train)} train and {len(val)} val videos; '
                             'the probe needs both (check the LinearProbeDataset ann files)')
        names = sorted({a['label'] for _, info in train + val
                        for a in info.get('annotations', [])})
        return linear_probe(build_probe_set(train, self.boundary_k, names),
                            build_probe_set(val, self.boundary_k, names), **self.probe_args)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        result = self._probe(results, 'feature')
        metrics = {k: v for k, v in result.items() if isinstance(v, float)
                   and (self.per_class or not k.startswith('acc_class/'))}
        if self.compare_raw:
            if self._raw_result is None and all('raw' in r for r in results):
                self._raw_result = self._probe(results, 'raw')
            if self._raw_result is not None:
                metrics['raw_score'] = self._raw_result['score']
        MMLogger.get_current_instance().info(
            f'linear probe ({result["num_train"]} train / {result["num_val"]} val snippets per '
            f'epoch, sampling={result["sampling"]}): '
            f'score {metrics["score"]:.4f}'
            + (f' (raw features {metrics["raw_score"]:.4f})' if 'raw_score' in metrics else ''))
        return metrics
