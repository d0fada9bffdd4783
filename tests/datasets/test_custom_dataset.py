"""docs/custom_dataset.md as written: the section-3 config on a custom long-video dataset (JSON
annotations, one .npy per video) trains and evaluates; section 4's stage 1 without labels (the
``lengths`` converter + configs/sola_pretrain_hacs.py) trains; the HACS stage-1 config is the
authors' setting (2048-d .npy at native length, W = 23) and its durations pickle converts."""
from __future__ import annotations

import json
import pickle
import re
from pathlib import Path

import numpy as np
import pytest
from mmengine.config import Config

import sola_mm  # noqa: F401
from mmaction.registry import DATASETS
from tests.conftest import load_tool

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / 'docs' / 'custom_dataset.md'




def _write_custom(root: Path, width: int = 16, seed: int = 0) -> dict:
    """A custom dataset as section 2 describes it: 6 training + 3 validation videos."""
    rng = np.random.default_rng(seed)
    (root / 'features').mkdir(parents=True)
    database = {}
    for i in range(9):
        name = f'clip_{i:02d}'
        length = int(rng.integers(40, 90))            # snippets, one every 16 frames at 30 fps
        feats = rng.standard_normal((length, width)).astype(np.float32)
        anns = []
        for _ in range(3):
            s = int(rng.integers(0, length - 12))
            e = s + int(rng.integers(3, 10))
            feats[s:e] += 2.0
            anns.append(dict(segment=[s * 16 / 30, e * 16 / 30], label=['Jump', 'Fall'][i % 2]))
        np.save(root / 'features' / f'{name}.npy', feats)
        frames = length * 16
        database[name] = dict(duration_second=frames / 30, duration_frame=frames,
                              feature_frame=frames, fps=30.0, annotations=anns,
                              subset='training' if i < 6 else 'validation')
    (root / 'annotations.json').write_text(json.dumps({'database': database}))
    return database


def _doc_block(section: str, lang: str) -> str:
    text = DOC.read_text()
    part = text[text.index(section):]
    return re.search(rf'```{lang}\n(.*?)```', part, re.S).group(1)


def test_section3_config_trains_and_evaluates(tmp_path, monkeypatch):
    from mmengine.runner import Runner
    monkeypatch.chdir(tmp_path)  # the doc's relative paths, unchanged
    _write_custom(tmp_path / 'data' / 'my_dataset')
    code = _doc_block('## 3. Pointing a config', 'python')
    code = code.replace("_base_ = ['gtad_thumos.py']",
                        f"_base_ = ['{ROOT / 'configs' / 'gtad_thumos.py'}']")
    code = code.replace('2304', '16')
    (tmp_path / 'gtad_mydata.py').write_text(code)
    cfg = Config.fromfile(str(tmp_path / 'gtad_mydata.py'))
    assert cfg.train_dataloader.dataset.streams is None
    for loader in (cfg.train_dataloader, cfg.test_dataloader):
        loader.dataset.update(window_size=32, window_stride=16)
        loader.update(num_workers=0, persistent_workers=False, batch_size=4)
    cfg.model.localizer.update(temporal_dim=32, max_duration=16, h_dim_1d=16, h_dim_2d=8,
                               h_dim_3d=16)
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=1)
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.test_evaluator.out_dir = 'eval'
    cfg.param_scheduler = []
    cfg.optim_wrapper.optimizer.lr = 1e-3
    cfg.work_dir = 'work'
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=100)
    runner = Runner.from_cfg(cfg)
    train = runner.train_dataloader.dataset
    assert {train.get_data_info(i)['video_name'] for i in range(len(train))} <= {
        f'clip_{i:02d}' for i in range(6)}
    item = train[0]
    assert item['inputs'].shape == (16, 32)
    assert item['data_samples'].metainfo['snippet_stride'] == 16
    runner.train()
    metrics = runner.test()
    assert {'mAP@0.3', 'mAP@0.7', 'mAP_avg'} <= set(metrics)   # oracle classes: gt_label
    dets = json.loads((tmp_path / 'eval' / 'detections.json').read_text())['results']
    assert set(dets) == {f'clip_{i:02d}' for i in range(6, 9)}
    assert {d['label'] for v in dets.values() for d in v} <= {'Jump', 'Fall'}


def test_section4_stage1_without_labels(tmp_path):
    """`convert_features.py lengths` + the stage-1 command of section 4 (its --cfg-options keys)."""
    from mmengine.runner import Runner
    data = tmp_path / 'my_dataset'
    _write_custom(data, width=16)
    cmd = _doc_block('## 4. SoLa stage 1', 'bash')
    assert ('convert_features.py lengths data/my_dataset/features data/my_dataset/lengths.json'
            in cmd)
    lengths = load_tool('convert_features').folder_lengths(str(data / 'features'),
                                                           str(data / 'lengths.json'))
    assert len(lengths) == 9 and all(v['annotations'] == [] for v in lengths.values())
    opts = dict(re.findall(r'(\S+)=(\S+)', cmd.split('configs/sola_pretrain_hacs.py')[1]
                           .split('# 3a')[0]))
    assert set(opts) == {'train_dataloader.dataset.ann_file', 'model.neck.in_channels',
                         'train_dataloader.dataset.data_prefix.feature',
                         'train_dataloader.dataset.feat_dim', 'val_dataloader', 'val_cfg',
                         'val_evaluator', 'default_hooks.checkpoint.save_best'}
    cfg = Config.fromfile(str(ROOT / 'configs' / 'sola_pretrain_hacs.py'))
    opts = {k: (int(v) if v.isdigit() else None if v == 'None'
                else v.replace('data/my_dataset/', str(data) + '/'))
            for k, v in opts.items()}
    opts['model.neck.in_channels'] = opts['train_dataloader.dataset.feat_dim'] = 16
    cfg.merge_from_dict(opts)
    cfg.merge_from_dict({'train_cfg.max_epochs': 2, 'train_dataloader.batch_size': 4,
                         'train_dataloader.num_workers': 0,
                         'train_dataloader.persistent_workers': False})
    cfg.work_dir = str(tmp_path / 'work')
    runner = Runner.from_cfg(cfg)
    assert len(runner.train_dataloader.dataset) == 9  # every video is longer than W = 23
    runner.train()
    assert (tmp_path / 'work' / 'epoch_2.pth').is_file()
    assert float(runner.model.neck.alpha.detach()) != 0.0


def test_hacs_config_is_the_authors_setting(tmp_path):
    cfg = Config.fromfile(str(ROOT / 'configs' / 'sola_pretrain_hacs.py'))
    ds = cfg.train_dataloader.dataset
    assert (ds.type, ds.feature_ext, ds.feat_dim, ds.temporal_scale, ds.window) == (
        'SimilarityWindowDataset', '.npy', 2048, None, 23)
    assert cfg.model.neck.in_channels == 2048 and cfg.model.neck.hidden_channels == 512
    assert cfg.train_dataloader.batch_size == 256 and cfg.train_cfg.max_epochs == 150
    assert cfg.optim_wrapper.optimizer.type == 'AdamW' and cfg.optim_wrapper.optimizer.lr == 1e-4
    loss = cfg.model.loss
    assert (loss.num_positions, loss.step, loss.step_start, loss.coef) == (8, 2, 4, 16.0)
    # the authors' durations pickle ('<id>.npy' -> rows) -> lengths JSON -> windows at native
    # length; a video of <= 23 rows gives no window
    rng = np.random.default_rng(0)
    rows = {'abc': 40, 'short': 23, 'xyz': 31}
    (tmp_path / 'i3d').mkdir()
    for vid, n in rows.items():
        np.save(tmp_path / 'i3d' / f'{vid}.npy', rng.standard_normal((n, 2048)).astype(np.float32))
    with open(tmp_path / 'training_duration.pkl', 'wb') as f:
        pickle.dump({f'{k}.npy': v for k, v in rows.items()}, f, protocol=2)
    tool = load_tool('convert_features')
    durations = tool.load_hacs_durations(str(tmp_path / 'training_duration.pkl'))
    assert durations == rows
    tool.write_json({k: tool.lengths_entry(v) for k, v in durations.items()},
                    str(tmp_path / 'lengths.json'))
    built = DATASETS.build(dict(ds, ann_file=str(tmp_path / 'lengths.json'),
                                data_prefix=dict(feature=str(tmp_path / 'i3d') + '/')))
    assert len(built) == 2
    item = built[0]
    assert item['inputs'].shape == (2048, 23)
    # a pickle that would build objects is refused
    with open(tmp_path / 'evil.pkl', 'wb') as f:
        pickle.dump({'a.npy': Path('x')}, f)
    with pytest.raises(pickle.UnpicklingError, match='only plain'):
        tool.load_hacs_durations(str(tmp_path / 'evil.pkl'))
