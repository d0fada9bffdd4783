"""The registered metrics (TALDetectionMetric, TALProposalMetric) fed with predict dicts."""
import json
import os

import numpy as np
import pytest
from mmengine.logging import MMLogger

from mmaction.registry import METRICS
from sola_mm.evaluation.functional import (evaluate_detection, evaluate_proposals,
                                           load_ground_truth, load_submission, soft_nms)
from sola_mm.evaluation.metrics import TALDetectionMetric, TALProposalMetric

CLASSES = ['Run', 'Jump', 'Swim']
# MMAction2 / BSN layout: v_-prefixed keys, no subset
GT_MMA = {
    'v_aaa': {'duration_second': 100.0, 'annotations': [
        {'segment': [10.0, 30.0], 'label': 'Run'}, {'segment': [50.0, 70.0], 'label': 'Jump'}]},
    'v_bbb': {'duration_second': 50.0, 'annotations': [{'segment': [5.0, 25.0], 'label': 'Run'}]},
    'v_ccc': {'duration_second': 80.0, 'annotations': [{'segment': [0.0, 40.0], 'label': 'Swim'}]},
    'v_ddd': {'duration_second': 60.0, 'annotations': [{'segment': [20.0, 40.0], 'label': 'Jump'}]},
}
# CUHK layout: bare ids, one score per class
CLASSIFIER = {'results': {'aaa': [0.9, 0.6, 0.1], 'bbb': [0.2, 0.7, 0.5],
                          'ccc': [0.1, 0.3, 0.8], 'ddd': [0.3, 0.4, 0.3]},
              'class': CLASSES}
PROPOSALS = {
    'v_aaa': [(0.9, [10.0, 30.0]), (0.8, [50.0, 70.0]), (0.3, [0.0, 100.0]), (0.2, [12., 28.])],
    'v_bbb': [(0.7, [5.0, 25.0]), (0.4, [30.0, 45.0])],
    'v_ccc': [(0.6, [0.0, 38.0])],
    # v_ddd: no predictions at all (its GT only counts in the recall denominator)
}


def _predict_dicts(names=None):
    names = names or {}
    return [dict(video_name=names.get(v, v),
                 proposal_list=[dict(score=s, segment=list(seg)) for s, seg in props])
            for v, props in PROPOSALS.items()]


@pytest.fixture
def files(tmp_path):
    gt = tmp_path / 'anet_anno_val.json'
    gt.write_text(json.dumps(GT_MMA))
    clf = tmp_path / 'cuhk_val_simp_share.json'
    clf.write_text(json.dumps(CLASSIFIER))
    return dict(gt=str(gt), clf=str(clf), root=tmp_path)


def _run(metric, dicts):
    metric.process({}, dicts)
    return metric.compute_metrics(metric.results)


def _expected_fused(top_k, names=CLASSES):
    """Hand-built fusion: per video, proposals x its top-k classifier classes, blocked."""
    out = {}
    for v, props in PROPOSALS.items():
        cls = np.asarray(CLASSIFIER['results'][v[2:]])
        order = np.lexsort((np.arange(len(cls)), -cls))[:top_k]
        out[v[2:]] = [dict(label=names[c], score=s * cls[c], segment=seg)
                      for c in order for s, seg in props]
    return out


@pytest.mark.parametrize('top_k', [1, 2, 3])
def test_classifier_fusion_topk_and_dump(files, top_k):
    out_dir = files['root'] / f'out{top_k}'
    metric = TALDetectionMetric(ann_file=files['gt'], classifier_file=files['clf'],
                                top_k_classes=top_k, out_dir=str(out_dir))
    metrics = _run(metric, _predict_dicts())
    gt = load_ground_truth(files['gt'])
    expected = evaluate_detection(gt, _expected_fused(top_k))
    assert list(metrics)[0] == 'mAP_avg'
    assert metrics['mAP_avg'] == expected.average_mAP
    for t, m in zip(('0.5', '0.55', '0.6', '0.65', '0.7', '0.75', '0.8', '0.85', '0.9', '0.95'),
                    expected.mAP):
        assert metrics[f'mAP@{t}'] == m
    # the dumped submission: bare ids (the v_ MMAction2 adds is removed), ActivityNet format
    with open(out_dir / 'detections.json') as f:
        sub = json.load(f)
    assert sub['version'] == 'VERSION 1.3' and set(sub['results']) == {'aaa', 'bbb', 'ccc'}
    assert sum(len(r) for r in sub['results'].values()) == top_k * 7
    assert sub['results'] == _expected_fused(top_k)
    # offline evaluation of the dump gives the logged numbers
    assert evaluate_detection(gt, load_submission(str(out_dir / 'detections.json'))
                              ).average_mAP == metrics['mAP_avg']
    with open(out_dir / 'detection_metrics.json') as f:
        summary = json.load(f)
    assert set(summary['ap_by_class']) == set(CLASSES) and summary['label_source'] == 'classifier'
    assert os.stat(out_dir / 'detections.json').st_mode & 0o044  # a normal, readable file


def test_fusion_changes_with_k(files):
    one = _run(TALDetectionMetric(ann_file=files['gt'], classifier_file=files['clf'],
                                  top_k_classes=1), _predict_dicts())
    two = _run(TALDetectionMetric(ann_file=files['gt'], classifier_file=files['clf'],
                                  top_k_classes=2), _predict_dicts())
    # v_bbb's best class (Jump) is wrong; its 2nd (Swim) too; v_ccc's best (Swim) is right
    assert one['mAP_avg'] != two['mAP_avg']


def test_registered_and_proposal_metrics(files):
    metric = METRICS.build(dict(type='TALDetectionMetric', ann_file=files['gt'],
                                classifier_file=files['clf'], proposal_metrics=True))
    metrics = _run(metric, _predict_dicts())
    gt = load_ground_truth(files['gt'])
    props = {v: [dict(score=s, segment=seg) for s, seg in p] for v, p in PROPOSALS.items()}
    res = evaluate_proposals(gt, props)
    for k in (1, 5, 10, 100):
        assert metrics[f'AR@{k}'] == res.ar_at(k)
    assert metrics['AUC'] == res.auc
    assert 'mAP_avg' in metrics
    proposal_metric = METRICS.build(dict(type='TALProposalMetric', ann_file=files['gt']))
    assert _run(proposal_metric, _predict_dicts()) == {
        k: metrics[k] for k in ('AR@1', 'AR@5', 'AR@10', 'AR@100', 'AUC')}


def test_no_classifier_choices(files, tmp_path):
    log_file = tmp_path / 'log.txt'
    MMLogger.get_instance('tal_metric_test', log_file=str(log_file))
    proposal_only = _run(TALDetectionMetric(ann_file=files['gt']), _predict_dicts())
    assert set(proposal_only) == {'AR@1', 'AR@5', 'AR@10', 'AR@100', 'AUC'}
    oracle = _run(TALDetectionMetric(ann_file=files['gt'], no_classifier='gt_label'),
                  _predict_dicts())
    # oracle classes: every proposal gets each GT class of its video with class score 1
    gt = load_ground_truth(files['gt'])
    expected = {v[2:]: [dict(label=c, score=s, segment=seg)
                        for c in dict.fromkeys(a['label'] for a in GT_MMA[v]['annotations'])
                        for s, seg in p] for v, p in PROPOSALS.items()}
    assert oracle['mAP_avg'] == evaluate_detection(gt, expected).average_mAP
    text = log_file.read_text()
    assert 'reporting proposal metrics only' in text and 'ORACLE' in text
    assert 'NOT comparable with published mAP' in text
    assert '1 GT videos without predictions' in text      # v_ddd: its GT only counts as misses
    with pytest.raises(ValueError, match='no_classifier'):
        TALDetectionMetric(ann_file=files['gt'], no_classifier='guess')


def test_v_prefix_handling(files, tmp_path):
    ref = _run(TALDetectionMetric(ann_file=files['gt'], classifier_file=files['clf']),
               _predict_dicts())
    # bare names in the predict dicts, v_ keys in the GT, bare ids in the classifier
    bare = _run(TALDetectionMetric(ann_file=files['gt'], classifier_file=files['clf']),
                _predict_dicts({v: v[2:] for v in PROPOSALS}))
    assert bare == ref
    # official layout (bare ids, subset) with v_ names in the predict dicts
    official = {'version': 'VERSION 1.3', 'taxonomy': [], 'database': {
        v[2:]: dict(subset='validation', duration=e['duration_second'],
                    annotations=e['annotations']) for v, e in GT_MMA.items()}}
    official['database']['zzz'] = dict(subset='training', duration=9.0,
                                       annotations=[{'segment': [1, 2], 'label': 'Skiing'}])
    path = tmp_path / 'official.json'
    path.write_text(json.dumps(official))
    out_dir = tmp_path / 'out'
    res = _run(TALDetectionMetric(ann_file=str(path), classifier_file=files['clf'],
                                  out_dir=str(out_dir)), _predict_dicts())
    assert res == ref
    assert set(load_submission(str(out_dir / 'detections.json'))) == {'aaa', 'bbb', 'ccc'}


def test_v_prefix_never_stripped_blindly(tmp_path):
    """An official id that itself starts with ``v_`` is matched exactly, not cut to 2 chars."""
    gt = {'database': {
        'v_x1': dict(subset='validation', annotations=[{'segment': [0, 10], 'label': 'A'}]),
        'x1': dict(subset='validation', annotations=[{'segment': [20, 30], 'label': 'A'}])}}
    path = tmp_path / 'gt.json'
    path.write_text(json.dumps(gt))
    dicts = [dict(video_name='v_x1', proposal_list=[dict(score=1.0, segment=[0, 10],
                                                         label='A')]),
             dict(video_name='x1', proposal_list=[dict(score=0.9, segment=[20, 30],
                                                       label='A')])]
    out = _run(TALDetectionMetric(ann_file=str(path), out_dir=str(tmp_path)), dicts)
    assert out['mAP_avg'] == 1.0
    assert set(load_submission(str(tmp_path / 'detections.json'))) == {'v_x1', 'x1'}


def test_blocked_videos(files, tmp_path):
    block_file = tmp_path / 'blocked.txt'
    block_file.write_text('# blocked on the server\naaa\n')
    for blocked in (['aaa'], ['v_aaa'], str(block_file)):
        out = _run(TALDetectionMetric(ann_file=files['gt'], classifier_file=files['clf'],
                                      blocked_videos=blocked), _predict_dicts())
        gt = {k: v for k, v in GT_MMA.items() if k != 'v_aaa'}
        fused = {k: v for k, v in _expected_fused(2).items() if k != 'aaa'}
        assert out['mAP_avg'] == evaluate_detection(load_ground_truth(gt), fused).average_mAP


def test_predicted_labels_and_unknown_label(files):
    dicts = [dict(video_name='v_aaa', proposal_list=[
        dict(score=0.9, segment=[10, 30], label='Run'),
        dict(score=0.5, segment=[50, 70], label='Skiing')])]
    with pytest.raises(KeyError) as info:
        _run(TALDetectionMetric(ann_file=files['gt']), dicts)
    assert "'Skiing'" in str(info.value) and "'v_aaa'" in str(info.value)
    out = _run(TALDetectionMetric(ann_file=files['gt'], unknown_label='ignore'), dicts)
    # Run: 1 TP of 2 GT -> AP 0.5; Jump, Swim: 0
    assert out['mAP_avg'] == pytest.approx(0.5 / 3, abs=1e-15)


def test_bad_predict_dicts(files):
    metric = TALDetectionMetric(ann_file=files['gt'], classifier_file=files['clf'])
    with pytest.raises(KeyError, match='video_name'):
        metric.process({}, [dict(proposal_list=[])])
    with pytest.raises(ValueError, match="'v_aaa'.*segment"):
        metric.process({}, [dict(video_name='v_aaa', proposal_list=[dict(score=1.0)])])
    with pytest.raises(ValueError, match="'v_eee'.*cuhk_val_simp_share.json"):
        _run(metric, [dict(video_name='v_eee', proposal_list=[dict(score=1., segment=[0, 1])])])


def test_window_merge(files):
    """Several predict dicts of one video (sliding windows, frames) are merged like G-TAD:
    concatenate, soft-NMS (sigma 0.46, >= 300-frame proposals zeroed), top-k, clip, seconds."""
    rng = np.random.default_rng(0)
    fps, num_frames = 10.0, 1000.0
    windows = []
    for first in (0, 400, 800):
        start = first + rng.uniform(0, 300, 30).round(1)
        frames = np.stack([start, start + rng.uniform(5, 350, 30).round(1)], axis=1)
        scores = rng.uniform(0, 1, 30).round(3)
        windows.append(dict(video_name='v_aaa', fps=fps, num_frames=num_frames,
                            window_start_snippet=int(first // 5), snippet_stride=5,
                            proposal_list=[dict(score=float(s), segment=[a / fps, b / fps],
                                                segment_frames=[float(a), float(b)])
                                           for s, (a, b) in zip(scores, frames)]))
    metric = TALProposalMetric(ann_file=files['gt'], merge_cfg=dict(top_k=50))
    metric.process({}, windows)
    merged = metric.merge_predictions(metric.results)['v_aaa']
    frames = np.concatenate([[p['segment_frames'] for p in w['proposal_list']] for w in windows])
    scores = np.concatenate([[p['score'] for p in w['proposal_list']] for w in windows])
    segs, kept = soft_nms(frames, scores, sigma=0.46, top_k=50, style='gtad', max_length=300)
    order = np.argsort(-kept, kind='stable')
    segs, kept = segs[order], kept[order]
    expected = np.stack([np.maximum(0, segs[:, 0]), np.minimum(num_frames, segs[:, 1])],
                        axis=1) / fps
    np.testing.assert_array_equal(merged.scores, kept)
    np.testing.assert_array_equal(merged.segments, expected)
    assert len(merged.scores) == 50 and (merged.segments[:, 1] <= num_frames / fps).all()

    # plain dicts of one video (no window keys) are merged as well (in seconds; needs fps)
    plain = [dict(video_name='v_bbb', fps=1.0, duration_second=50.0,
                  proposal_list=[dict(score=0.9, segment=[5, 25]),
                                 dict(score=0.4, segment=[30, 60]),
                                 dict(score=0.1, segment=[0, 5])]),
             dict(video_name='v_bbb', fps=1.0, duration_second=50.0,
                  proposal_list=[dict(score=0.8, segment=[5, 24])])]
    metric = TALProposalMetric(ann_file=files['gt'])
    metric.process({}, plain)
    merged = metric.merge_predictions(metric.results)['v_bbb']
    # G-TAD soft-NMS: 0.8 decays by exp(-(19/20)^2 / 0.46); the last remaining one is not kept
    np.testing.assert_array_equal(merged.scores, [0.9, 0.4, 0.8 * np.exp(-0.95 ** 2 / 0.46)])
    np.testing.assert_array_equal(merged.segments, [[5, 25], [30, 50], [5, 24]])  # clipped
    no_fps = [dict(d, fps=None) for d in plain]
    metric = TALProposalMetric(ann_file=files['gt'])
    metric.process({}, no_fps)
    with pytest.raises(ValueError, match="'v_bbb'.*fps"):
        metric.merge_predictions(metric.results)


def test_thumos_pipeline_equals_gtad_postprocess(tmp_path):
    """Windows -> merge -> top-2 UntrimmedNet classes (interleaved) -> rounding: the metric's
    submission equals G-TAD's post-processing helpers, video by video (one video has a single
    proposal: kept without soft-NMS, as G-TAD does)."""
    from sola_mm.evaluation.functional import THUMOS14_UCF101_CLASSES
    from sola_mm.models.localizers.gtad.postprocess import (merge_window_proposals,
                                                            thumos_detections)
    rng = np.random.default_rng(5)
    names = [THUMOS14_UCF101_CLASSES[k] for k in sorted(THUMOS14_UCF101_CLASSES)]
    unet = rng.uniform(0, 1, (3, 101)).round(3).astype(np.float32)
    np.save(tmp_path / 'uNet_test.npy', unet)
    gt = {'database': {f'video_test_{i:07d}': dict(subset='test', annotations=[
        dict(segment=[str(10.0 * j), str(10.0 * j + 8.5)], label=names[j])
        for j in range(20) if j % 3 == i - 1]) for i in (1, 2, 3)}}     # all 20 classes
    (tmp_path / 'thumos_gt.json').write_text(json.dumps(gt))
    fps, num_frames = 30.0, 3000.0
    dicts, windows = [], {}
    for i in (1, 2, 3):
        vid = f'video_test_{i:07d}'
        n_windows, n_props = (1, 1) if i == 3 else (3, 40)
        for w in range(n_windows):
            first = w * 640
            start = first + rng.integers(0, 1200, n_props) * 1.0
            frames = np.stack([start, start + rng.integers(5, 400, n_props)], axis=1)
            scores = rng.uniform(0, 1, n_props)
            windows.setdefault(vid, []).append((frames, scores))
            dicts.append(dict(video_name=vid, fps=fps, num_frames=num_frames,
                              window_start_snippet=first // 5, snippet_stride=5,
                              proposal_list=[dict(score=float(s), segment=[a / fps, b / fps],
                                                  segment_frames=[float(a), float(b)])
                                             for s, (a, b) in zip(scores, frames)]))
    metric = TALDetectionMetric(
        ann_file=str(tmp_path / 'thumos_gt.json'), subset='test',
        classifier_file=str(tmp_path / 'uNet_test.npy'), tiou_thresholds=[0.3, 0.4, 0.5, 0.6, 0.7],
        merge_cfg=dict(sigma=0.46, top_k=200, max_length=300.), fusion_top_k=200,
        fusion_layout='interleaved', thumos_rounding=True, out_dir=str(tmp_path / 'out'))
    _run(metric, dicts)
    sub = load_submission(str(tmp_path / 'out' / 'detections.json'))
    clf = metric.classifier()
    for vid, wins in windows.items():
        segs, scores = merge_window_proposals(wins, sigma=0.46, top_k=200, max_length=300.)
        det_sc, det_seg, det_cls = thumos_detections(scores, segs, clf.lookup(vid), fps,
                                                     num_frames)
        rows = sub[vid]
        assert [r['score'] for r in rows] == det_sc.tolist()
        assert [r['segment'] for r in rows] == det_seg.tolist()
        assert [r['label'] for r in rows] == [clf.class_names[c] for c in det_cls]
    assert len(sub['video_test_0000003']) == 2      # the single proposal, top-2 classes


def test_a_model_with_no_proposal_scores_zero(files):
    """An untrained model may propose nothing: the metrics are zeros, not a crash."""
    empty = [dict(video_name=v, proposal_list=[]) for v in PROPOSALS]
    metric = METRICS.build(dict(type='TALDetectionMetric', ann_file=files['gt'],
                                classifier_file=files['clf'], proposal_metrics=True))
    metrics = _run(metric, empty)
    assert metrics['AR@1'] == metrics['AR@100'] == metrics['AUC'] == 0.0
    assert metrics['mAP_avg'] == 0.0
