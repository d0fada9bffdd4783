"""Runtime settings that depend on the machine, applied by tools/train.py and tools/test.py."""
from __future__ import annotations

import torch
from mmengine.config import Config


def prepare_runtime(cfg: Config) -> Config:
    """CPU-only machines cannot use NCCL: switch distributed runs to gloo there."""
    if cfg.get('launcher', 'none') != 'none' and not torch.cuda.is_available():
        cfg.setdefault('env_cfg', dict()).setdefault('dist_cfg', dict())['backend'] = 'gloo'
    return cfg
