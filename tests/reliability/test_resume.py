"""kill -9 during SoLa stage 1, during stage 2 and during a checkpoint write, then ``--resume``:
the run ends with exactly the metrics and weights of an uninterrupted run with the same seed.

Why equality is exact on CPU: the training order comes from mmengine's DefaultSampler (a seeded
permutation of ``seed + epoch``) and stage-1 windows are a pure function of (seed, epoch, index);
mmengine checkpoints hold the model, the Adam moments, the scheduler and the message hub; and
``RNGStateHook`` adds the global torch/numpy/Python RNG states, which the losses draw from (BMN
samples its IoU-map cells with ``torch.rand_like``), restoring them on resume. ``SoLaStage1Hook``
runs a nested stage 1 with the RNG states preserved, so stage 2 sees the same streams whether
stage 1 ran in this process, resumed in it, or was finished earlier. Checkpoints are per epoch, so
a resumed run repeats the interrupted epoch from its start. Single-threaded torch
(OMP_NUM_THREADS=1) keeps the float reductions in one order. Exactly equal, no tolerance.
"""
from __future__ import annotations

import os
import os.path as osp

import torch

from reliability_utils import final_metrics, final_state, last_checkpoint, train, write_config

KILLED = -9


def assert_same_run(work_dir: str, reference: str) -> None:
    assert final_metrics(work_dir) == final_metrics(reference)
    state, ref_state = final_state(work_dir), final_state(reference)
    assert state.keys() == ref_state.keys()
    for key in ref_state:
        assert torch.equal(state[key], ref_state[key]), key


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


def test_kill_during_stage2_checkpoint_write_then_resume(reference, demo_data, tmp_path):
    """SIGKILL in stage 2 after epoch 2 trained, half-way through writing epoch_2.pth: the temp
    file is abandoned, epoch_2.pth never appears, ``last_checkpoint`` still names the complete
    epoch_1.pth; ``--resume`` reuses the finished stage 1, repeats epoch 2 and ends equal."""
    once = str(tmp_path / 'killed')
    # a config's own custom_hooks no longer drop stage 1 (it is a default hook of the SoLa base)
    extra = f"""
    custom_hooks = [dict(type='KillAtIterHook', at_save_epoch=2, once_file={once!r})]
    """
    config = write_config(str(tmp_path / 'cfg.py'), demo_data, sola=True, extra=extra)
    work = str(tmp_path / 'work')
    train(config, work, expect_rc=KILLED)
    assert osp.exists(once)
    assert osp.exists(osp.join(work, 'sola_stage1', 'stage1_done.json'))
    assert not osp.exists(osp.join(work, 'epoch_2.pth'))
    pointed = last_checkpoint(work)
    assert pointed.endswith('epoch_1.pth')
    from sola_mm.engine.checkpoint import load_checkpoint_file
    assert load_checkpoint_file(pointed)['meta']['epoch'] == 1
    leftovers = [f for f in os.listdir(work) if '.tmp.' in f]
    assert leftovers  # the half-written temp file, never published under a checkpoint name

    proc = train(config, work, '--resume')
    log = proc.stdout + proc.stderr
    assert 'resumed epoch: 1' in log
    assert 'SoLa neck keeps the weights it holds (a loaded state dict)' in log
    assert 'RNGStateHook: random streams restored from iteration 4' in log
    assert_same_run(work, reference)


TRAINABLE = ', frozen=False'  # stage-1 weights fine-tuned with the head


def test_kill_in_stage2_then_resume_keeps_a_fine_tuned_neck(demo_data, tmp_path):
    """``frozen=False``: the neck trains with the head after stage 1. ``--resume`` restores it from
    the stage-2 checkpoint; the stage-1 hook must not load the stage-1 weights over it (it did:
    the resumed run then differed from an uninterrupted one)."""
    reference = str(tmp_path / 'reference')
    config = write_config(str(tmp_path / 'ref.py'), demo_data, sola=True, neck_extra=TRAINABLE)
    train(config, reference)

    once = str(tmp_path / 'killed')
    extra = f"""
    custom_hooks = [dict(type='KillAtIterHook', at_iter=6, once_file={once!r})]
    """
    config = write_config(str(tmp_path / 'cfg.py'), demo_data, sola=True, neck_extra=TRAINABLE,
                          extra=extra)
    work = str(tmp_path / 'work')
    train(config, work, expect_rc=KILLED)
    assert osp.exists(once) and last_checkpoint(work).endswith('epoch_1.pth')
    proc = train(config, work, '--resume')
    log = proc.stdout + proc.stderr
    assert 'resumed epoch: 1' in log
    assert 'SoLa neck keeps the weights it holds (a loaded state dict)' in log
    assert 'SoLa neck loaded from stage-1 checkpoint' not in log
    assert_same_run(work, reference)
    stage1 = final_state(osp.join(reference, 'sola_stage1'))
    fine_tuned = final_state(work)
    assert not torch.equal(stage1['neck.conv1.weight'], fine_tuned['neck.conv1.weight'])


def test_runner_checkpoints_load_with_weights_only(reference):
    """Every checkpoint the Runner wrote (stage 1 and 2) loads through the weights_only loader and
    carries the RNG states and the HistoryBuffer message hub."""
    from mmengine.logging import HistoryBuffer
    from sola_mm.engine.checkpoint import load_checkpoint_file
    paths = [osp.join(folder, name) for folder in (reference, osp.join(reference, 'sola_stage1'))
             for name in os.listdir(folder) if name.endswith('.pth')]
    assert len(paths) >= 4
    for path in paths:
        checkpoint = load_checkpoint_file(path)
        assert checkpoint['rng_state']['world_size'] == 1, path
        assert any(isinstance(v, HistoryBuffer)
                   for v in checkpoint['message_hub']['log_scalars'].values()), path
