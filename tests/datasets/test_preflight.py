"""The data check before training (sola_mm/datasets/preflight.py): missing data gets a short
message naming the paths and what to do; bad feature files of every split are reported together,
before anything trains; a rerun on unchanged files reads nothing."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from mmengine.config import Config

from sola_mm.datasets import preflight
from sola_mm.datasets.preflight import DataCheckError, DataCheckHook, check_data
from tests.conftest import ROOT
from tests.docs.documented import run_documented

DEMO = os.path.join(ROOT, 'configs', 'demo', 'gtad_demo.py')


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv('SOLA_MM_CACHE_DIR', str(tmp_path / 'cache'))


def _options(paths, feat_dim=32):
    feat = paths['features'] + '/'
    opts = {}
    for split, ann in (('train', paths['train']), ('val', paths['val']), ('test', paths['val'])):
        opts.update({f'{split}_dataloader.dataset.ann_file': ann,
                     f'{split}_dataloader.dataset.data_prefix.feature': feat,
                     f'{split}_dataloader.dataset.feat_dim': feat_dim})
        if split != 'train':
            opts.update({f'{split}_evaluator.ann_file': ann,
                         f'{split}_evaluator.classifier_file': paths['classifier']})
    return opts


@pytest.fixture
def damaged(tiny_anet, tmp_path):
    """A copy of the tiny data with a truncated train file, NaN in a val video and a file of the
    wrong width: the three problems of issue 13."""
    paths = dict(tiny_anet)
    paths['features'] = str(tmp_path / 'features')
    shutil.copytree(tiny_anet['features'], paths['features'])
    with open(tiny_anet['train']) as f:
        train = sorted(json.load(f))
    with open(tiny_anet['val']) as f:
        val = sorted(json.load(f))
    truncated = os.path.join(paths['features'], train[0] + '.npy')
    with open(truncated, 'r+b') as f:
        f.truncate(os.path.getsize(truncated) - 100)
    nan = os.path.join(paths['features'], val[-1] + '.npy')
    array = np.load(nan)
    array[3, 5] = np.nan
    np.save(nan, array)
    np.save(os.path.join(paths['features'], train[1] + '.npy'), np.zeros((30, 33), np.float32))
    return paths, dict(truncated=train[0], nan=val[-1], width=train[1])


def test_every_bad_file_of_every_split_in_one_table(damaged):
    paths, bad = damaged
    cfg = Config.fromfile(DEMO)
    cfg.merge_from_dict(_options(paths))
    with pytest.raises(DataCheckError) as err:
        check_data(cfg)
    lines = str(err.value).splitlines()
    assert '3 problem(s) in 24 feature file(s)' in lines[0]
    rows = {line.split()[1]: line for line in lines[2:]}
    assert set(rows) == set(bad.values())
    assert 'truncated' in rows[bad['truncated']] and rows[bad['truncated']].split()[0] == 'train'
    assert 'NaN/inf' in rows[bad['nan']] and 'snippet 3, channel 5' in rows[bad['nan']]
    assert rows[bad['nan']].split()[0] == 'val/test'  # found before training, not at validation
    assert '33 channels' in rows[bad['width']] and 'feat_dim=32' in rows[bad['width']]


def test_train_tool_reports_the_table_before_training(damaged, tmp_path):
    paths, bad = damaged
    opts = [f'{k}={v}' for k, v in _options(paths).items()]
    proc = subprocess.run([sys.executable, 'tools/train.py', 'configs/demo/sola_gtad_demo.py',
                           '--work-dir', str(tmp_path / 'work'), '--cfg-options'] + opts,
                          cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, PYTHONPATH=ROOT))
    assert proc.returncode == 1
    assert 'Traceback' not in proc.stderr and 'Epoch' not in proc.stdout + proc.stderr
    assert all(video in proc.stderr for video in bad.values()), proc.stderr
    assert not os.path.exists(tmp_path / 'work' / 'sola_stage1')


def test_rerun_reads_nothing_and_a_rewritten_file_is_read_again(tiny_anet, tmp_path, monkeypatch):
    paths = dict(tiny_anet)
    paths['features'] = str(tmp_path / 'features')
    shutil.copytree(tiny_anet['features'], paths['features'])
    cfg = Config.fromfile(DEMO)
    cfg.merge_from_dict(_options(paths))
    assert check_data(cfg) == 24
    reads = []
    original = preflight._check_one
    monkeypatch.setattr(preflight, '_check_one', lambda job: reads.append(job.video) or
                        original(job))
    assert check_data(cfg) == 24 and reads == []
    name = sorted(os.listdir(paths['features']))[0]
    array = np.load(os.path.join(paths['features'], name))
    array[0, 0] = np.inf
    np.save(os.path.join(paths['features'], name), array)
    with pytest.raises(DataCheckError, match='1 problem'):
        check_data(cfg)
    assert reads == [name[:-4]]


def test_width_without_feat_dim_is_checked_against_the_other_files(tiny_anet, tmp_path):
    paths = dict(tiny_anet)
    paths['features'] = str(tmp_path / 'features')
    shutil.copytree(tiny_anet['features'], paths['features'])
    name = sorted(os.listdir(paths['features']))[2]
    np.save(os.path.join(paths['features'], name), np.ones((40, 31), np.float32))
    cfg = Config.fromfile(DEMO)
    cfg.merge_from_dict(_options(paths))
    for split in ('train', 'val', 'test'):
        cfg[f'{split}_dataloader'].dataset.feat_dim = None
    with pytest.raises(DataCheckError, match=r'31 channels, while 23 other file\(s\) have 32'):
        check_data(cfg)


def test_hook_checks_before_stage1(damaged):
    paths, _ = damaged
    cfg = Config.fromfile(DEMO)
    cfg.merge_from_dict(_options(paths))
    runner = type('R', (), dict(cfg=cfg, logger=None))()
    assert DataCheckHook.priority == 'HIGHEST'  # before SoLaStage1Hook (VERY_HIGH)
    with pytest.raises(DataCheckError, match='3 problem'):
        DataCheckHook().before_train(runner)


def test_missing_data_short_message_as_documented(tmp_path):
    """README: `python tools/train.py configs/sola_gtad_anet.py` without the data (run from a
    folder holding only the repository's tools/ and configs/, so real data is never used)."""
    for name in ('tools', 'configs'):
        os.symlink(os.path.join(ROOT, name), tmp_path / name)
    proc = run_documented('python tools/train.py configs/sola_gtad_anet.py', cwd=str(tmp_path))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1 and 'Traceback' not in out
    assert len(out.strip().splitlines()) <= 20, out
    assert 'data/ActivityNet/anet_anno_train.json' in out
    assert 'README.md "Data preparation"' in out
    assert '--cfg-options train_dataloader.dataset.ann_file=' in out


def test_test_split_without_files_does_not_stop_training(tiny_anet):
    cfg = Config.fromfile(DEMO)
    cfg.merge_from_dict(_options(tiny_anet))
    cfg.test_dataloader.dataset.ann_file = 'nowhere/test.json'
    cfg.test_evaluator.ann_file = 'nowhere/test.json'
    assert check_data(cfg) == 24


def test_load_transform_feat_dim_wins_over_the_dataset(tiny_anet):
    cfg = Config.fromfile(DEMO)
    cfg.merge_from_dict(_options(tiny_anet, feat_dim=128))  # the dataset says 128 ...
    for split in ('train', 'val', 'test'):  # ... the loading transform 32, and it decides
        cfg[f'{split}_dataloader'].dataset.pipeline[0] = dict(type='LoadTALFeature', feat_dim=32)
    assert check_data(cfg) == 24
