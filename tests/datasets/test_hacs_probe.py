"""configs/sola_pretrain_hacs.py at the authors' scale: windows read from memory-mapped .npy files,
and the authors' linear probe on their released HACS subset lists (shipped as text) choosing the
checkpoint; the `hacs --segments` converter gives the probe its labels."""
from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from mmengine.config import Config

import sola_mm  # noqa: F401
from sola_mm.datasets.probe_dataset import read_video_list
from tests.conftest import load_tool

ROOT = Path(__file__).resolve().parents[2]
LISTS = ROOT / 'configs' / '_base_' / 'datasets' / 'hacs_probe'




def test_shipped_subset_lists_and_config():
    """The authors' lists: 3770 training / 594 validation ids, unique; the config reads them."""
    train = read_video_list(str(LISTS / 'training_subset_list.txt'))
    val = read_video_list(str(LISTS / 'validation_subset_list.txt'))
    assert (len(train), len(set(train)), len(val), len(set(val))) == (3770, 3770, 594, 594)
    assert (train[0], val[0]) == ('Fk3hPCeziVA', 'MchTwFZiRnI')   # the pickles' order
    assert not set(train) & set(val)
    cfg = Config.fromfile(str(ROOT / 'configs' / 'sola_pretrain_hacs.py'))
    probe = cfg.val_dataloader.dataset
    assert probe.type == 'LinearProbeDataset' and probe.temporal_scale is None
    assert Path(probe.train_video_list).samefile(LISTS / 'training_subset_list.txt')
    assert Path(probe.video_list).samefile(LISTS / 'validation_subset_list.txt')
    assert probe.train_data_prefix.feature == cfg.train_dataloader.dataset.data_prefix.feature
    assert cfg.train_dataloader.dataset.cache == 'mmap'
    hook = cfg.default_hooks.checkpoint
    assert (hook.save_best, hook.rule) == ('probe/score', 'greater')


def _write_hacs(root: Path, width: int) -> dict:
    """A HACS_DATA-like folder: training/ and validation/ .npy, durations pickles, a
    HACS-Segments JSON and subset lists naming some of the videos."""
    rng = np.random.default_rng(0)
    database, out = {}, {}
    for split, count in (('training', 7), ('validation', 4)):
        (root / split).mkdir(parents=True)
        durations = {}
        for i in range(count):
            vid, rows = f'{split[:2]}{i}_x', 60 + 10 * i
            x = rng.standard_normal((rows, width)).astype(np.float32)
            x[rows // 3: 2 * rows // 3, 0] += 3.0
            np.save(root / split / f'{vid}.npy', x.astype(np.float16))
            durations[f'{vid}.npy'] = rows
            database[vid] = dict(subset=split, duration=rows / 2.0, annotations=[
                dict(label='Jump', segment=[rows / 6.0, rows / 3.0])])
        with open(root / f'{split}_duration.pkl', 'wb') as f:
            pickle.dump(durations, f, protocol=2)
        names = sorted(v[:-4] for v in durations)[1:]          # all but one video
        (root / f'{split}_subset_list.txt').write_text('\n'.join(names) + '\n')
        out[split] = names
    (root / 'segments.json').write_text(json.dumps(dict(database=database)))
    return out


def test_hacs_config_trains_with_mmap_and_the_probe_picks_a_checkpoint(tmp_path):
    from mmengine.runner import Runner
    data = tmp_path / 'hacs'
    listed = _write_hacs(data, width=16)
    tool = load_tool('convert_features')
    for split in ('training', 'validation'):
        entries = tool.hacs_entries(tool.load_hacs_durations(str(data / f'{split}_duration.pkl')),
                                    str(data / 'segments.json'))
        tool.write_json(entries, str(data / f'hacs_{split}.json'))
    first = json.loads((data / 'hacs_training.json').read_text())['tr0_x']
    assert first == dict(duration_second=30.0, duration_frame=60, feature_frame=60,
                         annotations=[dict(segment=[10.0, 20.0], label='Jump')])
    cfg = Config.fromfile(str(ROOT / 'configs' / 'sola_pretrain_hacs.py'))
    root = str(data) + '/'
    cfg.merge_from_dict({
        'train_dataloader.dataset.ann_file': root + 'hacs_training.json',
        'train_dataloader.dataset.data_prefix.feature': root + 'training/',
        'train_dataloader.dataset.feat_dim': 16, 'train_dataloader.batch_size': 4,
        'train_dataloader.num_workers': 0, 'train_dataloader.persistent_workers': False,
        'val_dataloader.dataset.train_ann_file': root + 'hacs_training.json',
        'val_dataloader.dataset.ann_file': root + 'hacs_validation.json',
        'val_dataloader.dataset.train_data_prefix.feature': root + 'training/',
        'val_dataloader.dataset.data_prefix.feature': root + 'validation/',
        'val_dataloader.dataset.train_video_list': root + 'training_subset_list.txt',
        'val_dataloader.dataset.video_list': root + 'validation_subset_list.txt',
        'val_dataloader.dataset.feat_dim': 16, 'val_dataloader.num_workers': 0,
        'model.neck.in_channels': 16, 'model.neck.hidden_channels': 16,
        'model.projector_hidden': 16,
        'train_cfg.max_epochs': 2, 'train_cfg.val_interval': 1,
        'val_evaluator.chunk_size': 5, 'val_evaluator.epochs': 3,
        'val_evaluator.score_epochs': (0, 2), 'default_hooks.checkpoint.interval': 1})
    cfg.work_dir = str(tmp_path / 'work')
    runner = Runner.from_cfg(cfg)
    assert runner.train_dataloader.dataset._store is None       # cache='mmap'
    probe = runner.val_dataloader.dataset
    names = [probe.get_data_info(i)['video_name'] for i in range(len(probe))]
    assert names == listed['training'] + listed['validation']  # the lists, in their order
    assert {probe.get_data_info(i)['probe_split'] for i in range(len(probe))} == {'train', 'val'}
    runner.train()
    best = list((tmp_path / 'work').glob('best_probe_score_epoch_*.pth'))
    assert len(best) == 1
    # tools/linear_eval.py on this config probes the same listed videos, each from its folder
    from sola_mm.apis.linear_eval import run_linear_eval
    res = run_linear_eval(cfg, str(best[0]), epochs=2, score_epochs=(0, 1), sampling='all')
    rows = {split: sum(np.load(data / split / f'{v}.npy').shape[0] for v in listed[split])
            for split in ('training', 'validation')}
    assert (res['SoLa']['num_train'], res['SoLa']['num_val']) == (rows['training'],
                                                                 rows['validation'])
    # a listed video the annotation file lacks is named
    (data / 'bad_list.txt').write_text('va0_x\nnot_a_video\n')
    cfg.val_dataloader.dataset.video_list = root + 'bad_list.txt'
    from mmaction.registry import DATASETS
    with pytest.raises(ValueError, match=r"bad_list.txt.*1 of 2 videos are not in .*not_a_video"):
        DATASETS.build(cfg.val_dataloader.dataset)
