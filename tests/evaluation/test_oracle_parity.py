"""Parity with the official ActivityNet evaluators on the oracle fixtures (tests/data/eval, copied
from the shared oracles: numbers produced by the official eval_detection.py / eval_proposal.py)."""
import json
import os

import numpy as np
import pytest

from sola_mm.evaluation.functional import (ANET_TIOU_THRESHOLDS, THUMOS_TIOU_THRESHOLDS,
                                           UnknownLabelError, detections_from_results,
                                           evaluate_detection, evaluate_proposals,
                                           load_ground_truth, load_submission)

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'data', 'eval')
TOL = 1e-9


def _load(*parts):
    with open(os.path.join(DATA, *parts)) as f:
        return json.load(f)


def _path(*parts):
    return os.path.join(DATA, *parts)


@pytest.fixture(scope='module')
def anet_gt():
    return load_ground_truth(_path('anet_eval', 'gt.json'), subset='validation')


@pytest.fixture(scope='module')
def anet_predictions():
    return load_submission(_path('anet_eval', 'predictions.json.gz'))


def _check_detection(res, exp):
    assert res.classes == exp['classes']
    np.testing.assert_array_equal(res.tiou_thresholds, np.asarray(exp['tiou_thresholds']))
    ap = np.asarray(exp['ap'])
    assert res.ap.shape == ap.shape
    np.testing.assert_allclose(res.ap, ap, rtol=0, atol=TOL)
    np.testing.assert_allclose(res.mAP, exp['mAP'], rtol=0, atol=TOL)
    assert abs(res.average_mAP - exp['average_mAP']) <= TOL
    for name, values in exp['ap_by_class'].items():
        np.testing.assert_allclose(res.ap_by_class()[name], values, rtol=0, atol=TOL)


def test_anet_detection_parity(anet_gt, anet_predictions):
    exp = _load('anet_eval', 'expected.json')
    assert anet_gt.num_instances == exp['n_gt_instances_in_subset']
    res = evaluate_detection(anet_gt, anet_predictions, ANET_TIOU_THRESHOLDS)
    assert res.num_predictions == exp['n_predictions_loaded']
    _check_detection(res, exp)
    # the per-class AP is exact rational arithmetic on doubles: bitwise equal
    np.testing.assert_array_equal(res.ap, np.asarray(exp['ap']))


def test_anet_detection_nan_tiou_as_no_match(anet_gt, anet_predictions):
    exp = _load('anet_eval', 'expected.json')
    nan_case = exp['if_nan_tiou_counted_as_no_match']
    res = evaluate_detection(anet_gt, anet_predictions, nan_tiou='no_match')
    np.testing.assert_allclose(res.mAP, nan_case['mAP'], rtol=0, atol=TOL)
    assert abs(res.average_mAP - nan_case['average_mAP']) <= TOL
    assert res.average_mAP < exp['average_mAP']


def test_anet_detection_order_insensitive(anet_gt, anet_predictions):
    """The fixture's ties are order-insensitive: reversing video and list order changes nothing,
    under both tie orders."""
    exp = _load('anet_eval', 'expected.json')
    reordered = {v: list(reversed(rows)) for v, rows in reversed(list(anet_predictions.items()))}
    for tie_order in ('stable', 'official'):
        res = evaluate_detection(anet_gt, reordered, tie_order=tie_order)
        np.testing.assert_array_equal(res.ap, np.asarray(exp['ap']))


def test_thumos_detection_parity():
    exp = _load('thumos_eval', 'expected.json')
    gt = load_ground_truth(_path('thumos_eval', 'thumos_gt.json.gz'), subset='test')
    assert gt.num_instances == exp['n_gt_instances_in_subset']
    preds = load_submission(_path('thumos_eval', 'predictions.json.gz'))
    res = evaluate_detection(gt, preds, THUMOS_TIOU_THRESHOLDS)
    assert res.num_predictions == exp['n_predictions_loaded']
    _check_detection(res, exp)
    nan_case = exp['if_nan_tiou_counted_as_no_match']
    res_nan = evaluate_detection(gt, preds, THUMOS_TIOU_THRESHOLDS, nan_tiou='no_match')
    np.testing.assert_allclose(res_nan.mAP, nan_case['mAP'], rtol=0, atol=TOL)
    assert abs(res_nan.average_mAP - nan_case['average_mAP']) <= TOL


@pytest.mark.parametrize('case', ['tiny', 'tiny_degenerate'])
def test_tiny_cases(case):
    exp = _load('anet_eval', case, 'expected.json')
    gt = load_ground_truth(_path('anet_eval', case, 'gt.json'), subset='validation')
    res = evaluate_detection(gt, load_submission(_path('anet_eval', case, 'predictions.json')))
    _check_detection(res, exp)


def test_tiny_hand_values():
    """The hand-checked arithmetic of the tiny README, independent of expected.json."""
    gt = load_ground_truth(_path('anet_eval', 'tiny', 'gt.json'), subset='validation')
    res = evaluate_detection(gt, load_submission(_path('anet_eval', 'tiny', 'predictions.json')))
    ap = res.ap_by_class()
    np.testing.assert_allclose(ap['Long jump'], [.55] * 3 + [.375] * 5 + [.25] * 2, atol=1e-15)
    np.testing.assert_allclose(ap['High jump'], [5 / 6] * 10, atol=1e-15)
    assert ap['Zumba'] == [0.0] * 10
    assert abs(res.average_mAP - 0.41194444444444445) <= 1e-15


def test_tiny_degenerate_nan_rule():
    gt = load_ground_truth(_path('anet_eval', 'tiny_degenerate', 'gt.json'), subset='validation')
    preds = load_submission(_path('anet_eval', 'tiny_degenerate', 'predictions.json'))
    np.testing.assert_allclose(evaluate_detection(gt, preds).mAP, 5 / 6, atol=1e-15)
    # 0/0 as no match: TP only for [40, 50] (rank 4): AP = 1/3 * 1/4
    np.testing.assert_allclose(evaluate_detection(gt, preds, nan_tiou='no_match').mAP, 1 / 12,
                               atol=1e-15)


def test_tiny_tie():
    exp = _load('anet_eval', 'tiny_tie', 'expected.json')
    gt = load_ground_truth(_path('anet_eval', 'tiny_tie', 'gt.json'), subset='validation')
    preds = load_submission(_path('anet_eval', 'tiny_tie', 'predictions.json'))
    # stable order (ties in file order: the TP first) = the Python-2 run of the official code
    stable = evaluate_detection(gt, preds, tie_order='stable')
    assert abs(stable.average_mAP - exp['average_mAP_py2_hash_order']) <= TOL
    assert abs(stable.average_mAP - 5 / 6) <= 1e-15
    # 'official' reproduces the official expression score.argsort()[::-1] on this numpy
    scores = np.array([r['score'] for rows in preds.values() for r in rows])
    official_order = scores.argsort()[::-1]
    official = evaluate_detection(gt, preds, tie_order='official')
    expected = 2 / 3 if official_order[0] == 1 else 5 / 6
    assert abs(official.average_mAP - expected) <= 1e-15
    if official_order[0] == 1:  # same order as the recorded Python-3 run
        _check_detection(official, exp)


def test_tiny_unknown_label():
    exp = _load('anet_eval', 'tiny_unknown_label', 'expected.json')
    assert exp['raises'] == 'KeyError'
    gt = load_ground_truth(_path('anet_eval', 'tiny_unknown_label', 'gt.json'),
                           subset='validation')
    preds = load_submission(_path('anet_eval', 'tiny_unknown_label', 'predictions.json'))
    with pytest.raises(KeyError) as info:  # UnknownLabelError is a KeyError, like the official
        evaluate_detection(gt, preds)
    assert info.type is UnknownLabelError
    msg = str(info.value)
    assert "'Skiing'" in msg and "'vid_c'" in msg and 'gt.json' in msg
    # ignore: the extra prediction is dropped and counted; the rest is the tiny case
    res = evaluate_detection(gt, preds, unknown_label='ignore')
    assert res.num_unknown_label == 1
    tiny = _load('anet_eval', 'tiny', 'expected.json')
    _check_detection(res, tiny)


@pytest.mark.parametrize('case', ['', 'variable_counts'])
def test_proposal_parity(anet_gt, case):
    exp = _load('anet_proposal_eval', case, 'expected.json')
    props = load_submission(_path('anet_proposal_eval', case, 'proposals.json.gz'))
    res = evaluate_proposals(anet_gt, props)
    assert res.num_gt == exp['n_gt_instances_in_subset']
    assert res.num_proposals == exp['n_proposals_loaded']
    np.testing.assert_allclose(res.recall, exp['recall'], rtol=0, atol=TOL)
    np.testing.assert_allclose(res.avg_recall, exp['avg_recall'], rtol=0, atol=TOL)
    np.testing.assert_allclose(res.proposals_per_video, exp['proposals_per_video'], rtol=0,
                               atol=TOL)
    assert abs(res.auc_raw - exp['auc_raw']) <= TOL
    assert abs(res.auc - exp['auc_percent']) <= TOL
    for k in (1, 5, 10, 50, 100):
        assert abs(res.ar_at(k) - exp[f'AR@{k}']) <= TOL
    # the official tie rule gives the same numbers (scores are unique within each video)
    official = evaluate_proposals(anet_gt, props, tie_order='official')
    np.testing.assert_array_equal(official.avg_recall, res.avg_recall)


def test_v_prefix_and_blocked(anet_gt, anet_predictions):
    """``v_``-prefixed prediction ids match the bare GT ids; blocked videos leave GT and
    predictions alike."""
    exp = _load('anet_eval', 'expected.json')
    prefixed = {'v_' + k: rows for k, rows in anet_predictions.items()}
    res = evaluate_detection(anet_gt, prefixed)
    np.testing.assert_array_equal(res.ap, np.asarray(exp['ap']))

    blocked = [v for v in anet_gt.video_ids if v in anet_predictions][:20]
    gt_b = load_ground_truth(_path('anet_eval', 'gt.json'), subset='validation',
                             blocked_videos=['v_' + v for v in blocked])
    assert not set(blocked) & set(gt_b.video_ids)
    # (blocking can remove every GT instance of a class: its predictions become unknown labels)
    arrays = detections_from_results(anet_predictions, gt_b, blocked_videos=blocked,
                                     unknown_label='ignore')
    assert arrays.num_blocked == sum(len(anet_predictions[v]) for v in blocked)
    kept = {k: v for k, v in anet_predictions.items() if k not in blocked}
    direct = evaluate_detection(gt_b, kept, unknown_label='ignore')
    assert direct.num_predictions == len(arrays) > 0
    np.testing.assert_array_equal(evaluate_detection(gt_b, arrays).ap, direct.ap)
