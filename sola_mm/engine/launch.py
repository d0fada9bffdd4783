"""Runtime settings that depend on the machine, applied by tools/train.py and tools/test.py.

Multi-process training on CPU-only machines (``tools/dist_train.sh``, ``tools/slurm_train.sh``)
needs three things mmengine 0.10.7 does not do by itself:

1. NCCL needs CUDA: the backend becomes gloo.
2. mmengine's ``_init_dist_pytorch`` / ``_init_dist_slurm`` call ``torch.cuda.set_device``, which
   fails on a CPU build: the process group is initialised here instead (mmengine's ``setup_env``
   skips ``init_dist`` when a group exists).
3. mmengine wraps the model in DDP with ``device_ids=[LOCAL_RANK]``, which DDP refuses for CPU
   modules: ``model_wrapper_cfg`` sets ``device_ids=None``.
"""
from __future__ import annotations

import os
import subprocess
from typing import Optional

import torch
import torch.distributed as torch_dist
from mmengine.config import Config


def _first_host(node_list: str) -> str:
    """First host of a SLURM node list (``scontrol show hostnames``). Without a working scontrol,
    127.0.0.1 for a one-node job; a multi-node job would hang on it, so that is an error."""
    try:
        proc = subprocess.run(['scontrol', 'show', 'hostnames', node_list], capture_output=True,
                              text=True, timeout=30)
        hosts = proc.stdout.split() if proc.returncode == 0 else []
    except (OSError, subprocess.TimeoutExpired):
        hosts = []
    if hosts:
        return hosts[0]
    if os.environ.get('SLURM_NNODES', '1') == '1':
        return '127.0.0.1'
    raise RuntimeError(f'SLURM_NODELIST={node_list!r} spans {os.environ["SLURM_NNODES"]} nodes '
                       'but `scontrol show hostnames` gave no host: set MASTER_ADDR to the first '
                       'node yourself')


def _slurm_env(port: str = '29500') -> None:
    """MASTER_ADDR/PORT, RANK, WORLD_SIZE, LOCAL_RANK from SLURM's variables (as mmengine does)."""
    addr = _first_host(os.environ['SLURM_NODELIST'])
    os.environ.setdefault('MASTER_PORT', port)
    os.environ.setdefault('MASTER_ADDR', addr)
    os.environ['WORLD_SIZE'] = os.environ['SLURM_NTASKS']
    os.environ['RANK'] = os.environ['SLURM_PROCID']
    os.environ['LOCAL_RANK'] = os.environ['SLURM_LOCALID']


def init_cpu_distributed(launcher: str, backend: str = 'gloo') -> None:
    """Initialise the default process group for a CPU-only multi-process run."""
    if torch_dist.is_available() and torch_dist.is_initialized():
        return
    if launcher == 'slurm':
        _slurm_env()
    elif launcher != 'pytorch':
        raise ValueError(f'launcher={launcher!r} on a CPU-only machine: use "pytorch" '
                         '(tools/dist_train.sh) or "slurm" (tools/slurm_train.sh)')
    torch_dist.init_process_group(backend=backend)


def load_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """A config file with the tools' ``--cfg-options`` overrides merged in."""
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def prepare_runtime(cfg: Config) -> Config:
    """CPU-only machines cannot use NCCL: switch distributed runs to gloo there, start the process
    group without touching CUDA, and wrap the model in DDP without device ids."""
    if cfg.get('launcher', 'none') != 'none' and not torch.cuda.is_available():
        # (Config/ConfigDict.setdefault return a copy when they insert: assign, then read back)
        if cfg.get('env_cfg') is None:
            cfg.env_cfg = dict()
        if cfg.env_cfg.get('dist_cfg') is None:
            cfg.env_cfg.dist_cfg = dict()
        cfg.env_cfg.dist_cfg['backend'] = 'gloo'
        wrapper = cfg.get('model_wrapper_cfg') or dict(type='MMDistributedDataParallel',
                                                       broadcast_buffers=False)
        wrapper['device_ids'] = None
        cfg.model_wrapper_cfg = wrapper
        init_cpu_distributed(cfg.launcher, 'gloo')
    return cfg
