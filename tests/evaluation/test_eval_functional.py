"""Pure maths of sola_mm.evaluation.functional: tIoU, AP, vectorised matching vs a plain loop,
soft-NMS vs MMAction2's loop, classifier files."""
import json

import numpy as np
import pytest

from sola_mm.evaluation.functional import (
    ANET_TIOU_THRESHOLDS, DetectionArrays, GroundTruth, average_precision_detection,
    average_precision_detection_loop, batched_soft_nms, interpolated_average_precision,
    load_classifier, load_ground_truth, paired_tiou, pairwise_tiou, soft_nms)
from sola_mm.models.localizers.gtad.postprocess import fuse_topk_classes


def test_tiou_official_formula_and_degenerate_cases():
    gt = np.array([[10., 20.], [0., 0.], [20., 23.]])
    pred = np.array([[15., 25.], [3., 3.], [5., 2.]])
    out = pairwise_tiou(pred, gt)
    assert out[0, 0] == 5 / 15                       # inter / (len_g + len_p - inter)
    assert np.isnan(out[1, 1])                      # zero-length vs zero-length: 0/0
    assert np.isnan(out[2, 2])                      # length -3 vs length 3: union 0
    assert out[1, 0] == 0 and out[0, 1] == 0        # no +1, no epsilon, no clipping
    assert paired_tiou(np.array([[60., 55.]]), np.array([[20., 23.]]))[0] == 0
    assert np.signbit(paired_tiou(np.array([[60., 55.]]), np.array([[20., 23.]]))[0])  # -0.0
    np.testing.assert_array_equal(paired_tiou(pred, gt), np.diag(out))
    with pytest.raises(ValueError, match='shape'):
        pairwise_tiou(np.zeros((3, 3)), gt)


def test_interpolated_ap_voc_all_points():
    # TP FP FP TP TP with 4 GT: precisions 1 .5 .333 .5 .6, recalls .25 .25 .25 .5 .75
    tp = np.array([1, 0, 0, 1, 1], float)
    cum = np.cumsum(tp)
    prec = cum / np.arange(1, 6)
    rec = cum / 4
    assert interpolated_average_precision(prec, rec)[0] == pytest.approx(0.55, abs=1e-15)
    assert interpolated_average_precision(np.array([0.]), np.array([0.]))[0] == 0


def _random_case(seed, n_videos=12, n_classes=4, n_gt=40, n_pred=400):
    rng = np.random.default_rng(seed)
    video = rng.integers(0, n_videos, n_gt)
    label = rng.integers(0, n_classes, n_gt)
    start = rng.integers(0, 40, n_gt).astype(float)
    seg = np.stack([start, start + rng.integers(0, 15, n_gt)], axis=1)   # some zero-length
    seg[:3] = seg[3:6]                                                     # duplicated GT rows
    gt = GroundTruth([f'v{i}' for i in range(n_videos)], [f'c{i}' for i in range(n_classes)],
                     video, label, seg, np.full(n_videos, 60.))
    pv = rng.integers(-1, n_videos, n_pred)                                # -1: not in the GT
    pl = rng.integers(0, n_classes, n_pred)
    ps = rng.integers(0, 45, n_pred).astype(float)
    pseg = np.stack([ps, ps + rng.integers(-3, 15, n_pred)], axis=1)       # negative lengths too
    pick = rng.integers(0, n_gt, n_pred // 4)                              # exact hits, dupes
    pv[:pick.size], pl[:pick.size], pseg[:pick.size] = video[pick], label[pick], seg[pick]
    scores = rng.integers(0, 30, n_pred) / 30.                             # many ties
    return gt, DetectionArrays(pv, pl, pseg, scores)


@pytest.mark.parametrize('seed', range(6))
@pytest.mark.parametrize('nan_tiou', ['match', 'no_match'])
def test_vectorised_matching_equals_plain_loop(seed, nan_tiou):
    gt, preds = _random_case(seed)
    thr = np.r_[ANET_TIOU_THRESHOLDS, 0.1, 1.0]
    fast = average_precision_detection(gt, preds, thr, nan_tiou=nan_tiou)
    slow = average_precision_detection_loop(gt, preds, thr, nan_match=nan_tiou == 'match')
    np.testing.assert_array_equal(fast, slow)
    assert fast.max() > 0


def test_detection_rejects_bad_inputs():
    gt, preds = _random_case(0)
    preds.scores[0] = np.nan
    with pytest.raises(ValueError, match='finite'):
        average_precision_detection(gt, preds, [0.5])
    with pytest.raises(ValueError, match='tie_order'):
        average_precision_detection(gt, _random_case(0)[1], [0.5], tie_order='random')


def test_ground_truth_errors_name_file_video_field(tmp_path):
    path = tmp_path / 'gt.json'
    path.write_text(json.dumps({'database': {'abc': {'subset': 'validation', 'annotations': [
        {'segment': [1, 2], 'label': 'A'}, {'segment': [3], 'label': 'A'}]}}}))
    with pytest.raises(ValueError, match=r"gt\.json: video 'abc' annotation 1"):
        load_ground_truth(str(path), subset='validation')
    path.write_text(json.dumps({'database': {'abc': {'annotations': []}}}))
    with pytest.raises(ValueError, match=r"'abc' has no \"subset\""):
        load_ground_truth(str(path), subset='validation')


def _mmaction_soft_nms():
    from mmaction.models.localizers.utils import soft_nms as mma_soft_nms
    return mma_soft_nms


@pytest.mark.parametrize('seed', range(4))
def test_soft_nms_mmaction_style_equals_mmaction(seed):
    mma = _mmaction_soft_nms()
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 300))
    s = rng.integers(0, 90, n) / 100
    props = np.stack([s, s + rng.integers(1, 40, n) / 100, rng.uniform(0, 1, (n, 4)).round(2)
                      .prod(axis=1)], axis=1)
    props[: n // 5, 2] = props[n // 5: 2 * (n // 5), 2]  # tied scores
    ref = mma(props.copy(), 0.4, 0.5, 0.9, 100)
    segs, kept = soft_nms(props[:, :2], props[:, 2], sigma=0.4, top_k=100, style='mmaction',
                          low_threshold=0.5, high_threshold=0.9)
    np.testing.assert_array_equal(np.c_[segs, kept], ref)


def _gtad_soft_nms_loop(segs, scores, sigma, top_k, max_length=None):
    """G-TAD/BSN Soft_NMS written plainly (lists, one proposal at a time)."""
    scores = scores.copy()
    if max_length is not None:
        scores[(segs[:, 1] - segs[:, 0]) >= max_length] = 0
    order = np.argsort(-scores, kind='stable')
    ts, te, sc = list(segs[order, 0]), list(segs[order, 1]), list(scores[order])
    out = []
    while len(sc) > 1 and len(out) < top_k:
        i = int(np.argmax(sc))
        if not sc[i] > 0:
            break
        for j in range(len(sc)):
            if j == i or ts[j] > te[i] or ts[i] > te[j]:
                continue
            iou = (min(te[i], te[j]) - max(ts[i], ts[j])) / (max(te[i], te[j]) - min(ts[i], ts[j]))
            if iou > 0:
                sc[j] = sc[j] * np.exp(-np.square(iou) / sigma)
        out.append((ts[i], te[i], sc[i]))
        del ts[i], te[i], sc[i]
    return np.array(out).reshape(-1, 3)


@pytest.mark.parametrize('style', ['gtad', 'mmaction'])
def test_batched_soft_nms_equals_per_video(style):
    rng = np.random.default_rng(1)
    videos = []
    for n in [0, 1, 2, 5, 40, 120, 7, 300]:
        s = rng.uniform(0, 1, n).round(2)
        videos.append((np.stack([s, s + rng.uniform(0, 0.5, n).round(2)], axis=1),
                       rng.uniform(0, 1, n).round(3)))
    kw = dict(sigma=0.5, top_k=30, style=style, low_threshold=0.2, high_threshold=0.6,
              max_length=0.45)
    batched = batched_soft_nms([v[0] for v in videos], [v[1] for v in videos], **kw)
    for (segs, scores), (bs, bk) in zip(videos, batched):
        one = soft_nms(segs, scores, **kw) if len(scores) else (np.zeros((0, 2)), np.zeros(0))
        np.testing.assert_array_equal(one[0], bs)
        np.testing.assert_array_equal(one[1], bk)
        if style == 'gtad':
            ref = _gtad_soft_nms_loop(segs, scores, 0.5, 30, max_length=0.45)
            np.testing.assert_array_equal(np.c_[bs, bk], ref)


def test_classifier_files_and_fusion(tmp_path):
    cuhk = tmp_path / 'cuhk.json'
    cuhk.write_text(json.dumps({'results': {'abc': [0.2, 0.7, 0.7], 'v_q': [1, 0, 0]},
                                'class': ['A', 'B', 'C']}))
    clf = load_classifier(str(cuhk))
    assert clf.class_names == ['A', 'B', 'C'] and clf.tie_break == 'first'
    np.testing.assert_array_equal(clf.lookup('v_abc'), [0.2, 0.7, 0.7])   # v_ tolerant
    np.testing.assert_array_equal(clf.lookup('v_q'), [1, 0, 0])           # exact id first
    assert clf.lookup('zzz') is None
    sc, seg, cls = fuse_topk_classes(np.array([0.5, 0.25]), np.array([[0, 1.], [2, 3]]),
                                     clf.lookup('abc'), 2, 'blocked', clf.tie_break)
    np.testing.assert_array_equal(cls, [1, 1, 2, 2])  # tie 0.7 / 0.7: the lower index first
    np.testing.assert_array_equal(sc, [0.35, 0.175, 0.35, 0.175])
    plain = tmp_path / 'plain.json'
    plain.write_text(json.dumps({'abc': [0.1, 0.9]}))
    with pytest.raises(ValueError, match='class_names'):
        load_classifier(str(plain))
    names = tmp_path / 'action_name.csv'
    names.write_text('action\nA\nB\n')
    assert load_classifier(str(plain), class_names=str(names)).class_names == ['A', 'B']
    unet = np.zeros((3, 101), np.float32)
    unet[1, 8] = 0.9   # UCF101 class 9 = BasketballDunk, video_test_0000002
    np.save(tmp_path / 'uNet_test.npy', unet)
    th = load_classifier(str(tmp_path / 'uNet_test.npy'))
    assert len(th.class_names) == 20 and th.tie_break == 'last'
    row = th.lookup('video_test_0000002')
    assert th.class_names[int(np.argmax(row))] == 'BasketballDunk'


def test_bmn_post_processing_equals_mmaction():
    from mmaction.models.localizers.utils import post_processing
    from sola_mm.evaluation.functional import bmn_post_processing
    rng = np.random.default_rng(3)
    results, infos = [], []
    for n in (0, 1, 2, 60, 250):
        s = rng.integers(-2, 95, n) / 100          # some starts < 0 (clipped to 0)
        e = s + rng.integers(1, 30, n) / 100        # some ends > 1 (clipped to 1)
        sc = (rng.integers(1, 50, n) / 50).astype(float)  # ties
        results.append(np.c_[s, e, rng.uniform(0, 1, (n, 4)), sc])
        infos.append(dict(duration_frame=int(rng.integers(100, 3000)),
                          duration_second=float(rng.uniform(10, 100))))
    ours = bmn_post_processing(results, infos, 0.4, 0.5, 0.9, 100, 16)
    for res, info, mine in zip(results, infos, ours):
        assert mine == post_processing(res.copy(), info, 0.4, 0.5, 0.9, 100, 16)
    assert len(ours[-1]) == 100 and len(ours[0]) == 0 and len(ours[1]) == 1
