"""Runtime settings that depend on the machine, applied by tools/train.py and tools/test.py.

Multi-process training on CPU-only machines (``tools/dist_train.sh``, ``tools/slurm_train.sh``)
needs three things mmengine 0.10.7 does not do by itself:

1. NCCL needs CUDA: the backend becomes gloo.
2. mmengine's ``_init_dist_pytorch`` / ``_init_dist_slurm`` call ``torch.cuda.set_device``, which
   fails on a CPU build: the process group is initialised here instead (mmengine's ``setup_env``
   skips ``init_dist`` when a group exists).
3. mmengine wraps the model in DDP with ``device_ids=[LOCAL_RANK]``, which DDP refuses for CPU
   modules: ``model_wrapper_cfg`` sets ``device_ids=None``.

It also keeps the recipe under multi-process training (``apply_batch_policy``): a config's
``train_dataloader.batch_size`` is the global batch of the official recipe, and N processes must
not silently train with N times that batch at the same learning rate (MMAction2's behaviour).
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


BATCH_POLICIES = ('split', 'scale_lr', 'per_process')


def launch_world_size(cfg: Config) -> int:
    """The number of training processes of this launch (before or after the group exists)."""
    if torch_dist.is_available() and torch_dist.is_initialized():
        return torch_dist.get_world_size()
    if cfg.get('launcher', 'none') == 'none':
        return 1
    for name in ('WORLD_SIZE', 'SLURM_NTASKS', 'OMPI_COMM_WORLD_SIZE'):
        if os.environ.get(name):
            return int(os.environ[name])
    return 1


def apply_batch_policy(cfg: Config, world_size: Optional[int] = None) -> Config:
    """Keep the configured global batch and learning rate when training on several processes.

    ``batch_policy`` (top-level config key, default ``'split'``):

    * ``'split'``: each process loads ``batch_size / world_size`` samples, so the global batch and
      the learning rate are the config's (an error if it does not divide).
    * ``'scale_lr'``: each process keeps ``batch_size``; mmengine's ``auto_scale_lr`` multiplies
      the learning rate by the world size (``base_batch_size`` = the configured batch).
    * ``'per_process'``: MMAction2's behaviour, batch per process; the recipe changes (logged).

    The configured global batch is recorded as ``global_batch_size`` (read by ``ProtocolHook``).
    """
    policy = cfg.get('batch_policy', 'split')
    if policy not in BATCH_POLICIES:
        raise ValueError(f'config: batch_policy={policy!r}; expected one of {BATCH_POLICIES}')
    loader = cfg.get('train_dataloader')
    if not loader or loader.get('batch_size') is None or cfg.get('global_batch_size') is not None:
        return cfg  # nothing to train, or applied already (nested configs, a second call)
    world_size = world_size or launch_world_size(cfg)
    batch = int(loader['batch_size'])
    cfg.global_batch_size = batch
    if world_size == 1 or policy == 'per_process':
        return cfg
    if policy == 'split':
        if batch % world_size:
            raise ValueError(
                f'config: train_dataloader.batch_size={batch} (the global batch) does not divide '
                f'among {world_size} processes; use a process count that divides it, or '
                "--cfg-options batch_policy=scale_lr (lr scaled by the world size instead)")
        loader['batch_size'] = batch // world_size
        return cfg
    scale = cfg.get('auto_scale_lr') or dict()
    scale.update(enable=True, base_batch_size=batch)
    cfg.auto_scale_lr = scale
    return cfg


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
