"""Linear evaluation of raw vs SoLa features on the data of a config (``tools/linear_eval.py``)."""
from __future__ import annotations

import os
from typing import Dict, List, Optional, Tuple

import numpy as np

from ..datasets.anet_feature_dataset import load_anet_annotations
from ..datasets.feature_io import load_features, resize_features
from ..evaluation.linear_probe import build_probe_set, linear_probe
from .enhance import apply_neck, build_frozen_neck, data_spec


def load_videos(ann_file: str, feature_dir: str, feature_ext: str = '.npy',
                feat_dim: Optional[int] = None, temporal_scale: Optional[int] = None,
                max_videos: Optional[int] = None) -> List[Tuple[np.ndarray, dict]]:
    """``(features [T, C], info)`` for every video of ``ann_file`` (evenly subsampled to
    ``max_videos``), features resized to ``temporal_scale`` when set."""
    database = load_anet_annotations(ann_file)
    names = sorted(database)
    if max_videos and len(names) > max_videos:
        names = [names[i] for i in np.linspace(0, len(names) - 1, max_videos).round().astype(int)]
    ext = feature_ext if feature_ext.startswith('.') else '.' + feature_ext
    videos = []
    for name in names:
        feats = np.array(load_features(os.path.join(feature_dir, name + ext), video=name,
                                       feat_dim=feat_dim), dtype=np.float32)
        if temporal_scale:
            feats = resize_features(feats, temporal_scale)
        videos.append((np.asarray(feats, dtype=np.float32), dict(database[name], video_name=name)))
    return videos


def load_probe_dataset_videos(dataset_cfg: dict, temporal_scale: Optional[int] = -1,
                              max_videos: Optional[int] = None
                              ) -> Tuple[List[Tuple[np.ndarray, dict]], List[Tuple[np.ndarray, dict]]]:
    """``(train, val)`` videos of a config's ``LinearProbeDataset`` (its subset lists and
    per-split feature folders included), features ``[T, C]``."""
    import copy

    from mmaction.registry import DATASETS
    dataset_cfg = copy.deepcopy(dict(dataset_cfg))
    if temporal_scale != -1:
        dataset_cfg['temporal_scale'] = temporal_scale or None
    if max_videos:
        dataset_cfg['max_videos'] = max_videos
    dataset = DATASETS.build(dataset_cfg)
    split: Dict[str, List[Tuple[np.ndarray, dict]]] = dict(train=[], val=[])
    for i in range(len(dataset)):
        item = dataset[i]
        meta = item['data_samples'].metainfo
        split[meta['probe_split']].append((item['inputs'].numpy().T, dict(meta)))
    return split['train'], split['val']


def run_linear_eval(cfg, checkpoint: Optional[str] = None, temporal_scale: Optional[int] = -1,
                    max_videos: Optional[int] = None, boundary_k: int = 2,
                    **probe_args) -> Dict[str, Dict[str, object]]:
    """Probe results ``{'raw': ..., 'SoLa': ...}`` (``SoLa`` only with a checkpoint).

    ``temporal_scale=-1`` takes the config's (native for a dataset with ``neck_input='native'``);
    ``None``/0 keeps each video's native length.
    """
    probe_dataset = (cfg.get('val_dataloader') or {}).get('dataset') or {}
    if probe_dataset.get('type') == 'LinearProbeDataset':  # stage-1 config: its own videos
        train, val = load_probe_dataset_videos(probe_dataset, temporal_scale, max_videos)
    else:
        spec = data_spec(cfg)
        if temporal_scale == -1:  # a neck that sees native lengths is probed on them (stage 1 too)
            train_data = (cfg.get('train_dataloader') or {}).get('dataset') or {}
            native = train_data.get('neck_input') == 'native'
            temporal_scale = None if native else spec['temporal_scale']
        for key in ('train_ann', 'val_ann'):
            if not spec[key]:
                raise ValueError(f'config: no {key.replace("_ann", "")} annotation file found '
                                 'in the train/val dataloaders')
        load = dict(feature_dir=spec['feature_dir'], feature_ext=spec['feature_ext'],
                    feat_dim=spec['feat_dim'], temporal_scale=temporal_scale or None,
                    max_videos=max_videos)
        train = load_videos(spec['train_ann'], **load)
        val = load_videos(spec['val_ann'], **load)
    names = sorted({a['label'] for _, info in train + val for a in info.get('annotations', [])})

    def probe(tr, va):
        return linear_probe(build_probe_set(tr, boundary_k, names),
                            build_probe_set(va, boundary_k, names), **probe_args)

    results = {'raw': probe(train, val)}
    if checkpoint:
        neck = build_frozen_neck(cfg, checkpoint)
        enhance = lambda vids: [(apply_neck(neck, f), i) for f, i in vids]  # noqa: E731
        results['SoLa'] = probe(enhance(train), enhance(val))
    return results
