"""The real SoLa config, pointed at tiny data: stage 1 runs inside stage 2, is reused on a second
run, and the frozen neck of stage 2 holds exactly the stage-1 weights."""
import os

import torch

from sola_mm.engine.hooks.stage1 import read_stage1_marker

from tests.conftest import demo_cfg_options, run_tool, tiny_stage1_options

STAGE1 = tiny_stage1_options(3)


def test_sola_bmn_real_config_two_stages(tiny_anet, tmp_path):
    work = tmp_path / 'work'
    args = ['tools/train.py', 'configs/sola_bmn_anet.py', '--work-dir', str(work),
            '--cfg-options'] + demo_cfg_options(tiny_anet) + STAGE1
    first = run_tool(args)
    assert 'SoLa stage 1 (Similarity Matching) starts' in first.stdout + first.stderr
    stage1 = torch.load(read_stage1_marker(str(work / 'sola_stage1')), weights_only=True)['state_dict']
    stage2 = torch.load(str(work / 'epoch_2.pth'), weights_only=True)['state_dict']
    neck_keys = [k for k in stage2 if k.startswith('neck.')]
    assert neck_keys
    for key in neck_keys:
        assert torch.equal(stage1[key], stage2[key]), key
    assert float(stage1['neck.alpha']) != 0.0  # stage 1 did train the gate

    second = run_tool(args)
    assert 'reusing finished SoLa stage 1' in second.stdout + second.stderr
    assert os.path.isfile(work / 'epoch_2.pth')


def test_finished_stage1_is_found_after_the_work_dir_moves(tmp_path):
    """The marker stores the chosen checkpoint relative to itself: a moved work dir is reused."""
    import json
    import shutil
    old = tmp_path / 'old' / 'sola_stage1'
    old.mkdir(parents=True)
    (old / 'best_probe_score_epoch_20.pth').write_bytes(b'x')
    (old / 'stage1_done.json').write_text(json.dumps({'checkpoint': 'best_probe_score_epoch_20.pth'}))
    new = tmp_path / 'new'
    shutil.move(str(tmp_path / 'old'), str(new))
    assert read_stage1_marker(str(new / 'sola_stage1')) == str(
        new / 'sola_stage1' / 'best_probe_score_epoch_20.pth')
    (new / 'sola_stage1' / 'best_probe_score_epoch_20.pth').unlink()
    assert read_stage1_marker(str(new / 'sola_stage1')) is None  # gone: stage 1 runs again


def test_stage1_without_stage2_validation_drops_the_probe(tmp_path):
    """--no-validate on stage 2 leaves the probe nothing to score: stage 1 must not fall back to
    the stage-1 config's default (real-data) validation file."""
    from mmengine.config import Config

    from sola_mm.engine.hooks.stage1 import stage1_config
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    stage2 = Config.fromfile(os.path.join(root, 'configs', 'sola_bmn_anet.py'))
    with_probe = stage1_config(stage2, dict(stage2.sola_stage1), stage2.model.neck, str(tmp_path))
    assert with_probe.val_dataloader.dataset.ann_file == stage2.val_dataloader.dataset.ann_file
    stage2.val_dataloader = stage2.val_cfg = stage2.val_evaluator = None
    cfg = stage1_config(stage2, dict(stage2.sola_stage1), stage2.model.neck, str(tmp_path))
    assert cfg.val_dataloader is None and cfg.val_cfg is None and cfg.val_evaluator is None
    assert cfg.default_hooks.checkpoint.save_best is None
