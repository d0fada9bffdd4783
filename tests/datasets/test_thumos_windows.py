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
                                                    window_starts, window_to_seconds)

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


@pytest.mark.parametrize('length', [5, 31, 32, 33, 80, 90, 95, 257, 1000])
def test_windows_cover_video_and_gt(length):
    starts = window_starts(length, 32, 16)
    covered = np.zeros(max(length, 32), bool)
    for s in starts:
        covered[s:s + 32] = True
        assert s >= 0 and (s + 32 <= length or starts == [0])
    assert covered[:length].all()
    # every GT no longer than the window stride lies entirely inside some window
    rng = np.random.default_rng(length)
    for _ in range(50):
        f0 = rng.uniform(0, 5 * length - 20)
        f1 = min(5 * length, f0 + rng.uniform(1, 80))  # <= stride
        ioa = [window_ioa(np.array([[f0, f1]]), s, 32, 5)[0] for s in starts]
        assert max(ioa) == pytest.approx(1.0)
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


def test_merged_detections_in_seconds():
    """Windows -> seconds -> merge (concatenate, soft-NMS 0.46, top 200): inside the video.
    TALDetectionMetric is not registered yet, so the merge is soft_nms itself."""
    from sola_mm.evaluation.functional.soft_nms import soft_nms
    rng = np.random.default_rng(0)
    fps, num_frames, skip, T = 30.0, 2000, 5, 32
    starts = window_starts(num_frames // skip, T, 16)
    segs, scores = [], []
    for s0 in starts:
        a = rng.uniform(-0.1, 1.0, (50, 1))
        norm = np.concatenate([a, a + rng.uniform(0.01, 0.6, (50, 1))], 1)
        segs.append(window_to_seconds(norm, s0, T, skip, fps, num_frames))
        scores.append(rng.uniform(0.01, 1, 50))
    segs, scores = np.concatenate(segs), np.concatenate(scores)
    merged, merged_scores = soft_nms(segs, scores, sigma=0.46, top_k=200, style='gtad')
    assert 0 < len(merged) <= 200
    assert (merged >= 0).all() and (merged <= num_frames / fps + 1e-9).all()
    assert (merged[:, 1] >= merged[:, 0]).all()
    assert merged[:, 1].max() > 0.8 * num_frames / fps  # the tail windows reach the end


def test_sola_bmn_thumos_demo_end_to_end(tmp_path):
    """SoLa (neck) + WindowBMN trains on THUMOS-layout demo windows, predicts every window, the
    windows are merged per video (soft-NMS 0.46, top 200, UntrimmedNet top-2) and mAP@0.3:0.7 is
    computed with the functional evaluator (TALDetectionMetric is not registered yet)."""
    from mmengine.config import Config
    from mmengine.runner import Runner
    from sola_mm.datasets.demo_data import make_thumos_demo
    from sola_mm.evaluation.functional.detection import evaluate_detection
    from sola_mm.evaluation.functional.ground_truth import load_ground_truth
    from sola_mm.evaluation.functional.soft_nms import soft_nms
    import sola_mm.models.localizers.window_bmn  # noqa: F401

    data = tmp_path / 'demo_thumos'
    make_thumos_demo(str(data), num_train=6, num_test=3, feat_dim=32, num_classes=3,
                     min_len=100, max_len=160)
    cfg = Config.fromfile(str(Path(__file__).resolve().parents[2] / 'configs/demo/sola_bmn_thumos_demo.py'))
    root = str(data) + '/'
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        ds = loader.dataset
        ds.streams = dict(flow=root + 'features/flow/', rgb=root + 'features/rgb/')
        ds.feat_dim = 32
        ds.pipeline[0]['feat_dim'] = 32
        ds.window_size = 16
        ds.window_stride = 8
        ds.ann_file = ds.ann_file.replace('data/demo_thumos/', root)
        ds.video_info_file = ds.video_info_file.replace('data/demo_thumos/', root)
    cfg.model.neck.update(in_channels=32, hidden_channels=32)
    cfg.model.localizer.update(feat_dim=32, temporal_dim=16, num_samples=4, hidden_dim_1d=32,
                               hidden_dim_2d=16, hidden_dim_3d=32)
    cfg.custom_hooks = []  # stage 1 is covered by the stage-1 tests; the neck is frozen at init
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=2, val_interval=100)
    cfg.param_scheduler = []
    cfg.val_dataloader.batch_size = 8
    cfg.val_evaluator = cfg.test_evaluator = dict(type='mmengine.DumpResults',
                                                  out_file_path=str(tmp_path / 'preds.pkl'))
    cfg.test_dataloader = cfg.val_dataloader
    cfg.work_dir = str(tmp_path / 'work')
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=100)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    runner = Runner.from_cfg(cfg)
    runner.train()
    runner.test()
    import pickle
    with open(tmp_path / 'preds.pkl', 'rb') as f:
        preds = pickle.load(f)
    assert preds and all({'fps', 'duration_second', 'window_start_snippet'} <= set(p) for p in preds)
    by_video = {}
    for p in preds:
        by_video.setdefault(p['video_name'], []).append(p)
    assert len(by_video) == 3 and all(len(v) > 1 for v in by_video.values())
    unet = np.load(data / 'uNet_test.npy')
    from sola_mm.datasets.demo_data import THUMOS_CLASSES
    results = {}
    for video, windows in by_video.items():
        segs = np.array([q['segment'] for w in windows for q in w['proposal_list']]).reshape(-1, 2)
        scores = np.array([q['score'] for w in windows for q in w['proposal_list']])
        segs, scores = soft_nms(segs, scores, sigma=0.46, top_k=200, style='gtad')
        duration = windows[0]['duration_second']
        assert (segs >= 0).all() and (segs <= duration + 1e-6).all()
        row = unet[int(video.rsplit('_', 1)[1]) - 1]
        cls = sorted(((row[i - 1], name) for i, name in THUMOS_CLASSES[:3]), reverse=True)[:2]
        results[video] = [dict(label=name, score=float(s * c), segment=[float(a), float(b)])
                          for (a, b), s in zip(segs, scores) for c, name in cls]
    gt = load_ground_truth(str(data / 'thumos_gt.json'), subset='test')
    res = evaluate_detection(gt, results, tiou_thresholds=[0.3, 0.4, 0.5, 0.6, 0.7])
    print('demo mAP@0.3:0.7', np.round(res.mAP, 4), 'avg', round(res.average_mAP, 4))
    assert res.mAP.shape == (5, ) and np.isfinite(res.mAP).all()
