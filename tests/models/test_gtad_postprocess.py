"""G-TAD post-processing against the official ``gtad_inference.py`` / ``gtad_postprocess.py``
(tests/data/gtad/postprocess.npz): ActivityNet candidates, proposals, Soft-NMS and detections;
THUMOS window proposals, per-window and merged Soft-NMS and detections."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from sola_mm.models.localizers.gtad.postprocess import (anet_detections, anet_proposals,
                                                        apply_soft_nms, boundary_candidates,
                                                        fuse_topk_classes,
                                                        merge_window_proposals,
                                                        thumos_detections, window_proposals)

DATA = Path(__file__).resolve().parents[1] / 'data' / 'gtad'
ATOL = 1e-10


@pytest.fixture(scope='module')
def oracle():
    data = np.load(DATA / 'postprocess.npz')
    return data, json.loads(str(data['config_json']))


def rows_sorted(a):
    return a[np.lexsort(a.T[::-1])]


@pytest.mark.parametrize('video', ['A', 'B', 'C'])
def test_anet_candidates_proposals_softnms_detections(oracle, video):
    data, cfg = oracle
    p = f'anet{video}_'
    info = cfg['anet'][p + 'video']
    np.testing.assert_array_equal(boundary_candidates(data[p + 'start_scores'], 'first'),
                                  data[p + 'start_bins'].astype(bool))
    np.testing.assert_array_equal(boundary_candidates(data[p + 'end_scores'], 'last'),
                                  data[p + 'end_bins'].astype(bool))
    props, idx = anet_proposals(data[p + 'start_scores'], data[p + 'end_scores'],
                                data[p + 'clr_map'], data[p + 'reg_map'])
    np.testing.assert_allclose(props, data[p + 'proposals'], rtol=0, atol=ATOL)
    np.testing.assert_array_equal(idx, data[p + 'proposal_dur_start_idx'])
    scores = props[:, 2] * props[:, 3]
    np.testing.assert_allclose(np.c_[props[:, :2], scores], data[p + 'softnms_in'], rtol=0,
                               atol=ATOL)
    segs, kept = apply_soft_nms(props[:, :2], scores, sigma=0.8, top_k=100)
    out = data[p + 'softnms_out']
    assert len(kept) == len(out) == min(100, len(props) - 1)  # C: 16 in, 15 out
    np.testing.assert_allclose(kept, out[:, 0], rtol=0, atol=ATOL)
    np.testing.assert_allclose(segs, out[:, 1:], rtol=0, atol=ATOL)
    det = anet_detections(kept, segs, info['video_duration_used'],
                          data[p + 'video_class_scores'])
    np.testing.assert_allclose(det[0], data[p + 'det_scores'], rtol=0, atol=ATOL)
    np.testing.assert_allclose(det[1], data[p + 'det_segments'], rtol=0, atol=ATOL)
    np.testing.assert_array_equal(det[2], data[p + 'det_class_idx'])


@pytest.mark.parametrize('video', ['A', 'C'])
def test_gtad_predict_gives_the_official_proposals(oracle, video):
    """GTAD.predict's per-video step on the fixture maps: Soft-NMS output in seconds."""
    data, cfg = oracle
    p = f'anet{video}_'
    info = cfg['anet'][p + 'video']
    model = MODELS.build(dict(type='GTAD', feat_dim=4, temporal_dim=100, max_duration=100,
                              h_dim_1d=4, h_dim_2d=4, h_dim_3d=4))
    conf = np.stack([data[p + 'reg_map'], data[p + 'clr_map']])
    meta = dict(video_name='v_' + video, duration_second=info['duration_second'])
    result = model._predict_video(conf, data[p + 'start_scores'], data[p + 'end_scores'], meta)
    out = data[p + 'softnms_out']
    order = np.argsort(-out[:, 0], kind='stable')
    got = np.array([[d['score']] + d['segment'] for d in result['proposal_list']])
    expected = np.c_[out[order, 0], np.maximum(0, out[order, 1]) * info['duration_second'],
                     np.minimum(1, out[order, 2]) * info['duration_second']]
    np.testing.assert_allclose(got, expected, rtol=0, atol=ATOL)
    assert result['video_name'] == 'v_' + video


def test_thumos_windows_merge_and_detections(oracle):
    data, cfg = oracle
    info = cfg['thumos']
    windows = []
    for w in range(3):
        props = window_proposals(data['thumos_clr_maps'][w], data['thumos_reg_maps'][w],
                                 data['thumos_window_offsets'][w], info['thumos_skip'])
        np.testing.assert_allclose(props, data['thumos_window_proposals'][w], rtol=0, atol=ATOL)
        segs, kept = apply_soft_nms(props[:, :2], props[:, 2] * props[:, 3],
                                    sigma=info['thumos_nms_sigma'], top_k=info['thumos_num_prop'],
                                    max_length=300)
        out = data['thumos_window_softnms_out'][w]
        np.testing.assert_allclose(kept, out[:, 0], rtol=0, atol=ATOL)
        np.testing.assert_allclose(segs, out[:, 1:], rtol=0, atol=ATOL)
        windows.append((segs, kept))
    merged_in = np.concatenate([np.c_[s, k] for s, k in windows])
    np.testing.assert_allclose(rows_sorted(merged_in),
                               rows_sorted(data['thumos_merged_softnms_in']), rtol=0, atol=ATOL)
    segs, kept = merge_window_proposals(windows, sigma=0.46, top_k=200, max_length=300)
    out = data['thumos_merged_softnms_out']
    np.testing.assert_allclose(kept, out[:, 0], rtol=0, atol=ATOL)
    np.testing.assert_allclose(segs, out[:, 1:], rtol=0, atol=ATOL)
    det = thumos_detections(kept, segs, data['thumos_video_cls'], info['thumos_fps'],
                            info['thumos_num_frames'])
    np.testing.assert_allclose(det[0], data['thumos_det_scores'], rtol=0, atol=ATOL)
    np.testing.assert_allclose(det[1], data['thumos_det_segments'], rtol=0, atol=ATOL)
    np.testing.assert_array_equal(det[2], data['thumos_det_class_idx'])


def test_gtad_predict_window_gives_the_official_window_proposals(oracle):
    data, cfg = oracle
    info = cfg['thumos']
    model = MODELS.build(dict(type='GTAD', variant='thumos', feat_dim=4, temporal_dim=128,
                              max_duration=64, h_dim_1d=4, h_dim_2d=4, h_dim_3d=4, kernel_2d=3,
                              soft_nms_sigma=0.46, max_proposals=200, max_proposal_frames=300))
    w = 1
    first = int(data['thumos_window_offsets'][w]) // info['thumos_skip']
    meta = dict(video_name=info['thumos_video'], window_start_snippet=first,
                snippet_stride=info['thumos_skip'], fps=info['thumos_fps'],
                num_frames=info['thumos_num_frames'])
    conf = np.stack([data['thumos_reg_maps'][w], data['thumos_clr_maps'][w]])
    result = model._predict_window(conf, meta)
    out = data['thumos_window_softnms_out'][w]
    order = np.argsort(-out[:, 0], kind='stable')
    frames = np.array([d['segment_frames'] for d in result['proposal_list']])
    np.testing.assert_allclose(frames, out[order, 1:], rtol=0, atol=ATOL)
    np.testing.assert_allclose([d['score'] for d in result['proposal_list']], out[order, 0],
                               rtol=0, atol=ATOL)
    assert result['window_start_snippet'] == first and result['fps'] == info['thumos_fps']


def test_predict_through_forward_batches(oracle):
    torch.manual_seed(0)
    model = MODELS.build(dict(type='GTAD', feat_dim=8, temporal_dim=12, max_duration=12,
                              h_dim_1d=8, h_dim_2d=4, h_dim_3d=8)).eval()
    samples = []
    for i in range(3):
        sample = ActionDataSample()
        sample.set_metainfo(dict(video_name=f'v_{i}', duration_second=20.0 + i))
        samples.append(sample)
    out = model(list(torch.randn(3, 8, 12)), samples, mode='predict')
    assert [o['video_name'] for o in out] == ['v_0', 'v_1', 'v_2']
    for o in out:
        scores = [p['score'] for p in o['proposal_list']]
        assert scores == sorted(scores, reverse=True) and scores
        segs = np.array([p['segment'] for p in o['proposal_list']])
        assert segs.min() >= 0 and segs.max() <= o['duration_second']


def test_fuse_topk_classes_layouts_and_ties():
    scores = np.array([0.5, 0.25])
    segs = np.array([[0., 1.], [2., 3.]])
    cls = np.array([0.1, 0.4, 0.4, 0.2])
    s, g, c = fuse_topk_classes(scores, segs, cls, 2, 'blocked', 'first')
    np.testing.assert_array_equal(c, [1, 1, 2, 2])
    np.testing.assert_allclose(s, [0.2, 0.1, 0.2, 0.1])
    np.testing.assert_array_equal(g, np.r_[segs, segs])
    s, g, c = fuse_topk_classes(scores, segs, cls, 2, 'interleaved', 'last')
    np.testing.assert_array_equal(c, [2, 1, 2, 1])
    np.testing.assert_array_equal(g, segs[[0, 0, 1, 1]])
    with pytest.raises(ValueError, match='layout'):
        fuse_topk_classes(scores, segs, cls, 2, 'diagonal')
