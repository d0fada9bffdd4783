"""Linear evaluation: labelling rule, probe determinism, the tool, and the probe inside stage 1."""
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import torch
from tools_test_utils import DEMO_CONFIG, ROOT, data_options

from sola_mm.evaluation.linear_probe import (ProbeSet, build_probe_set, linear_probe,
                                             snippet_labels)


def test_snippet_labels_centre_rule():
    # 10 snippets over corrected 10 s (feature_frame == duration_frame): snippet t centre t + 0.5
    info = dict(duration_second=10.0, duration_frame=300, feature_frame=300,
                annotations=[dict(segment=[2.0, 4.6], label='a'), dict(segment=[7.5, 8.0], label='b')])
    binary, category, near = snippet_labels(10, info, k=1, class_index={'a': 0, 'b': 1})
    # centres 2.5, 3.5, 4.5 inside [2, 4.6]; 7.5 inside [7.5, 8] (closed)
    assert binary.tolist() == [0, 0, 1, 1, 1, 0, 0, 1, 0, 0]
    assert category.tolist() == [-1, -1, 0, 0, 0, -1, -1, 1, -1, -1]
    # boundaries 2, 4.6, 7.5, 8 (snippet units); centres within 1
    assert near.tolist() == [False, True, True, False, True, True, True, True, True, False]
    # corrected_second: only feature_frame / duration_frame of the video has features
    info2 = dict(info, duration_frame=400, feature_frame=300)  # 7.5 s covered
    binary2, _, _ = snippet_labels(10, info2, k=1)
    centres = (np.arange(10) + 0.5) * 0.75
    expected = ((centres >= 2) & (centres <= 4.6)) | ((centres >= 7.5) & (centres <= 8))
    assert binary2.tolist() == expected.astype(int).tolist()


def _toy(n, seed):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    x = torch.randn(n, 8, generator=g) + 2.0 * y[:, None] * torch.eye(8)[0]
    return ProbeSet(x, y, torch.zeros(n, dtype=torch.bool), torch.zeros(n, dtype=torch.long), [])


def test_linear_probe_deterministic_and_learns():
    train, val = _toy(600, 0), _toy(300, 1)
    state = torch.random.get_rng_state()
    a = linear_probe(train, val, epochs=4, score_epochs=(1, 3), seed=3)
    b = linear_probe(train, val, epochs=4, score_epochs=(1, 3), seed=3)
    assert torch.equal(state, torch.random.get_rng_state())  # global RNG untouched
    assert a['score'] == b['score'] and a['per_epoch'] == b['per_epoch']
    assert len(a['per_epoch']) == 4
    assert np.isclose(a['score'], np.mean([e['acc'] for e in a['per_epoch'][1:4]]))
    assert a['score'] > 0.75


def test_build_probe_set_shapes(tiny_data):
    from sola_mm.apis.linear_eval import load_videos
    videos = load_videos(tiny_data['train'], tiny_data['features'], temporal_scale=None)
    data = build_probe_set(videos, k=2)
    assert data.x.shape == (sum(f.shape[0] for f, _ in videos), 128)
    assert 0 < float(data.y.float().mean()) < 1


def test_linear_eval_tool_prints_raw_and_sola(tiny_data, sola_ckpt, capsys, tmp_path):
    import linear_eval
    opts = [f'{k}={v}' for k, v in data_options(tiny_data).items()]
    out = tmp_path / 'res.json'
    results = linear_eval.main([DEMO_CONFIG, '--checkpoint', sola_ckpt, '--epochs', '4',
                                '--score-epochs', '1', '3', '--out', str(out),
                                '--cfg-options', *opts])
    text = capsys.readouterr().out
    assert 'raw' in text and 'SoLa' in text and 'score' in text and 'acc_boundary' in text
    assert set(results) == {'raw', 'SoLa'}
    assert results['raw']['score'] != results['SoLa']['score']  # the neck is not the identity
    saved = json.loads(out.read_text())
    assert saved['SoLa']['score'] == results['SoLa']['score']


def test_stage1_logs_probe_and_stage2_loads_best(tiny_data, tmp_path):
    """tools/train.py on the SoLa demo config: stage 1 validates with the probe every 2 epochs,
    keeps the best checkpoint, the marker names it, and stage 2 loads it."""
    opts = data_options(tiny_data)
    opts.update({'train_cfg.max_epochs': 1, 'train_cfg.val_interval': 1,
                 'param_scheduler': '[]', 'train_dataloader.batch_size': 4,
                 'sola_stage1.cfg_options': None})
    stage1 = {'train_cfg.max_epochs': 4, 'train_cfg.val_interval': 2,
              'train_dataloader.batch_size': 4, 'train_dataloader.num_workers': 0,
              'train_dataloader.persistent_workers': False, 'optim_wrapper.optimizer.lr': 1e-3,
              'default_hooks.checkpoint.interval': 1, 'default_hooks.logger.interval': 50,
              'val_evaluator.epochs': 4, 'val_evaluator.score_epochs': (1, 3)}
    args = [sys.executable, osp.join(ROOT, 'tools', 'train.py'), DEMO_CONFIG,
            '--work-dir', str(tmp_path), '--cfg-options']
    args += [f'{k}={v}' for k, v in opts.items() if k != 'sola_stage1.cfg_options']
    args += [f'sola_stage1.cfg_options.{k}={v}' for k, v in stage1.items()]
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    work = tmp_path / 'sola_stage1'
    stage1_logs = list(work.glob('*/*.log'))
    text = stage1_logs[0].read_text()
    assert text.count('probe/score:') == 2, text[-3000:]   # epochs 2 and 4
    assert 'probe/raw_score' in text
    best = sorted(work.glob('best_probe_score_epoch_*.pth'))
    assert len(best) == 1
    marker = json.loads((work / 'stage1_done.json').read_text())
    assert marker['checkpoint'] == str(best[0].resolve())
    assert f'SoLa neck loaded from stage-1 checkpoint {marker["checkpoint"]}' in log
