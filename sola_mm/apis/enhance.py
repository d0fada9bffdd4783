"""Apply a frozen SoLa neck to whole feature sequences (no windowing) and export the result.

``enhance_folder`` writes, for every feature file of a folder, a file of the same name, shape and
format (``.npy`` / MMAction2 CSV) holding ``SoLa(features)``. Finished files are skipped on a rerun
and every file goes through a temp file + rename (``save_features_atomic``), so an interrupted
export never leaves a half-written file. The helpers that read the data settings of a config
(``data_spec``) and build the frozen neck (``build_frozen_neck``) are shared by the tools
(``linear_eval``, ``enhance_features``, ``visualize_tsm``).
"""
from __future__ import annotations

import copy
import os
from typing import Dict, List, Optional, Union

import numpy as np
import torch
from mmengine.config import Config

from ..datasets.feature_io import LOADERS, load_features, save_features_atomic


def _load_transform(pipeline) -> dict:
    for step in pipeline or []:
        if isinstance(step, dict) and step.get('type') == 'LoadTALFeature':
            return step
    return {}


def data_spec(cfg: Config) -> Dict[str, object]:
    """Feature folder, format, width, temporal scale and train/val annotation files of a config.

    A stage-1 config with a ``LinearProbeDataset`` val dataloader is read from that dataset; any
    other config (stage 2, stage 1 without probe) from its train and val dataloaders.
    """
    val = (cfg.get('val_dataloader') or {}).get('dataset') or {}
    train = (cfg.get('train_dataloader') or {}).get('dataset') or {}
    if val.get('type') == 'LinearProbeDataset':
        source, train_ann, val_ann = val, val.get('train_ann_file'), val.get('ann_file')
    else:
        source, train_ann, val_ann = train, train.get('ann_file'), val.get('ann_file')
    load = _load_transform(source.get('pipeline'))
    spec = dict(train_ann=train_ann, val_ann=val_ann,
                feature_dir=(source.get('data_prefix') or {}).get('feature', ''),
                feature_ext=source.get('feature_ext', '.npy'),
                feat_dim=load.get('feat_dim', source.get('feat_dim')),
                temporal_scale=load.get('temporal_scale', source.get('temporal_scale')))
    root = source.get('data_root')
    if root:
        for key in ('train_ann', 'val_ann', 'feature_dir'):
            if spec[key] and not os.path.isabs(spec[key]):
                spec[key] = os.path.join(root, spec[key])
    return spec


def build_frozen_neck(cfg: Union[Config, dict], checkpoint: Optional[str] = None):
    """Build ``model.neck`` of a config (or a neck config dict), load ``checkpoint`` (a stage-1 or
    stage-2 checkpoint, or a bare SoLa state dict) and freeze it."""
    import sola_mm  # noqa: F401  (registration)
    from mmaction.registry import MODELS
    neck_cfg = cfg
    if isinstance(cfg, Config) or 'model' in cfg:
        neck_cfg = cfg['model'].get('neck')
        if neck_cfg is None:
            raise ValueError('config: model.neck is not set; there is no SoLa neck to apply')
    neck_cfg = copy.deepcopy(dict(neck_cfg))
    neck_cfg.update(pretrained=None, frozen=False)
    neck = MODELS.build(neck_cfg)
    if checkpoint:
        neck.load_pretrained(checkpoint)
    neck.freeze()
    return neck.eval()


@torch.no_grad()
def apply_neck(neck: torch.nn.Module, feats: np.ndarray) -> np.ndarray:
    """``[T, C]`` features -> the neck's ``[T, C]`` output (one whole sequence, one pass)."""
    # a copy: load_features may return a read-only memmap
    x = torch.from_numpy(np.array(feats, dtype=np.float32, order='C')).t()[None]
    device = next(neck.parameters()).device
    return neck(x.to(device))[0].t().cpu().numpy().astype(np.float32)


def list_feature_files(in_dir: str, ext: Optional[str] = None) -> List[str]:
    exts = [ext if ext.startswith('.') else '.' + ext] if ext else list(LOADERS)
    if not os.path.isdir(in_dir):
        raise FileNotFoundError(f'feature folder {in_dir!r} does not exist')
    return sorted(f for f in os.listdir(in_dir) if os.path.splitext(f)[1] in exts)


def enhance_folder(neck: torch.nn.Module, in_dir: str, out_dir: str, ext: Optional[str] = None,
                   feat_dim: Optional[int] = None, overwrite: bool = False,
                   progress: bool = True) -> Dict[str, int]:
    """Write ``neck(features)`` for every feature file of ``in_dir`` to ``out_dir``.

    Returns counts ``written`` / ``skipped`` (already present, kept unless ``overwrite``).
    """
    if os.path.abspath(in_dir) == os.path.abspath(out_dir):
        raise ValueError(f'enhance: --in and --out are the same folder {in_dir!r}')
    files = list_feature_files(in_dir, ext)
    if not files:
        raise FileNotFoundError(f'feature folder {in_dir!r} holds no {ext or list(LOADERS)} file')
    os.makedirs(out_dir, exist_ok=True)
    counts = dict(written=0, skipped=0)
    iterator = files
    if progress:
        from tqdm import tqdm
        iterator = tqdm(files, desc='SoLa features', unit='video')
    for name in iterator:
        dst = os.path.join(out_dir, name)
        if os.path.isfile(dst) and not overwrite:
            counts['skipped'] += 1
            continue
        video = os.path.splitext(name)[0]
        feats = load_features(os.path.join(in_dir, name), video=video, feat_dim=feat_dim)
        save_features_atomic(apply_neck(neck, feats), dst)
        counts['written'] += 1
    return counts
