"""Edge cases found in review: window merging with an empty window, results that travel between
ranks (mmengine pickles ``self.results``), classifiers with fewer classes than ``top_k_classes``."""
from __future__ import annotations

import json
import pickle

import numpy as np

import sola_mm  # noqa: F401
from sola_mm.evaluation.metrics import TALDetectionMetric, TALProposalMetric

FPS, NUM_FRAMES = 29.97, 2997.0


def _gt(tmp_path) -> str:
    path = tmp_path / 'gt.json'
    path.write_text(json.dumps({'database': {
        'vid': dict(subset='test', duration=100.0,
                    annotations=[dict(segment=[10.0, 20.0], label='Long jump')]),
        'other': dict(subset='test', duration=50.0,
                      annotations=[dict(segment=[1.0, 5.0], label='long jump')])}}))
    return str(path)


def _window(rng, first: int, n: int, video: str = 'vid') -> dict:
    start = rng.uniform(0, 2500, n)
    end = start + rng.uniform(5, 290, n)
    scores = rng.uniform(0, 1, n)
    return dict(video_name=video, window_start_snippet=first, snippet_stride=5, fps=FPS,
                num_frames=NUM_FRAMES,
                proposal_list=[dict(score=float(s), segment=[a / FPS, b / FPS],
                                    segment_frames=[float(a), float(b)])
                               for s, a, b in zip(scores, start, end)])


def test_an_empty_window_keeps_the_merge_in_frames(tmp_path):
    """A window without proposals (e.g. every proposal >= 300 frames) has no segment_frames; it
    switched the whole video's merge from frames (G-TAD's) to seconds."""
    rng = np.random.default_rng(0)
    windows = [_window(rng, 0, 50), _window(rng, 128, 50)]
    plain = TALProposalMetric(ann_file=_gt(tmp_path), subset='test')
    plain.process({}, windows)
    with_empty = TALProposalMetric(ann_file=_gt(tmp_path), subset='test')
    with_empty.process({}, windows + [_window(rng, 256, 0)])
    a = plain.merge_predictions(plain.results)['vid']
    b = with_empty.merge_predictions(with_empty.results)['vid']
    np.testing.assert_array_equal(a.segments, b.segments)
    np.testing.assert_array_equal(a.scores, b.scores)


def test_results_survive_pickling_between_ranks(tmp_path):
    """mmengine's collect_results pickles every rank's ``self.results`` and interleaves them:
    the merged metrics must equal those of the unpickled list (windows of one video split across
    ranks)."""
    rng = np.random.default_rng(1)
    windows = [_window(rng, 128 * i, 20) for i in range(4)] + [_window(rng, 0, 5, 'other')]
    local = TALProposalMetric(ann_file=_gt(tmp_path), subset='test')
    local.process({}, windows)
    rank0, rank1 = local.results[0::2], local.results[1::2]
    gathered = [r for pair in zip(pickle.loads(pickle.dumps(rank0)),
                                  pickle.loads(pickle.dumps(rank1))) for r in pair]
    gathered += pickle.loads(pickle.dumps(rank0))[len(rank1):]
    remote = TALProposalMetric(ann_file=_gt(tmp_path), subset='test')
    assert remote.compute_metrics(gathered) == local.compute_metrics(local.results)


def test_classifier_with_fewer_classes_than_top_k(tmp_path):
    """top_k_classes=5 with a 2-class classifier: every class once, no error; class names with
    spaces and case are kept exactly (two distinct classes)."""
    clf = tmp_path / 'clf.json'
    clf.write_text(json.dumps({'results': {'vid': [0.9, 0.1], 'other': [0.2, 0.8]},
                               'class': ['Long jump', 'long jump']}))
    metric = TALDetectionMetric(ann_file=_gt(tmp_path), subset='test', classifier_file=str(clf),
                                top_k_classes=5, out_dir=str(tmp_path / 'out'))
    metric.process({}, [dict(video_name='vid', proposal_list=[dict(score=1.0,
                                                                   segment=[10.0, 20.0])]),
                        dict(video_name='other', proposal_list=[dict(score=1.0,
                                                                     segment=[1.0, 5.0])])])
    metrics = metric.compute_metrics(metric.results)
    # vid: 'Long jump' 0.9 (TP, first), 'long jump' 0.1 (FP); other: 'long jump' 0.8 (TP),
    # 'Long jump' 0.2 (FP, ranked after the TP): AP 1 for both classes
    assert metrics['mAP@0.5'] == 1.0
    dump = json.load(open(tmp_path / 'out' / 'detection_metrics.json'))
    assert dump['classes'] == ['Long jump', 'long jump']
    assert dump['ap_by_class'] == {'Long jump': [1.0] * 10, 'long jump': [1.0] * 10}
    sub = json.load(open(tmp_path / 'out' / 'detections.json'))['results']
    assert [d['label'] for d in sub['vid']] == ['Long jump', 'long jump']
