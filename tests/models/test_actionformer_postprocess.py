"""ActionFormer post-processing against the official code (tests/data/actionformer/
af_postprocess.npz: candidates, every C++ ``softnms`` call, score voting, ``batched_nms``, seconds,
what ``valid_one_epoch`` hands to the evaluator, and the ANet fusion), plus the batched Soft-NMS
against a transliteration of the C++ loop on inputs with ties and many removals."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from sola_mm.evaluation.functional import load_submission
from sola_mm.evaluation.functional.nms_reference import softnms_reference
from sola_mm.evaluation.functional.nms_torch import padded_soft_nms, score_voting
from sola_mm.evaluation.metrics.tal_metrics import TALDetectionMetric
from sola_mm.models.localizers.actionformer.postprocess import (actionformer_postprocess,
                                                                actionformer_postprocess_batch,
                                                                actionformer_postprocess_videos,
                                                                batched_nms, grid_to_seconds,
                                                                select_candidates)
from sola_mm.models.localizers.gtad.postprocess import fuse_topk_classes

DATA = Path(__file__).resolve().parents[1] / 'data' / 'actionformer' / 'af_postprocess.npz'
PARTS = {'thumos': 2, 'anet': 3}
DEVICES = ['cpu'] + (['cuda'] if torch.cuda.is_available() else [])


@pytest.fixture(scope='module')
def oracle():
    data = np.load(DATA)
    return data, json.loads(str(data['config_json']))


def official_test_cfg(cfg, part):
    return {k: v for k, v in cfg[part]['official_cfg']['test_cfg'].items()
            if k != 'ext_score_file'}


def head_outputs(data, cfg, part, video, device='cpu', dtype=torch.float32):
    p = f'{part}_v{video}_'
    levels = range(len(cfg[part]['videos'][video]['level_lengths']))

    def get(name):
        t = torch.from_numpy(data[p + name])
        return (t.to(dtype) if t.is_floating_point() else t).to(device)

    return ([get(f'points_l{i}') for i in levels], [get(f'cls_logits_l{i}') for i in levels],
            [get(f'reg_offsets_l{i}') for i in levels], [get(f'mask_l{i}') for i in levels])


def meta(cfg, part, video):
    v = cfg[part]['videos'][video]
    return {k: v[k] for k in ('fps', 'duration', 'feat_stride', 'feat_num_frames')}


def as_np(t):
    return t.detach().cpu().numpy()


@pytest.mark.parametrize('part', ['thumos', 'anet'])
def test_softnms_calls_exact(oracle, part):
    """Every raw C++ softnms call: indices exact, dets within 1 ulp; all calls in one batch."""
    data, cfg = oracle
    calls = cfg[part]['softnms_calls']
    segs = [torch.from_numpy(data[f'{part}_softnms{j}_in_segs']) for j in range(len(calls))]
    scores = [torch.from_numpy(data[f'{part}_softnms{j}_in_scores']) for j in range(len(calls))]
    width = max(len(s) for s in scores)
    x = torch.zeros(len(calls), width, 2)
    sc = torch.zeros(len(calls), width)
    for j, (s, c) in enumerate(zip(segs, scores)):
        x[j, :len(c)], sc[j, :len(c)] = s, c
    c0 = calls[0]
    assert all(c == c0 for c in calls) and c0['method'] == 2
    inds, dets, kept = padded_soft_nms(x[..., 0], x[..., 1], sc,
                                       torch.tensor([len(c) for c in scores]),
                                       sigma=c0['sigma'], min_score=c0['min_score'],
                                       iou_threshold=c0['iou_threshold'])
    for j in range(len(calls)):
        ref_inds = data[f'{part}_softnms{j}_inds']
        n = int(kept[j])
        assert n == len(ref_inds)
        np.testing.assert_array_equal(as_np(inds[j, :n]), ref_inds)
        assert (as_np(inds[j, n:]) == -1).all()
        np.testing.assert_allclose(as_np(dets[j, :n]), data[f'{part}_softnms{j}_dets'], rtol=0,
                                   atol=1e-6)
        # the scalar transliteration of the C++ loop agrees too
        r_inds, r_dets = softnms_reference(data[f'{part}_softnms{j}_in_segs'],
                                           data[f'{part}_softnms{j}_in_scores'],
                                           c0['iou_threshold'], c0['sigma'], c0['min_score'])
        np.testing.assert_array_equal(r_inds, ref_inds)
        np.testing.assert_allclose(r_dets, data[f'{part}_softnms{j}_dets'], rtol=0, atol=1e-6)


@pytest.mark.parametrize('method', ['gaussian', 'linear', 'vanilla'])
def test_softnms_ties_and_removals_match_the_cpp_loop(method):
    """Integer segments and scores on a 1/8 grid: many exact ties and removals, so the swap
    order of the C++ op decides; the batched op must pick the same entries in the same order."""
    rng = np.random.default_rng(3)
    code = {'vanilla': 0, 'linear': 1, 'gaussian': 2}[method]
    groups = []
    for _ in range(40):
        n = int(rng.integers(1, 30))
        s = np.sort(rng.integers(0, 25, size=(n, 2)), 1).astype(np.float32)
        s[:, 1] += rng.integers(0, 3, size=n)
        groups.append((s, (rng.integers(1, 8, size=n) / 8).astype(np.float32)))
    for min_score in (0.0, 1e-3, 0.2):
        width = max(len(g[1]) for g in groups)
        x = torch.zeros(len(groups), width, 2)
        sc = torch.zeros(len(groups), width)
        for j, (s, c) in enumerate(groups):
            x[j, :len(c)], sc[j, :len(c)] = torch.from_numpy(s), torch.from_numpy(c)
        counts = torch.tensor([len(g[1]) for g in groups])
        inds, dets, kept = padded_soft_nms(x[..., 0], x[..., 1], sc, counts, 0.5, min_score,
                                           0.3, method)
        capped, _, kept3 = padded_soft_nms(x[..., 0], x[..., 1], sc, counts, 0.5, min_score,
                                           0.3, method, max_keep=3)
        for j, (s, c) in enumerate(groups):
            r_inds, r_dets = softnms_reference(s, c, 0.3, 0.5, min_score, code)
            n = int(kept[j])
            np.testing.assert_array_equal(as_np(inds[j, :n]), r_inds)
            np.testing.assert_allclose(as_np(dets[j, :n]), r_dets, rtol=0, atol=1e-6)
            np.testing.assert_array_equal(as_np(capped[j, :int(kept3[j])]), r_inds[:3])


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('part', ['thumos', 'anet'])
def test_candidates_nms_seconds_per_video(oracle, part, device):
    data, cfg = oracle
    tc = official_test_cfg(cfg, part)
    for v in range(PARTS[part]):
        p = f'{part}_v{v}_'
        pts, logits, offsets, masks = head_outputs(data, cfg, part, v, device)
        cand = select_candidates(pts, logits, offsets, masks, tc['pre_nms_thresh'],
                                 tc['pre_nms_topk'], tc['duration_thresh'])
        segs, scores, labels = cand.video(0)
        np.testing.assert_array_equal(as_np(segs), data[p + 'cand_segs'])
        np.testing.assert_allclose(as_np(scores), data[p + 'cand_scores'], rtol=0, atol=1e-6)
        np.testing.assert_array_equal(as_np(labels), data[p + 'cand_labels'])
        np.testing.assert_array_equal(as_np(cand.level_counts[0]), data[p + 'cand_level_counts'])
        det = batched_nms(cand, tc['iou_threshold'], tc['min_score'], tc['max_seg_num'],
                          tc['nms_method'], tc['multiclass_nms'], tc['nms_sigma'],
                          tc['voting_thresh'])
        n = int(det.counts[0])
        assert n == len(data[p + 'nms_scores']) == cfg[part]['videos'][v]['n_after_nms']
        np.testing.assert_allclose(as_np(det.segs[0, :n]), data[p + 'nms_segs'], rtol=0,
                                   atol=1e-4)
        np.testing.assert_allclose(as_np(det.scores[0, :n]), data[p + 'nms_scores'], rtol=0,
                                   atol=1e-6)
        np.testing.assert_array_equal(as_np(det.labels[0, :n]), data[p + 'nms_labels'])
        sec = grid_to_seconds(torch.from_numpy(data[p + 'nms_segs'])[None].to(device),
                              [meta(cfg, part, v)])[0]
        np.testing.assert_array_equal(as_np(sec), data[p + 'out_segs'])  # float32: exact
        out = actionformer_postprocess(pts, logits, offsets, masks, meta(cfg, part, v), tc)
        assert out['segments'].device.type == device
        np.testing.assert_allclose(as_np(out['segments']), data[p + 'out_segs'], rtol=0,
                                   atol=1e-4)
        np.testing.assert_allclose(as_np(out['scores']), data[p + 'out_scores'], rtol=0,
                                   atol=1e-6)
        np.testing.assert_array_equal(as_np(out['labels']), data[p + 'out_labels'])


def test_score_voting(oracle):
    data, cfg = oracle
    assert cfg['anet']['n_vote_calls'] == 3
    for v in range(3):
        cand_segs = torch.from_numpy(data[f'anet_v{v}_cand_segs'])
        cand_scores = torch.from_numpy(data[f'anet_v{v}_cand_scores'])
        nms = torch.from_numpy(data[f'anet_vote{v}_nms_segs'])
        voted = score_voting(nms[None], cand_segs[None], cand_scores[None],
                             torch.tensor([len(cand_scores)]), 0.9)[0]
        np.testing.assert_allclose(as_np(voted), data[f'anet_vote{v}_voted_segs'], rtol=0,
                                   atol=1e-4)
        # float64 from the same inputs
        voted64 = score_voting(nms[None].double(), cand_segs[None].double(),
                               cand_scores[None].double(), torch.tensor([len(cand_scores)]),
                               0.9)[0]
        np.testing.assert_allclose(as_np(voted64), data[f'anet_vote{v}_voted_segs'], rtol=0,
                                   atol=1e-4)


def test_anet_batch_of_videos_equals_one_by_one_and_float64(oracle):
    """The three ANet videos in one call (one NMS loop for all), and a float64 run."""
    data, cfg = oracle
    tc = official_test_cfg(cfg, 'anet')
    per = [head_outputs(data, cfg, 'anet', v) for v in range(3)]
    levels = len(per[0][0])
    batch = actionformer_postprocess_batch(
        per[0][0], [torch.stack([p[1][i] for p in per]) for i in range(levels)],
        [torch.stack([p[2][i] for p in per]) for i in range(levels)],
        [torch.stack([p[3][i] for p in per]) for i in range(levels)],
        [meta(cfg, 'anet', v) for v in range(3)], tc)
    for v in range(3):
        p = f'anet_v{v}_'
        np.testing.assert_allclose(as_np(batch[v]['segments']), data[p + 'out_segs'], rtol=0,
                                   atol=1e-4)
        np.testing.assert_allclose(as_np(batch[v]['scores']), data[p + 'out_scores'], rtol=0,
                                   atol=1e-6)
        np.testing.assert_array_equal(as_np(batch[v]['labels']), data[p + 'out_labels'])
        out64 = actionformer_postprocess(*head_outputs(data, cfg, 'anet', v,
                                                       dtype=torch.float64),
                                         meta(cfg, 'anet', v), tc)
        assert out64['segments'].dtype == torch.float64
        np.testing.assert_allclose(as_np(out64['segments']), data[p + 'out_segs'], rtol=0,
                                   atol=1e-4)
        np.testing.assert_allclose(as_np(out64['scores']), data[p + 'out_scores'], rtol=0,
                                   atol=1e-6)


def test_thumos_evaluator_input(oracle):
    """``thumos_eval_*``: the per-video outputs concatenated in loader order, unchanged."""
    data, cfg = oracle
    tc = official_test_cfg(cfg, 'thumos')
    outs = [actionformer_postprocess(*head_outputs(data, cfg, 'thumos', v),
                                     meta(cfg, 'thumos', v), tc) for v in range(2)]
    video = np.concatenate([np.full(len(o['scores']), v) for v, o in enumerate(outs)])
    seg = np.concatenate([as_np(o['segments']) for o in outs])
    np.testing.assert_array_equal(video, data['thumos_eval_video_id'])
    np.testing.assert_allclose(seg[:, 0], data['thumos_eval_t_start'], rtol=0, atol=1e-4)
    np.testing.assert_allclose(seg[:, 1], data['thumos_eval_t_end'], rtol=0, atol=1e-4)
    np.testing.assert_array_equal(np.concatenate([as_np(o['labels']) for o in outs]),
                                  data['thumos_eval_label'])
    np.testing.assert_allclose(np.concatenate([as_np(o['scores']) for o in outs]),
                               data['thumos_eval_score'], rtol=0, atol=1e-6)


def anet_expected(data, video):
    sel = data['anet_eval_video_id'] == video
    return (data['anet_eval_t_start'][sel], data['anet_eval_t_end'][sel],
            data['anet_eval_label'][sel], data['anet_eval_score'][sel])


def test_anet_fusion_function(oracle):
    """``postprocess_results``: top-2 external classes, sqrt(cls x det), blocked layout."""
    data, cfg = oracle
    for v in range(3):
        p = f'anet_v{v}_'
        scores = data[p + 'out_scores'].astype(np.float64)
        segs = data[p + 'out_segs'].astype(np.float64)
        det_sc, det_seg, det_cls = fuse_topk_classes(scores, segs, data['anet_ext_scores'][v], 2,
                                                     'blocked', 'last', combine='sqrt')
        t0, t1, label, score = anet_expected(data, v)
        np.testing.assert_array_equal(det_cls, label)
        np.testing.assert_allclose(det_sc, score, rtol=0, atol=1e-12)
        np.testing.assert_allclose(det_seg[:, 0], t0, rtol=0, atol=1e-4)
        np.testing.assert_allclose(det_seg[:, 1], t1, rtol=0, atol=1e-4)
    with pytest.raises(ValueError, match='combine'):
        fuse_topk_classes(scores, segs, data['anet_ext_scores'][0], combine='mean')


def test_anet_fusion_through_the_metric(oracle, tmp_path):
    """The predict dicts of the three ANet videos through TALDetectionMetric with the external
    classifier file: the written detections equal what the official code hands its evaluator."""
    data, cfg = oracle
    order = cfg['anet']['eval_video_order']
    classes = [f'class{c}' for c in range(6)]
    ext = cfg['anet']['ext_score_file_content']['results']
    (tmp_path / 'cls.json').write_text(json.dumps(dict(results=ext, **{'class': classes})))
    gt = {'database': {vid: {'subset': 'validation', 'duration': 100.,
                             'annotations': [{'segment': [1., 5.], 'label': c}
                                             for c in classes]} for vid in order}}
    (tmp_path / 'gt.json').write_text(json.dumps(gt))
    metric = TALDetectionMetric(str(tmp_path / 'gt.json'), classifier_file=str(tmp_path / 'cls.json'),
                                fusion_score='sqrt', fusion_top_k=200, top_k_classes=2,
                                fusion_layout='blocked', classifier_tie_break='last',
                                out_dir=str(tmp_path / 'out'))
    tc = official_test_cfg(cfg, 'anet')
    preds = []
    for v, vid in enumerate(order):
        out = actionformer_postprocess(*head_outputs(data, cfg, 'anet', v),
                                       meta(cfg, 'anet', v), tc)
        preds.append(dict(video_name=vid, proposal_list=[
            dict(segment=s, score=c) for s, c in zip(out['segments'].double().tolist(),
                                                     out['scores'].double().tolist())]))
    metric.process({}, preds)
    metric.compute_metrics(metric.results)
    sub = load_submission(str(tmp_path / 'out' / 'detections.json'))
    for v, vid in enumerate(order):
        t0, t1, label, score = anet_expected(data, v)
        rows = sub[vid]
        assert [r['label'] for r in rows] == [classes[i] for i in label]
        # our Soft-NMS scores are within 1 ulp (float32) of the official ones: so is the fusion
        np.testing.assert_allclose([r['score'] for r in rows], score, rtol=0, atol=1e-6)
        np.testing.assert_allclose([r['segment'] for r in rows], np.c_[t0, t1], rtol=0,
                                   atol=1e-4)
    with pytest.raises(ValueError, match='fusion_score'):
        TALDetectionMetric(str(tmp_path / 'gt.json'), fusion_score='max')


def test_nms_variants_and_errors(oracle):
    data, cfg = oracle
    tc = official_test_cfg(cfg, 'thumos')
    heads = head_outputs(data, cfg, 'thumos', 1)
    m = meta(cfg, 'thumos', 1)
    none = actionformer_postprocess(*heads, m, dict(tc, nms_method='none'))
    assert len(none['scores']) == len(data['thumos_v1_cand_scores'])  # candidates, unsorted
    np.testing.assert_allclose(as_np(none['scores']), data['thumos_v1_cand_scores'], atol=1e-6)
    hard = actionformer_postprocess(*heads, m, dict(tc, nms_method='hard', iou_threshold=0.5))
    # greedy NMS keeps the scores, sorted, and no two kept segments of a class overlap >= 0.5
    scores = as_np(hard['scores'])
    assert (np.diff(scores) <= 0).all() and np.isin(scores, data['thumos_v1_cand_scores']).all()
    seg, lab = as_np(hard['segments']), as_np(hard['labels'])
    for c in np.unique(lab):
        s = seg[lab == c]
        inter = np.clip(np.minimum(s[:, None, 1], s[None, :, 1])
                        - np.maximum(s[:, None, 0], s[None, :, 0]), 0, None)
        lens = s[:, 1] - s[:, 0]
        iou = inter / (lens[:, None] + lens[None, :] - inter)
        np.fill_diagonal(iou, 0)
        assert (iou < 0.5 + 1e-3).all()  # seconds after clipping; grid IoU < 0.5
    with pytest.raises(ValueError, match='unknown keys'):
        actionformer_postprocess(*heads, m, dict(tc, pre_nms_top=3))
    with pytest.raises(KeyError, match='feat_stride'):
        actionformer_postprocess(*heads, {k: v for k, v in m.items() if k != 'feat_stride'}, tc)
    with pytest.raises(ValueError, match='nms_method'):
        actionformer_postprocess(*heads, m, dict(tc, nms_method='greedy'))
    empty = actionformer_postprocess(*heads, m, dict(tc, pre_nms_thresh=1.0))
    assert empty['segments'].shape == (0, 2) and empty['labels'].shape == (0, )
    assert len(actionformer_postprocess(*heads, m, dict(tc, pre_nms_topk=0))['scores']) == 0


def test_nms_benchmark_runs_and_checks_outputs():
    """The smoke command of docs/actionformer.md, as written: the benchmark asserts identical
    outputs itself and prints the ratios."""
    from tests.docs.documented import run_documented
    proc = run_documented('python tools/benchmark_actionformer_nms.py --videos 2 --length 64 '
                          '--repeat 1')
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count('same outputs; speed-up') == 2, proc.stdout


def test_videos_of_different_lengths_in_one_nms_batch(oracle):
    """``actionformer_postprocess_videos``: THUMOS videos padded to 64 and 160 (run separately,
    as officially) share one NMS loop; outputs equal the official per-video ones."""
    data, cfg = oracle
    tc = official_test_cfg(cfg, 'thumos')
    outs = actionformer_postprocess_videos(
        [head_outputs(data, cfg, 'thumos', v) for v in range(2)],
        [meta(cfg, 'thumos', v) for v in range(2)], tc)
    for v, out in enumerate(outs):
        p = f'thumos_v{v}_'
        np.testing.assert_allclose(as_np(out['segments']), data[p + 'out_segs'], rtol=0,
                                   atol=1e-4)
        np.testing.assert_allclose(as_np(out['scores']), data[p + 'out_scores'], rtol=0,
                                   atol=1e-6)
        np.testing.assert_array_equal(as_np(out['labels']), data[p + 'out_labels'])
    with pytest.raises(ValueError, match='2 videos but 1 metas'):
        actionformer_postprocess_videos(
            [head_outputs(data, cfg, 'thumos', v) for v in range(2)], [meta(cfg, 'thumos', 0)],
            tc)


def test_thumos_labelled_detections_through_the_metric(oracle, tmp_path):
    """Multiclass outputs with class names go through TALDetectionMetric unchanged (mode
    'labels') and give mAP@0.3:0.7 (a GT equal to each video's best detection is found)."""
    data, cfg = oracle
    names = ['BaseballPitch', 'Billiards', 'CliffDiving', 'Diving']
    tc = official_test_cfg(cfg, 'thumos')
    preds, database = [], {}
    for v, vid in enumerate(cfg['thumos']['eval_video_order']):
        out = actionformer_postprocess(*head_outputs(data, cfg, 'thumos', v),
                                       meta(cfg, 'thumos', v), tc)
        segs, scores = out['segments'].double().tolist(), out['scores'].double().tolist()
        labels = out['labels'].tolist()
        preds.append(dict(video_name=vid, proposal_list=[
            dict(segment=s, score=c, label=names[lab]) for s, c, lab in zip(segs, scores,
                                                                          labels)]))
        database[vid] = dict(subset='test', annotations=[dict(segment=segs[0],
                                                              label=names[labels[0]])] + [
            dict(segment=[0.1, 0.2], label=n) for n in names])
    (tmp_path / 'gt.json').write_text(json.dumps(dict(database=database)))
    metric = TALDetectionMetric(str(tmp_path / 'gt.json'), subset='test',
                                tiou_thresholds=[0.3, 0.4, 0.5, 0.6, 0.7])
    metric.process({}, preds)
    res = metric.compute_metrics(metric.results)
    assert list(res) == ['mAP_avg', 'mAP@0.3', 'mAP@0.4', 'mAP@0.5', 'mAP@0.6', 'mAP@0.7']
    assert all(0 < v <= 1 for v in res.values())


def test_empty_videos_and_bad_scores(oracle):
    """A video without candidates next to one with candidates (both NMS modes), and a clear
    error for a non-finite score."""
    data, cfg = oracle
    for part in ('thumos', 'anet'):
        tc = official_test_cfg(cfg, part)
        pts, logits, offsets, masks = head_outputs(data, cfg, part, 0)
        empty = [torch.zeros_like(m) for m in masks]
        outs = actionformer_postprocess_videos(
            [(pts, logits, offsets, empty), (pts, logits, offsets, masks)],
            [meta(cfg, part, 0)] * 2, tc)
        assert outs[0]['segments'].shape == (0, 2) and len(outs[0]['labels']) == 0
        np.testing.assert_allclose(as_np(outs[1]['segments']), data[f'{part}_v0_out_segs'],
                                   rtol=0, atol=1e-4)
    x = torch.tensor([[0., 1., 2.]])
    with pytest.raises(ValueError, match='row 0, entry 1.*not finite'):
        padded_soft_nms(x, x + 1, torch.tensor([[0.5, float('nan'), 0.2]]), torch.tensor([3]))
    inds, _, kept = padded_soft_nms(x, x + 1, torch.tensor([[0.5, float('nan'), 0.2]]),
                                    torch.tensor([1]))  # padding may hold anything
    assert int(kept[0]) == 1 and int(inds[0, 0]) == 0


def greedy_nms_reference(segs, scores, thr, min_score):
    """``nms_1d_cpu`` after NMSop's ``score > min_score`` filter (float32): indices kept."""
    idx = np.flatnonzero(scores > np.float32(min_score))
    order = idx[np.argsort(-scores[idx], kind='stable')]
    area = segs[:, 1] - segs[:, 0] + np.float32(1e-6)
    keep, alive = [], np.ones(len(segs), bool)
    for pos, i in enumerate(order):
        if not alive[i]:
            continue
        keep.append(i)
        rest = order[pos + 1:]
        inter = np.maximum(np.float32(0), np.minimum(segs[i, 1], segs[rest, 1])
                           - np.maximum(segs[i, 0], segs[rest, 0]))
        alive[rest[inter / (area[i] + area[rest] - inter) >= np.float32(thr)]] = False
    return np.asarray(keep, dtype=np.int64)


def test_hard_nms_class_agnostic_votes_with_every_candidate(oracle):
    """Hard NMS keeps what greedy NMS keeps after the min_score filter, and score voting still
    uses every candidate (the official NMSop filters its own copy only)."""
    data, cfg = oracle
    tc = dict(official_test_cfg(cfg, 'anet'), nms_method='hard', iou_threshold=0.5,
              min_score=0.3, voting_thresh=0.7)
    heads = head_outputs(data, cfg, 'anet', 1)
    cand = select_candidates(*heads, tc['pre_nms_thresh'], tc['pre_nms_topk'],
                             tc['duration_thresh'])
    segs, scores, _ = (as_np(t) for t in cand.video(0))
    assert (scores <= 0.3).any()  # the filter matters here
    keep = greedy_nms_reference(segs, scores, 0.5, 0.3)[:tc['max_seg_num']]
    det = batched_nms(cand, 0.5, 0.3, tc['max_seg_num'], 'hard', False, tc['nms_sigma'],
                      tc['voting_thresh'])
    n = int(det.counts[0])
    assert n == len(keep)
    np.testing.assert_array_equal(as_np(det.scores[0, :n]), scores[keep])
    voted = score_voting(torch.from_numpy(segs[keep])[None], torch.from_numpy(segs)[None],
                         torch.from_numpy(scores)[None], torch.tensor([len(scores)]),
                         tc['voting_thresh'])[0]
    np.testing.assert_allclose(as_np(det.segs[0, :n]), as_np(voted), rtol=0, atol=1e-6)
    above = scores > 0.3  # voting with the filtered candidates only would move the segments
    filtered = score_voting(torch.from_numpy(segs[keep])[None], torch.from_numpy(segs[above])[None],
                            torch.from_numpy(scores[above])[None], torch.tensor([above.sum()]),
                            tc['voting_thresh'])[0]
    assert np.abs(as_np(filtered) - as_np(voted)).max() > 1e-2
