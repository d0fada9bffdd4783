"""The SLURM path without a cluster: tools/slurm_train.sh builds the srun command, and
sola_mm.engine.launch turns SLURM's variables into torch.distributed's (fake srun/scontrol on PATH).
The real multi-process run is tests/reliability/test_dist.py (torchrun)."""
from __future__ import annotations

import os
import os.path as osp
import stat
import subprocess

import pytest

from reliability_utils import ROOT
from sola_mm.engine import launch


def fake_tool(folder, name: str, script: str) -> None:
    path = osp.join(str(folder), name)
    with open(path, 'w') as f:
        f.write('#!/usr/bin/env bash\n' + script)
    os.chmod(path, os.stat(path).st_mode | stat.S_IEXEC)


@pytest.mark.parametrize('gres, expected', [(None, '--gres=gpu:4'), ('', None)],
                         ids=['gpu_partition', 'cpu_partition'])
def test_slurm_train_builds_the_srun_command(tmp_path, gres, expected):
    fake_tool(tmp_path, 'srun', f'printf "%s\\n" "$@" > {tmp_path}/args\n')
    env = dict(os.environ, PATH=f'{tmp_path}:{os.environ["PATH"]}', GPUS='8', GPUS_PER_NODE='4')
    if gres is not None:
        env['GRES'] = gres
    subprocess.run(['bash', osp.join(ROOT, 'tools', 'slurm_train.sh'), 'part', 'job', 'cfg.py',
                    'work', '--seed', '1'], env=env, check=True, capture_output=True)
    args = (tmp_path / 'args').read_text().split('\n')
    assert args[:4] == ['-p', 'part', '--job-name=job', expected or '--ntasks=8']
    assert '--ntasks=8' in args and '--ntasks-per-node=4' in args
    assert args[-7:-1] == [osp.join(ROOT, 'tools', 'train.py'), 'cfg.py', '--work-dir=work',
                           '--launcher=slurm', '--seed', '1']
    assert (expected in args) if expected else not any(a.startswith('--gres') for a in args)


@pytest.mark.parametrize('scontrol, addr', [('printf "node07\\nnode08\\n"', 'node07'),
                                            ('exit 1', '127.0.0.1'), (None, '127.0.0.1')],
                         ids=['scontrol', 'scontrol_fails', 'no_scontrol'])
def test_slurm_variables_become_torch_distributed_ones(tmp_path, monkeypatch, scontrol, addr):
    if scontrol is not None:
        fake_tool(tmp_path, 'scontrol', scontrol + '\n')
    monkeypatch.setenv('PATH', f'{tmp_path}:/usr/bin:/bin' if scontrol else str(tmp_path))
    for key in ('MASTER_ADDR', 'MASTER_PORT', 'RANK', 'WORLD_SIZE', 'LOCAL_RANK'):
        monkeypatch.delenv(key, raising=False)
    one_node = addr == '127.0.0.1'  # without hostnames, only a one-node job may fall back
    monkeypatch.setenv('SLURM_NODELIST', 'node07' if one_node else 'node[07-08]')
    monkeypatch.setenv('SLURM_NNODES', '1' if one_node else '2')
    monkeypatch.setenv('SLURM_NTASKS', '4')
    monkeypatch.setenv('SLURM_PROCID', '3')
    monkeypatch.setenv('SLURM_LOCALID', '1')
    launch._slurm_env()
    assert (os.environ['MASTER_ADDR'], os.environ['MASTER_PORT']) == (addr, '29500')
    assert (os.environ['WORLD_SIZE'], os.environ['RANK'], os.environ['LOCAL_RANK']) == ('4', '3',
                                                                                       '1')


@pytest.mark.parametrize('scontrol', ['exit 1', None], ids=['scontrol_fails', 'no_scontrol'])
def test_multi_node_job_without_hostnames_is_an_error(tmp_path, monkeypatch, scontrol):
    if scontrol is not None:
        fake_tool(tmp_path, 'scontrol', scontrol + '\n')
    monkeypatch.setenv('PATH', f'{tmp_path}:/usr/bin:/bin' if scontrol else str(tmp_path))
    monkeypatch.delenv('MASTER_ADDR', raising=False)
    for key, value in (('SLURM_NODELIST', 'node[07-08]'), ('SLURM_NNODES', '2'),
                       ('SLURM_NTASKS', '8'), ('SLURM_PROCID', '0'), ('SLURM_LOCALID', '0')):
        monkeypatch.setenv(key, value)
    with pytest.raises(RuntimeError, match='spans 2 nodes.*set MASTER_ADDR'):
        launch._slurm_env()


def test_unsupported_cpu_launcher():
    with pytest.raises(ValueError, match='launcher=.mpi. on a CPU-only machine'):
        launch.init_cpu_distributed('mpi')
