"""ThumosWindowDataset: G-TAD windows (oracle fact 13), coverage, metainfo, merged detections in
seconds, and SoLa + BMN (WindowBMN) on THUMOS-layout demo data end to end."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import sola_mm  # noqa: F401
from sola_mm.datasets.thumos_window_dataset import (ThumosWindowDataset, window_ioa,
                                                    window_starts)
from tests.conftest import load_tool

META = ('video_name', 'window_start_snippet', 'window_snippets', 'snippet_stride', 'fps',
        'num_frames', 'duration_second', 'gt_frames', 'annotations')
PIPE = [dict(type='LoadTALFeature'),
        dict(type='PackLocalizationInputs', keys=('gt_bbox', ), meta_keys=META)]


def write_fake_video(root: Path, name='video_validation_0000901', frames=400, skip=5,
                     gt=((20, 60), (100, 130), (140, 170), (300, 390)), fps=30.0, extra=()):
    """gtad_thumos_small's fake video: flow/rgb per frame (8 + 8), GT frames; official CSV."""
    rng = np.random.default_rng(0)
    for stream in ('flow', 'rgb'):
        (root / stream).mkdir(parents=True, exist_ok=True)
        np.save(root / stream / f'{name}.npy', rng.standard_normal((frames, 8)).astype(np.float32))
    rows = [[name, 'HighJump', 40, f0 / fps, f1 / fps, f0, f1] for f0, f1 in gt]
    rows += [[name, 'Ambiguous', 0, 1.0, 2.0, 30, 60], *extra]
    with open(root / 'ann.csv', 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['video', 'type', 'type_idx', 'start', 'end', 'startFrame', 'endFrame'])
        w.writerows(rows)
    with open(root / 'info.csv', 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['video-name', 't-init', 't-end', 'f-init', 'f-end', 'video-duration',
                    'frame-rate', 'video-frames', 'label-idx'])
        w.writerow([name, 0, 1, 0, 30, frames / fps, fps, frames, 11])
    return dict(ann_file=str(root / 'ann.csv'), video_info_file=str(root / 'info.csv'),
                streams=dict(flow=str(root / 'flow'), rgb=str(root / 'rgb')), feature_stride=skip,
                snippet_stride=skip, window_size=32, window_stride=16, pipeline=PIPE)


def test_gtad_thumos_small_windows(tmp_path):
    """Fact 13 / gtad_thumos_small: T=32, skip 5, 400 frames -> kept windows at 0, 16, 48."""
    cfg = write_fake_video(tmp_path)
    ds = ThumosWindowDataset(**cfg)
    assert [ds.get_data_info(i)['window_start_snippet'] for i in range(len(ds))] == [0, 16, 48]
    # GTs attached to the first two windows (gt_segments_frames of the fixture: 5 rows)
    attached = [ds.get_data_info(i)['gt_frames'].tolist() for i in range(2)]
    assert attached == [[[20, 60], [100, 130], [140, 170]], [[100, 130], [140, 170]]]
    item = ds[1]
    assert item['inputs'].shape == (16, 32)
    flow = np.load(tmp_path / 'flow' / 'video_validation_0000901.npy')
    rgb = np.load(tmp_path / 'rgb' / 'video_validation_0000901.npy')
    expect = np.concatenate([flow[::5], rgb[::5]], axis=1)[16:48].T   # official model input
    np.testing.assert_array_equal(item['inputs'].numpy(), expect)
    meta = item['data_samples'].metainfo
    assert meta['fps'] == 30.0 and meta['num_frames'] == 400 and meta['snippet_stride'] == 5
    assert meta['duration_second'] == pytest.approx(400 / 30)
    assert all(a['label'] == 'HighJump' for a in meta['annotations'])  # Ambiguous dropped
    bbox = item['data_samples'].gt_instances.gt_bbox.numpy()
    np.testing.assert_allclose(bbox, np.clip((np.array([[100, 130], [140, 170]]) - 80) / 160, 0, 1),
                               rtol=1e-6)
    # test mode keeps every window: 0, 16, 32, 48
    test = ThumosWindowDataset(**cfg, test_mode=True)
    assert [test.get_data_info(i)['window_start_snippet'] for i in range(len(test))] == [0, 16, 32,
                                                                                         48]


def test_official_gtad_fixture_windows_inputs_and_labels(tmp_path):
    """gtad_thumos_small (the official master-branch dataset.py run on a fake video): the kept
    training windows, the model inputs (flow[::5] + rgb[::5] concatenated, windowed) and, through
    G-TAD's label function on our window metainfo, the official float32 labels."""
    from sola_mm.models.localizers.gtad.labels import thumos_window_labels
    fx = np.load(Path(__file__).resolve().parents[1] / 'data' / 'gtad' / 'gtad_thumos_small.npz')
    cfg = json.loads(str(fx['config_json']))
    video, skip, T, D = cfg['video'], cfg['skip_videoframes'], cfg['T'], cfg['D']
    for stream in ('flow', 'rgb'):
        (tmp_path / stream).mkdir()
        np.save(tmp_path / stream / f'{video}.npy', fx[f'raw_{stream}'])
    base = write_fake_video(tmp_path / 'ann', name=video, frames=cfg['n_frames'], skip=skip,
                            gt=cfg['gt_frames_all'])
    base['streams'] = dict(flow=str(tmp_path / 'flow'), rgb=str(tmp_path / 'rgb'))
    ds = ThumosWindowDataset(**dict(base, window_size=T, window_stride=T // 2))
    starts = [ds.get_data_info(i)['window_start_snippet'] for i in range(len(ds))]
    assert starts == fx['all_windows_snippet_start'].astype(int).tolist()
    for b, i in enumerate(cfg['take_windows']):
        item = ds[i]
        np.testing.assert_array_equal(item['inputs'].numpy(), fx['input'][b].astype(np.float32))
        meta = item['data_samples'].metainfo
        rows = fx['gt_segments_frames']
        np.testing.assert_array_equal(meta['gt_frames'], rows[rows[:, 0] == b][:, 1:])
        iou, start, end = thumos_window_labels(meta['gt_frames'], meta['window_start_snippet'],
                                               meta['snippet_stride'], T, D)
        np.testing.assert_allclose(np.float32(iou), fx['label_iou_map'][b], atol=1e-6)
        np.testing.assert_allclose(np.float32(start), fx['label_start'][b], atol=1e-6)
        np.testing.assert_allclose(np.float32(end), fx['label_end'][b], atol=1e-6)


@pytest.mark.parametrize('length', [5, 31, 32, 33, 80, 90, 95, 257, 1000])
def test_windows_cover_video_and_gt(length):
    """Every snippet is in some window, and every GT's covered part lies inside one window.

    The frames a window covers are its snippet anchors ``[frame(s0) - skip/2, frame(s0 + T - 1) +
    skip/2]`` (G-TAD's ``[anchor_xmins[0], anchor_xmaxs[-1]]``, fact 13), so nothing after the last
    snippet's anchor (``skip * (L - 1) + skip/2``) is in any window, and a GT reaching the last
    frame of the video has IoA < 1 even with the tail window. Padding snippets of a short video
    continue the frame grid, so its single window reaches further.
    """
    skip, T, stride = 5, 32, 16
    starts = window_starts(length, T, stride)
    covered = np.zeros(max(length, T), bool)
    for s in starts:
        covered[s:s + T] = True
        assert s >= 0 and (s + T <= length or starts == [0])
    assert covered[:length].all()
    end = skip * (max(starts) + T - 1) + skip / 2        # last anchor end of the last window
    assert end >= skip * (length - 1) + skip / 2
    rng = np.random.default_rng(length)
    for _ in range(100):
        f0 = rng.uniform(0, skip * length - 20)
        f1 = min(skip * length, f0 + rng.uniform(1, skip * stride))   # no longer than the stride
        ioa = max(window_ioa(np.array([[f0, f1]]), s, T, skip)[0] for s in starts)
        # the part of the GT the windows can see is entirely inside one window
        assert ioa == pytest.approx((min(f1, end) - f0) / (f1 - f0))
    # a GT that reaches the video's last frame (demo data and real THUMOS do this)
    if length > T:
        tail = window_ioa(np.array([[skip * length - 40, skip * length]]), starts[-1], T, skip)[0]
        assert tail == pytest.approx((skip / 2 + 35) / 40)
    # G-TAD's own tail rule leaves up to T // skip snippets uncovered
    assert window_starts(85, 32, 16, tail_min_snippets=32 // 5) == [0, 16, 32, 48]
    assert window_starts(85, 32, 16) == [0, 16, 32, 48, 53]


def test_short_video_padded_and_json_annotations(tmp_path):
    (tmp_path / 'f').mkdir()
    np.save(tmp_path / 'f' / 'clip.npy', np.ones((10, 4), np.float32))
    (tmp_path / 'ann.json').write_text(json.dumps({'clip': {
        'fps': 25.0, 'duration_second': 2.0,
        'annotations': [{'segment': [0.4, 1.2], 'label': 'Jump'}]}}))
    ds = ThumosWindowDataset(str(tmp_path / 'ann.json'), data_prefix=dict(feature=str(tmp_path / 'f')),
                             feature_stride=1, snippet_stride=5, window_size=16, window_stride=8,
                             pipeline=PIPE)
    assert len(ds) == 1
    item = ds[0]
    assert item['inputs'].shape == (4, 16) and not item['inputs'][:, 10:].any()
    meta = item['data_samples'].metainfo
    np.testing.assert_allclose(meta['gt_frames'], [[10, 30]])
    assert meta['num_frames'] == 50 and meta['fps'] == 25.0


def test_merged_detections_in_seconds(tmp_path):
    """Window predictions mapped to seconds (``window_seconds``) and merged per video by
    TALDetectionMetric (concatenate, soft-NMS 0.46, >= 300-frame proposals zeroed, top 200, clip):
    one proposal list per video, in seconds inside the video, reaching its tail."""
    from sola_mm.evaluation.metrics.tal_metrics import TALDetectionMetric
    cfg = write_fake_video(tmp_path, frames=2000, gt=((20, 60), (900, 990), (1900, 1995)))
    ds = ThumosWindowDataset(**cfg, test_mode=True)
    starts = [ds.get_data_info(i)['window_start_snippet'] for i in range(len(ds))]
    assert starts == list(range(0, 400 - 32 + 1, 16)) and len(ds) == 24
    rng = np.random.default_rng(0)
    preds = []
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        a = rng.uniform(-0.1, 1.0, (50, 1))   # a little outside the window: clipped later
        norm = np.concatenate([a, a + rng.uniform(0.01, 0.6, (50, 1))], 1)
        seconds = ds.window_seconds(i, norm)
        assert (seconds >= 0).all() and (seconds <= 2000 / 30 + 1e-9).all()
        preds.append(dict(video_name=info['video_name'], fps=info['fps'],
                          num_frames=info['num_frames'], duration_second=info['duration_second'],
                          window_start_snippet=info['window_start_snippet'],
                          proposal_list=[dict(score=float(s), segment=list(map(float, seg)))
                                         for s, seg in zip(rng.uniform(0.01, 1, 50), seconds)]))
    metric = TALDetectionMetric(ann_file=str(tmp_path / 'unused.json'), subset='test')
    metric.process({}, preds)   # what the evaluator does with each batch of predict dicts
    merged = metric.merge_predictions(metric.results)
    assert list(merged) == ['video_validation_0000901']
    video = merged['video_validation_0000901']
    assert 0 < len(video.scores) <= 200
    assert (video.segments >= 0).all() and (video.segments <= 2000 / 30 + 1e-9).all()
    assert (video.segments[:, 1] >= video.segments[:, 0]).all()
    assert (np.diff(video.scores) <= 0).all()
    assert video.segments[:, 1].max() > 0.9 * 2000 / 30  # the tail windows reach the end


def test_sola_bmn_thumos_demo_end_to_end(tmp_path, monkeypatch):
    """SoLa (neck) + WindowBMN trains on THUMOS-layout demo windows, predicts every test window,
    and TALDetectionMetric merges the windows per video (soft-NMS 0.46, top 200, UntrimmedNet
    top-2) and reports mAP@0.3:0.7; merged detections are in seconds inside their video."""
    from mmengine.config import Config
    from mmengine.runner import Runner
    from sola_mm.datasets.demo_data import make_thumos_demo
    import sola_mm.models.localizers.window_bmn  # noqa: F401

    # the config's own relative paths (data/demo_thumos/...), in a temp dir: short paths also
    # keep mmengine's config pretty-printing (yapf, on every log/dump/checkpoint) fast
    monkeypatch.chdir(tmp_path)
    paths = make_thumos_demo('data/demo_thumos', num_train=6, num_test=3, feat_dim=64,
                             num_classes=3, min_len=100, max_len=160)
    cfg = Config.fromfile(str(Path(__file__).resolve().parents[2] /
                              'configs/demo/sola_bmn_thumos_demo.py'))
    # stage 1 runs in the G-TAD test below; here the neck stays at init (trainable: a frozen neck
    # without stage-1 weights refuses to train)
    cfg.sola_stage1 = None
    cfg.model.neck.frozen = False
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=2)
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.param_scheduler = []
    cfg.test_evaluator.out_dir = 'eval'
    cfg.work_dir = 'work'
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=100)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.test()
    keys = [f'mAP@{t}' for t in ('0.3', '0.4', '0.5', '0.6', '0.7')]
    assert set(keys) <= set(metrics)
    assert all(0.0 <= metrics[k] <= 1.0 for k in keys)
    detections = json.loads((tmp_path / 'eval' / 'detections.json').read_text())['results']
    info = _read_video_info(paths['test_info'])
    assert set(detections) == set(info)
    for video, dets in detections.items():
        fps, frames = info[video]
        seg = np.array([d['segment'] for d in dets])
        assert 0 < len(dets) <= 400
        assert (seg >= 0).all() and (seg[:, 1] <= round(frames / fps, 1) + 1e-9).all()




def _read_video_info(path):
    with open(path, newline='') as f:
        return {row['video-name']: (float(row['frame-rate']), float(row['video-frames']))
                for row in csv.DictReader(f)}


def test_every_demo_gt_instance_is_covered(tmp_path):
    """THUMOS-layout demo data (many instances, GTs up to the last frame): every GT instance of a
    video is attached to some test window and sees as much of it as the snippet grid covers; in
    training, every instance that is >90% visible lies in a kept window with IoA > 0.9."""
    from sola_mm.datasets.demo_data import make_thumos_demo
    from sola_mm.datasets.thumos_window_dataset import load_thumos_annotations
    # instances up to T - stride = 16 snippets long: each fits entirely in some window
    paths = make_thumos_demo(str(tmp_path), num_train=4, num_test=3, feat_dim=8, num_classes=2,
                             min_len=60, max_len=140, instances=(6, 12), instance_len=(3, 16))
    common = dict(streams=dict(flow=str(tmp_path / 'features/flow'),
                               rgb=str(tmp_path / 'features/rgb')),
                  feature_stride=1, snippet_stride=5, window_size=32, window_stride=16,
                  pipeline=PIPE)
    for subset in ('val', 'test'):
        ann = paths[f'{subset}_annotation']
        gts = load_thumos_annotations(ann)
        test = ThumosWindowDataset(ann, video_info_file=paths[f'{subset}_info'], test_mode=True,
                                   **common)
        train = ThumosWindowDataset(ann, video_info_file=paths[f'{subset}_info'], **common)
        assert sum(len(v['gt_frames']) for v in gts.values()) >= 4 * len(gts)  # many per video
        for video, entry in gts.items():
            num_snippets = test.videos[video]['num_snippets']
            visible_end = 5 * (num_snippets - 1) + 2.5
            windows = [test.get_data_info(i) for i in range(len(test))
                       if test.get_data_info(i)['video_name'] == video]
            kept = [train.get_data_info(i) for i in range(len(train))
                    if train.get_data_info(i)['video_name'] == video]
            assert windows and kept
            for f0, f1 in entry['gt_frames']:
                attached = [w for w in windows if [f0, f1] in w['gt_frames'].tolist()]
                assert attached, (video, f0, f1)
                ioa = max(window_ioa(np.array([[f0, f1]]), w['window_start_snippet'], 32, 5)[0]
                          for w in windows)
                visible = (min(f1, visible_end) - f0) / (f1 - f0)
                assert ioa == pytest.approx(visible)
                if visible > 0.9:
                    assert max(window_ioa(np.array([[f0, f1]]), w['window_start_snippet'], 32,
                                          5)[0] for w in kept) > 0.9


def test_sola_gtad_thumos_demo_end_to_end(tmp_path, monkeypatch):
    """configs/demo/sola_gtad_thumos_demo.py on THUMOS-layout demo data: SoLa stage 1 (on the
    features converted by tools/convert_features.py), G-TAD on the frozen SoLa output over sliding
    windows, every test window predicted, windows merged per video by TALDetectionMetric (soft-NMS
    0.46, top 200, UntrimmedNet top-2) and mAP@0.3:0.7 reported; the merged detections are in
    seconds inside their video. Runs in a temp dir with the config's own relative paths."""
    from mmengine.config import Config
    from mmengine.runner import Runner
    from sola_mm.datasets.demo_data import THUMOS_CLASSES, make_thumos_demo

    monkeypatch.chdir(tmp_path)
    paths = make_thumos_demo('data/demo_thumos', num_train=6, num_test=3, feat_dim=64,
                             num_classes=3, min_len=100, max_len=160)
    tool = load_tool('convert_features')   # the command in the config's header
    lengths = tool.convert_streams('data/demo_thumos/features_concat',
                                   dict(flow='data/demo_thumos/features/flow',
                                        rgb='data/demo_thumos/features/rgb'),
                                   tool.video_names(paths['val_annotation']),
                                   lengths_json='data/demo_thumos/thumos_val_lengths.json')
    assert len(lengths) == 6
    cfg = Config.fromfile(str(Path(__file__).resolve().parents[2] /
                              'configs/demo/sola_gtad_thumos_demo.py'))
    cfg.sola_stage1.cfg_options['train_cfg.max_epochs'] = 2
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=2)
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None  # the test run evaluates
    cfg.param_scheduler = []
    cfg.test_evaluator.out_dir = 'eval'
    cfg.work_dir = 'work'
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=100)
    runner = Runner.from_cfg(cfg)
    before = {k: v.clone() for k, v in runner.model.localizer.state_dict().items()}
    runner.train()
    after = runner.model.localizer.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)  # G-TAD trained
    assert (tmp_path / 'work' / 'sola_stage1' / 'stage1_done.json').is_file()
    neck = runner.model.neck
    assert float(neck.alpha.detach()) != 0.0  # stage-1 weights loaded (alpha starts at 0)
    metrics = runner.test()
    keys = [f'mAP@{t}' for t in ('0.3', '0.4', '0.5', '0.6', '0.7')]
    assert set(keys) <= set(metrics) and 'mAP_avg' in metrics
    assert all(0.0 <= metrics[k] <= 1.0 for k in keys)
    assert metrics['mAP_avg'] == pytest.approx(np.mean([metrics[k] for k in keys]))
    # windows were merged: one entry per video, at most 200 proposals x top-2 classes
    detections = json.loads((tmp_path / 'eval' / 'detections.json').read_text())['results']
    info = _read_video_info(paths['test_info'])
    test_windows = [runner.test_dataloader.dataset.get_data_info(i)
                    for i in range(len(runner.test_dataloader.dataset))]
    assert len(test_windows) > 3 * 2 and set(detections) == set(info)
    for video, dets in detections.items():
        fps, frames = info[video]
        assert 0 < len(dets) <= 400
        seg = np.array([d['segment'] for d in dets])
        assert (seg >= 0).all() and (seg[:, 1] <= round(frames / fps, 1) + 1e-9).all()
        assert (seg[:, 1] >= seg[:, 0]).all()
        assert {d['label'] for d in dets} <= {name for _, name in THUMOS_CLASSES}


@pytest.mark.parametrize('name', ['bmn_thumos.py', 'sola_bmn_thumos.py', 'gtad_thumos.py',
                                  'sola_gtad_thumos.py', 'demo/bmn_thumos_demo.py',
                                  'demo/sola_bmn_thumos_demo.py', 'demo/gtad_thumos_demo.py',
                                  'demo/sola_gtad_thumos_demo.py'])
def test_thumos_configs(name):
    """The THUMOS configs hold G-TAD's windowing and evaluation settings, and their metric
    builds with them (a wrong keyword would only fail at the end of the first epoch)."""
    from mmengine.config import Config
    from mmaction.registry import METRICS
    cfg = Config.fromfile(str(Path(__file__).resolve().parents[2] / 'configs' / name))
    train, test = cfg.train_dataloader.dataset, cfg.test_dataloader.dataset
    assert train.type == test.type == 'ThumosWindowDataset'
    assert list(train.streams) == ['flow', 'rgb'] and test.test_mode and not train.get('test_mode')
    assert train.ioa_threshold == 0.9 and train.snippet_stride == 5
    if name.startswith('demo/'):
        assert (train.window_size, train.window_stride, train.feat_dim) == (32, 16, 64)
    else:
        assert (train.window_size, train.window_stride, train.feature_stride) == (256, 128, 5)
        assert train.feat_dim == test.feat_dim == 2048 and train.feature_key == '{video}'
        assert test.ann_file.endswith('test_Annotation.csv')
        assert test.video_info_file.endswith('thumos14_test_groundtruth.csv')
    ev = cfg.test_evaluator
    assert ev.type == 'TALDetectionMetric' and ev.subset == 'test'
    assert ev.tiou_thresholds == [0.3, 0.4, 0.5, 0.6, 0.7]
    assert (ev.merge_cfg.sigma, ev.merge_cfg.top_k, ev.merge_cfg.max_length) == (0.46, 200, 300.)
    assert (ev.fusion_top_k, ev.fusion_layout, ev.top_k_classes) == (200, 'interleaved', 2)
    metric = METRICS.build(ev)
    assert metric.merge_cfg['style'] == 'gtad' and metric.thumos_rounding
    if 'sola' in name:
        assert cfg.model.neck.type == 'SoLa' and cfg.model.neck.frozen
        assert cfg.model.neck.in_channels == train.feat_dim
        assert cfg.default_hooks.sola_stage1 == dict(type='SoLaStage1Hook')


@pytest.mark.parametrize('strict', [False, True])
def test_thumos_config_trims_unequal_streams(tmp_path, strict):
    """G-TAD `master` trims flow and rgb to the shorter stream (after [::skip]); the THUMOS config
    does the same (one warning names both files), and `length_mismatch='error'` stays the strict
    check. The windows read the trimmed, concatenated features."""
    from mmengine.config import Config
    from sola_mm.datasets.feature_io import FeatureError
    cfg = write_fake_video(tmp_path, frames=400)
    name = 'video_validation_0000901'
    rgb = np.load(tmp_path / 'rgb' / f'{name}.npy')
    np.save(tmp_path / 'rgb' / f'{name}.npy', rgb[:387])   # 78 snippets of rgb, 80 of flow
    base = Config.fromfile(str(Path(__file__).resolve().parents[2] / 'configs' / 'gtad_thumos.py'))
    for dataset in (base.train_dataloader.dataset, base.test_dataloader.dataset):
        assert dataset.length_mismatch == 'truncate'
    options = {k: v for k, v in base.train_dataloader.dataset.items()
               if k in ('length_mismatch', 'ioa_threshold', 'tail_min_snippets')}
    if strict:
        options['length_mismatch'] = 'error'
        with pytest.raises(FeatureError, match=r'length mismatch.*80 snippets.*78 snippets'):
            ThumosWindowDataset(**cfg, **options, test_mode=True)
        return
    ds = ThumosWindowDataset(**cfg, **options, test_mode=True)
    assert ds.videos[name]['num_snippets'] == 78
    flow = np.load(tmp_path / 'flow' / f'{name}.npy')
    official = np.concatenate([flow[::5][:78], rgb[:387][::5][:78]], axis=1)  # G-TAD's df_data
    last = ds[len(ds) - 1]
    s0 = last['data_samples'].metainfo['window_start_snippet']
    window = np.zeros((32, 16), np.float32)
    window[:78 - s0] = official[s0:s0 + 32]
    np.testing.assert_array_equal(last['inputs'].numpy(), window.T)


@pytest.mark.parametrize('snippets, starts', [(435, [0, 128]), (436, [0, 128, 180]),
                                              (307, [0]), (308, [0, 52]), (256, [0])])
def test_gtad_thumos_config_tail_window_rule(tmp_path, snippets, starts):
    """configs/gtad_thumos.py uses G-TAD master's last-window rule (dataset.py: a window ending
    at the video end only when the regular ones leave more than int(T / skip) = 51 snippets
    uncovered): 435 snippets -> [0, 128] (51 left), 436 -> one more at 180. Train and test alike,
    and the demo's T = 32 gets int(32 / 5) = 6."""
    from mmengine.config import Config
    root = Path(__file__).resolve().parents[2] / 'configs'
    cfg = Config.fromfile(str(root / 'gtad_thumos.py'))
    files = write_fake_video(tmp_path, frames=5 * snippets, gt=((20, 60), ))
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        options = {k: v for k, v in cfg[key].dataset.items()
                   if k in ('window_size', 'window_stride', 'snippet_stride', 'tail_min_snippets')}
        ds = ThumosWindowDataset(**dict(files, **options), test_mode=True)
        assert ds.tail_min_snippets == 51, key
        assert [ds.get_data_info(i)['window_start_snippet'] for i in range(len(ds))] == starts
    demo = Config.fromfile(str(root / 'demo' / 'gtad_thumos_demo.py')).test_dataloader.dataset
    assert ThumosWindowDataset(**dict(files, window_size=demo.window_size,
                                      tail_min_snippets=demo.tail_min_snippets),
                               test_mode=True).tail_min_snippets == 6
    with pytest.raises(ValueError, match="tail_min_snippets must be an int >= 0 or 'gtad'"):
        ThumosWindowDataset(**files, tail_min_snippets='official')
