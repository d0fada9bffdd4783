"""Linear evaluation: labelling rule, probe determinism, the tool, and the probe inside stage 1."""
import json
import os
import os.path as osp
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from tools_test_utils import DEMO_CONFIG, ROOT, data_options

from sola_mm.engine.hooks.stage1 import read_stage1_marker
from sola_mm.evaluation.linear_probe import (ProbeSet, build_probe_set, format_side_by_side,
                                             linear_probe, snippet_labels)


def test_snippet_labels_centre_rule():
    # 10 snippets over corrected 10 s (feature_frame == duration_frame): snippet t centre t + 0.5
    info = dict(duration_second=10.0, duration_frame=300, feature_frame=300,
                annotations=[dict(segment=[2.0, 4.6], label='a'),
                             dict(segment=[7.5, 8.0], label='b')])
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


def _toy(n, seed, boundary=False):
    """Two classes apart along one axis (Bayes accuracy ~0.98); no boundary snippet unless asked."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    x = torch.randn(n, 8, generator=g) + 2.0 * (2 * y[:, None] - 1) * torch.eye(8)[0]
    near = torch.arange(n) % 5 == 0 if boundary else torch.zeros(n, dtype=torch.bool)
    return ProbeSet(x, y, near, torch.zeros(n, dtype=torch.long), ['only'])


def test_linear_probe_deterministic_and_learns():
    train, val = _toy(2000, 0), _toy(300, 1)
    state = torch.random.get_rng_state()
    a = linear_probe(train, val, epochs=4, score_epochs=(1, 3), seed=3, sampling='all')
    b = linear_probe(train, val, epochs=4, score_epochs=(1, 3), seed=3, sampling='all')
    assert torch.equal(state, torch.random.get_rng_state())  # global RNG untouched
    assert a['score'] == b['score'] and a['per_epoch'] == b['per_epoch']
    assert len(a['per_epoch']) == 4
    assert np.isclose(a['score'], np.mean([e['acc'] for e in a['per_epoch'][1:4]]))
    assert a['score'] > 0.85
    c = linear_probe(train, val, epochs=4, score_epochs=(1, 3), seed=4, sampling='all')
    assert c['per_epoch'] != a['per_epoch']  # the seed matters
    # no val snippet near a boundary: no boundary accuracy at all (never NaN)
    assert 'acc_boundary' not in a and all('acc_boundary' not in e for e in a['per_epoch'])
    assert all(np.isfinite(v) for k, v in a.items() if isinstance(v, float))
    # the one class holds every val video: its accuracy is the overall one
    assert a['acc_class/only'] == a['score']


def test_linear_probe_subset_accuracies():
    train, val = _toy(2000, 0), _toy(300, 1, boundary=True)
    r = linear_probe(train, val, epochs=3, score_epochs=(0, 2), seed=0, sampling='all')
    for key, mask in (('acc_boundary', val.near_boundary), ('acc_action', val.y == 1),
                      ('acc_background', val.y == 0)):
        expected = np.mean([e[key] for e in r['per_epoch']])
        assert np.isclose(r[key], expected)
    # per epoch, the action/background accuracies weighted by their sizes give the overall one
    for e in r['per_epoch']:
        n1, n0 = int((val.y == 1).sum()), int((val.y == 0).sum())
        assert np.isclose(e['acc'], (e['acc_action'] * n1 + e['acc_background'] * n0) / (n0 + n1))
    with np.testing.assert_raises(ValueError):
        linear_probe(train, val, epochs=4, score_epochs=(3, 4))
    text = format_side_by_side({'raw': r, 'none': dict(score=0.5)})
    assert 'acc_boundary' in text and ' -' in text


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
                                '--score-epochs', '1', '3', '--out', str(out), '--sampling', 'all',
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
    # stage 2: one epoch, no detection evaluation (val_begin past the end; that metric is tested
    # in tests/evaluation)
    opts.update({'train_cfg.max_epochs': 1, 'train_cfg.val_interval': 1, 'train_cfg.val_begin': 2,
                 'param_scheduler': '[]', 'train_dataloader.batch_size': 4,
                 'sola_stage1.cfg_options': None})
    stage1 = {'train_cfg.max_epochs': 4, 'train_cfg.val_interval': 2,
              'train_dataloader.batch_size': 4, 'train_dataloader.num_workers': 0,
              'train_dataloader.persistent_workers': False, 'optim_wrapper.optimizer.lr': 1e-3,
              'default_hooks.checkpoint.interval': 1, 'default_hooks.logger.interval': 50,
              'val_evaluator.epochs': 4, 'val_evaluator.score_epochs': (1, 3),
              'val_evaluator.chunk_size': 4}
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
    chosen = read_stage1_marker(str(work))
    assert osp.samefile(chosen, best[0])
    assert re.search(r'SoLa neck loaded from stage-1 checkpoint \S*' + re.escape(osp.basename(chosen)),
                     log)


def _register_scripted_metric():
    """A stand-in for LinearProbeMetric with a known score per validation, so the best checkpoint
    is known in advance and is not the last one."""
    from mmengine.evaluator import BaseMetric
    from mmaction.registry import METRICS

    @METRICS.register_module(name='ScriptedProbeScore', force=True)
    class ScriptedProbeScore(BaseMetric):
        default_prefix = 'probe'

        def __init__(self, scores, **kwargs):
            super().__init__(**kwargs)
            self.scores, self.calls = list(scores), 0

        def process(self, data_batch, data_samples):
            self.results.extend(s['video_name'] for s in data_samples)

        def compute_metrics(self, results):
            assert results, 'the probe dataloader gave no video'
            self.calls += 1
            return dict(score=self.scores[self.calls - 1])


def _stage2_runner(tiny_data, work_dir, scores, neck_frozen=True):
    from mmengine.config import Config
    from mmengine.runner import Runner
    _register_scripted_metric()
    cfg = Config.fromfile(DEMO_CONFIG)
    cfg.merge_from_dict(data_options(tiny_data))
    cfg.model.neck.frozen = neck_frozen
    cfg.work_dir = str(work_dir)
    cfg.sola_stage1.cfg_options = {
        'train_cfg.max_epochs': len(scores), 'train_cfg.val_interval': 1,
        'train_dataloader.batch_size': 4, 'optim_wrapper.optimizer.lr': 1e-2,
        'default_hooks.checkpoint.interval': 1, 'default_hooks.checkpoint.max_keep_ckpts': 3,
        'val_evaluator': dict(_delete_=True, type='ScriptedProbeScore', scores=scores)}
    return Runner.from_cfg(cfg)


def _run_stage1_hook(runner):
    from sola_mm.engine.hooks.stage1 import SoLaStage1Hook
    hook = next(h for h in runner.hooks if isinstance(h, SoLaStage1Hook))
    hook.before_train(runner)
    return runner.model.neck


def _assert_neck_holds(neck, checkpoint, other):
    best_sd = torch.load(checkpoint, weights_only=False)['state_dict']
    other_sd = torch.load(other, weights_only=False)['state_dict']
    differs = False
    for key, value in neck.state_dict().items():
        assert torch.equal(value, best_sd[f'neck.{key}']), key
        differs |= not torch.equal(value, other_sd[f'neck.{key}'])
    assert differs, f'{checkpoint} equals {other}; the test shows nothing'
    assert not any(p.requires_grad for p in neck.parameters())


def test_stage2_loads_best_not_last(tiny_data, tmp_path):
    """SoLaStage1Hook hands stage 2 the checkpoint with the best probe score (epoch 2 of 3), not
    the last: the frozen neck holds exactly its weights, which differ from the last epoch's."""
    neck = _run_stage1_hook(_stage2_runner(tiny_data, tmp_path, [0.3, 0.9, 0.5]))
    work = tmp_path / 'sola_stage1'
    best = sorted(work.glob('best_probe_score_epoch_*.pth'))
    assert [p.name for p in best] == ['best_probe_score_epoch_2.pth']
    assert osp.samefile(read_stage1_marker(str(work)), best[0])
    _assert_neck_holds(neck, best[0], work / 'epoch_3.pth')


def test_stage2_finds_best_after_crash_before_marker(tiny_data, tmp_path):
    """Stage 1 finished (best at its last validation, the epoch-1 best deleted by then) but died
    before writing the marker: the rerun resumes from epoch_3.pth, trains nothing more, and must
    still hand stage 2 the epoch-3 best (the resumed message hub names it), not a stale path."""
    _run_stage1_hook(_stage2_runner(tiny_data, tmp_path, [0.5, 0.3, 0.9]))
    work = tmp_path / 'sola_stage1'
    (work / 'stage1_done.json').unlink()
    neck = _run_stage1_hook(_stage2_runner(tiny_data, tmp_path, [0.5, 0.3, 0.9]))
    assert osp.samefile(read_stage1_marker(str(work)), work / 'best_probe_score_epoch_3.pth')
    _assert_neck_holds(neck, work / 'best_probe_score_epoch_3.pth', work / 'epoch_1.pth')


def test_linear_eval_stage1_config_finds_best(tiny_data, sola_ckpt, capsys, tmp_path):
    """The stage-1 config (LinearProbeDataset val loader) works too; with --work-dir of a
    stage-1-alone run the tool probes its best checkpoint; a work dir without one is an error."""
    import shutil

    import linear_eval
    config = osp.join(ROOT, 'configs', 'sola_pretrain_anet.py')
    feat = tiny_data['features'] + '/'
    opts = [f'val_dataloader.dataset.ann_file={tiny_data["val"]}',
            f'val_dataloader.dataset.train_ann_file={tiny_data["train"]}',
            f'val_dataloader.dataset.data_prefix.feature={feat}',
            'val_dataloader.dataset.feature_ext=.npy', 'val_dataloader.dataset.feat_dim=128',
            'val_dataloader.dataset.temporal_scale=None', 'model.neck.in_channels=128',
            'model.neck.hidden_channels=64']
    work = tmp_path / 'stage1'
    work.mkdir()
    shutil.copy(sola_ckpt, work / 'best_probe_score_epoch_3.pth')
    results = linear_eval.main([config, '--work-dir', str(work), '--epochs', '3',
                                '--score-epochs', '0', '2', '--sampling', 'all',
                                '--cfg-options', *opts])
    text = capsys.readouterr().out
    assert f'SoLa checkpoint {work / "best_probe_score_epoch_3.pth"}' in text
    assert 'SoLa-raw' in text
    # native lengths (temporal_scale None): every snippet of every video is probed
    lengths = [np.load(osp.join(feat, f)).shape[0] for f in os.listdir(feat)]
    assert results['raw']['num_train'] + results['raw']['num_val'] == sum(lengths)
    with np.testing.assert_raises(FileNotFoundError):
        linear_eval.main([config, '--work-dir', str(tmp_path / 'empty'), '--cfg-options', *opts])


def test_linear_probe_metric_keys(tiny_data):
    """The registered metric: fitted on `train` videos, scored on `val` ones; the raw-feature probe
    is computed once; per-class keys only when asked; a bad prediction is named."""
    import pytest

    from sola_mm.apis.linear_eval import load_videos
    from sola_mm.evaluation.metrics.linear_probe_metric import LinearProbeMetric

    def samples(split, ann, scale):
        return [dict(info, feature=torch.from_numpy(f.T * scale), probe_split=split)
                for f, info in load_videos(ann, tiny_data['features'], temporal_scale=None)]

    data = samples('train', tiny_data['train'], 1.0) + samples('val', tiny_data['val'], 1.0)
    inputs = [s['feature'] for s in data]
    for per_class in (False, True):
        metric = LinearProbeMetric(epochs=3, score_epochs=(0, 2), per_class=per_class,
                                   sampling='all')
        metric.process(dict(inputs=inputs), data)
        out = metric.compute_metrics(metric.results)
        assert {'score', 'raw_score', 'acc_boundary', 'acc_action', 'acc_background'} <= set(out)
        assert out['score'] == out['raw_score']  # the "SoLa" output is the input here
        assert any(k.startswith('acc_class/') for k in out) == per_class
    with pytest.raises(KeyError, match='feature'):
        metric.process({}, [dict(video_name='v_x', probe_split='val')])
    only_train = LinearProbeMetric(epochs=3, score_epochs=(0, 2))
    only_train.process({}, data[:3])
    with pytest.raises(ValueError, match='3 train and 0 val'):
        only_train.compute_metrics(only_train.results)


def test_stage1_weights_fine_tuned_when_the_neck_is_not_frozen(tiny_data, tmp_path):
    """`frozen=False` with the hook kept: the neck starts from the best stage-1 checkpoint and
    stays trainable (it is in the optimizer already), instead of being frozen behind the config."""
    neck = _run_stage1_hook(_stage2_runner(tiny_data, tmp_path, [0.3, 0.9, 0.5], neck_frozen=False))
    best = tmp_path / 'sola_stage1' / 'best_probe_score_epoch_2.pth'
    best_sd = torch.load(best, weights_only=False)['state_dict']
    for key, value in neck.state_dict().items():
        assert torch.equal(value, best_sd[f'neck.{key}']), key
    assert all(p.requires_grad for p in neck.parameters())
    assert neck.train().training


def _videos(lengths, seed=0, width=6):
    """Videos as ProbeSet input: features, and one action segment over the middle third."""
    rng = np.random.default_rng(seed)
    out = []
    for i, n in enumerate(lengths):
        info = dict(video_name=f'v{i}', duration_second=float(n), duration_frame=n, feature_frame=n,
                    annotations=[dict(segment=[n / 3, 2 * n / 3], label='a')])
        x = rng.standard_normal((n, width)).astype(np.float32)
        x[:, 0] += np.where(snippet_labels(n, info)[0] == 1, 4.0, -4.0)
        out.append((x, info))
    return out


def test_snippet_chunks_are_the_authors():
    """make_evaluation_db: videos shuffled, per label the snippets in that order cut into runs of
    100 (a chunk may span videos), `while len > 100` keeps (N - 1) // 100 chunks."""
    from sola_mm.evaluation.linear_probe import snippet_chunks
    data = build_probe_set(_videos([150, 330, 90, 300]))
    gen = torch.Generator().manual_seed(0)
    chunks = snippet_chunks(data, 100, gen)
    n_pos, n_neg = int((data.y == 1).sum()), int((data.y == 0).sum())
    assert len(chunks) == (n_pos - 1) // 100 + (n_neg - 1) // 100
    for chunk in chunks:
        assert len(set(data.y[chunk].tolist())) == 1          # one label per chunk
    flat = chunks.flatten()
    assert len(set(flat.tolist())) == len(flat)              # no snippet twice
    # inside a chunk the snippets follow the shuffled video order, and time inside a video
    video = data.video[flat].view(chunks.shape)
    rank = {}
    for row_v, row_i in zip(video.tolist(), chunks.tolist()):
        for v, i in zip(row_v, row_i):
            rank.setdefault(v, len(rank))
        assert all(rank[a] < rank[b] or (a == b and i < j)
                   for a, b, i, j in zip(row_v, row_v[1:], row_i, row_i[1:]))
    # an exact multiple of 100 loses its last full chunk (the authors' strict `>`)
    exact = ProbeSet(torch.zeros(200, 2), torch.ones(200, dtype=torch.long),
                     torch.zeros(200, dtype=torch.bool), torch.zeros(200, dtype=torch.long), [],
                     torch.zeros(200, dtype=torch.long))
    assert len(snippet_chunks(exact, 100, gen)) == 1


def test_linear_probe_default_is_the_authors_protocol():
    """Default: one random snippet per 100-snippet chunk per epoch (train and val), SGD 0.01 /
    momentum 0.9, 16 epochs, score = mean of epochs 6-15 (eval_results[5:15]); seeded."""
    import inspect
    defaults = {k: v.default for k, v in inspect.signature(linear_probe).parameters.items()
                if v.default is not inspect.Parameter.empty}
    assert defaults == dict(epochs=16, lr=0.01, momentum=0.9, batch_size=256, score_epochs=(5, 14),
                            normalize=True, seed=0, sampling='chunk', chunk_size=100)
    train = build_probe_set(_videos([400] * 30, seed=1))
    val = build_probe_set(_videos([400] * 8, seed=2))
    state = torch.random.get_rng_state()
    a = linear_probe(train, val)
    assert torch.equal(state, torch.random.get_rng_state())
    assert a == linear_probe(train, val)                       # reproducible
    assert a['per_epoch'] != linear_probe(train, val, seed=1)['per_epoch']
    n = lambda d: sum((int((d.y == c).sum()) - 1) // 100 for c in (0, 1))  # noqa: E731
    assert (a['num_train'], a['num_val']) == (n(train), n(val)) == (119, 31)
    assert a['score'] == pytest.approx(np.mean([e['acc'] for e in a['per_epoch'][5:15]]))
    assert a['score'] > 0.85
    every = linear_probe(train, val, sampling='all')
    assert (every['num_train'], every['num_val']) == (len(train.y), len(val.y))
    with pytest.raises(ValueError, match="no chunk of 101.*sampling='all'"):
        linear_probe(train, build_probe_set(_videos([30, 40])))


def test_stage1_probe_configs_use_the_authors_protocol():
    from mmengine.config import Config
    for name in ('sola_pretrain_anet.py', 'sola_pretrain_hacs.py'):
        ev = Config.fromfile(osp.join(ROOT, 'configs', name)).val_evaluator
        assert ev.type == 'LinearProbeMetric'
        assert (ev.sampling, ev.chunk_size, tuple(ev.score_epochs), ev.epochs, ev.lr,
                ev.momentum, ev.batch_size) == ('chunk', 100, (5, 14), 16, 0.01, 0.9, 256), name
