"""kill -9 during SoLa stage 1, during stage 2 and during a checkpoint write, then ``--resume``:
the run ends with exactly the metrics and weights of an uninterrupted run with the same seed.

Why equality is exact on CPU: the models draw no random numbers in forward (no dropout), the
training order comes from mmengine's DefaultSampler (seeded permutation of ``seed + epoch``) and
SimilarityWindowDataset's window offsets (``seed + epoch``), and mmengine checkpoints hold the
model, the Adam moments, the scheduler and the message hub. Checkpoints are per epoch, so a resumed
run repeats the interrupted epoch from its start, with the same permutation. Single-threaded torch
(OMP_NUM_THREADS=1) keeps the float reductions in one order.
"""
from __future__ import annotations

import os
import os.path as osp

import pytest
import torch

from conftest import final_metrics, final_state, last_checkpoint, train, write_config

KILLED = -9


def assert_same_run(work_dir: str, reference: str) -> None:
    assert final_metrics(work_dir) == final_metrics(reference)
    state, ref_state = final_state(work_dir), final_state(reference)
    assert state.keys() == ref_state.keys()
    for key in ref_state:
        assert torch.equal(state[key], ref_state[key]), key


@pytest.fixture(scope='module')
def reference(demo_data, tmp_path_factory):
    """An uninterrupted SoLa + BMN run (stage 1: 4 epochs x 2 iters; stage 2: 2 epochs x 4)."""
    root = str(tmp_path_factory.mktemp('reference'))
    config = write_config(osp.join(root, 'cfg.py'), demo_data, sola=True)
    train(config, osp.join(root, 'work'))
    return osp.join(root, 'work')


def test_same_seed_same_metrics(reference, demo_data, tmp_path):
    """Determinism: a second run with the same seed and config gives identical metrics/weights."""
    config = write_config(str(tmp_path / 'cfg.py'), demo_data, sola=True)
    train(config, str(tmp_path / 'work'), '--seed', '0', '--deterministic')
    assert_same_run(str(tmp_path / 'work'), reference)


def test_kill_during_stage1_then_resume(reference, demo_data, tmp_path):
    once = str(tmp_path / 'killed')
    hook = f"'custom_hooks': [dict(type='KillAtIterHook', at_iter=5, once_file={once!r})],"
    config = write_config(str(tmp_path / 'cfg.py'), demo_data, sola=True, stage1_extra=hook)
    work = str(tmp_path / 'work')
    train(config, work, expect_rc=KILLED)
    stage1 = osp.join(work, 'sola_stage1')
    assert osp.exists(once)
    assert last_checkpoint(stage1).endswith('epoch_2.pth')  # killed in epoch 3
    assert not osp.exists(osp.join(stage1, 'stage1_done.json'))
    proc = train(config, work, '--resume')
    assert 'resumed epoch: 2' in proc.stdout + proc.stderr  # stage 1 went on from epoch_2.pth
    assert_same_run(work, reference)
    assert osp.exists(osp.join(stage1, 'stage1_done.json'))


def test_kill_during_stage2_then_resume(reference, demo_data, tmp_path):
    once = str(tmp_path / 'killed')
    extra = f"""
    custom_hooks = [dict(type='SoLaStage1Hook'),
                    dict(type='KillAtIterHook', at_iter=6, once_file={once!r})]
    """
    config = write_config(str(tmp_path / 'cfg.py'), demo_data, sola=True, extra=extra)
    work = str(tmp_path / 'work')
    train(config, work, expect_rc=KILLED)
    assert osp.exists(osp.join(work, 'sola_stage1', 'stage1_done.json'))
    assert last_checkpoint(work).endswith('epoch_1.pth')  # killed in epoch 2 (iter 6 of 8)
    train(config, work, '--resume')
    assert_same_run(work, reference)


def test_kill_during_checkpoint_write_leaves_no_truncated_checkpoint(reference, demo_data,
                                                                     tmp_path):
    """SIGKILL half-way through writing epoch_2.pth: the temp file is abandoned, epoch_2.pth never
    appears, ``last_checkpoint`` still names the complete epoch_1.pth, and --resume finishes."""
    once = str(tmp_path / 'killed')
    extra = f"""
    custom_hooks = [dict(type='SoLaStage1Hook'),
                    dict(type='KillAtIterHook', at_save_epoch=2, once_file={once!r})]
    """
    config = write_config(str(tmp_path / 'cfg.py'), demo_data, sola=True, extra=extra)
    work = str(tmp_path / 'work')
    train(config, work, expect_rc=KILLED)
    assert not osp.exists(osp.join(work, 'epoch_2.pth'))
    pointed = last_checkpoint(work)
    assert pointed.endswith('epoch_1.pth')
    from sola_mm.engine.checkpoint import load_checkpoint_file
    assert load_checkpoint_file(pointed)['meta']['epoch'] == 1
    leftovers = [f for f in os.listdir(work) if '.tmp.' in f]
    assert leftovers  # the half-written temp file, never published under a checkpoint name
    train(config, work, '--resume')
    assert_same_run(work, reference)
