"""tools/test.py on the demo config (tiny data, an untrained BMN): ANet-style mAP and AR@AN are
printed, the submission JSON is written and agrees with the printed mAP."""
import json
import os
import pickle

import torch
from mmengine.config import Config

from mmaction.registry import MODELS
from sola_mm.evaluation.functional import evaluate_detection, load_ground_truth, load_submission
from tests.conftest import demo_cfg_options, run_tool


def test_tools_test_prints_anet_metrics_and_writes_submission(tiny_anet, tmp_path):
    opts = demo_cfg_options(tiny_anet)
    cfg = Config.fromfile('configs/demo/bmn_demo.py')
    model_cfg = cfg.model
    model_cfg.localizer.update(feat_dim=32, temporal_dim=16, num_samples=8, hidden_dim_1d=32,
                               hidden_dim_2d=16, hidden_dim_3d=32)
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    ckpt = str(tmp_path / 'model.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)

    work = tmp_path / 'work'
    dump = str(tmp_path / 'preds.pkl')
    proc = run_tool(['tools/test.py', 'configs/demo/bmn_demo.py', ckpt, '--work-dir', str(work),
                     '--dump', dump, '--cfg-options'] + opts)
    out = proc.stdout
    line = next(x for x in out.splitlines() if x.startswith('Detection:'))
    for key in ('mAP@0.5 ', 'mAP@0.75 ', 'mAP@0.95 ', 'mAP_avg '):
        assert key in line, line
    props = next(x for x in out.splitlines() if x.startswith('Proposals:'))
    for key in ('AR@1 ', 'AR@5 ', 'AR@10 ', 'AR@100 ', 'AUC '):
        assert key in props, props
    assert f'Submission file: {work / "detections.json"}' in out

    with open(work / 'detections.json') as f:
        sub = json.load(f)
    assert sub['version'] == 'VERSION 1.3' and sub['results']
    videos = json.load(open(tiny_anet['val']))
    assert set(sub['results']) == {v[2:] for v in videos}   # bare ids, every val video
    for rows in sub['results'].values():   # top-2 CUHK classes: each proposal twice, blocked
        labels = [r['label'] for r in rows]
        half = len(rows) // 2
        assert len(rows) == 2 * half and len(set(labels[:half])) == len(set(labels[half:])) == 1
        assert [r['segment'] for r in rows[:half]] == [r['segment'] for r in rows[half:]]
    # the file evaluated offline gives the printed average mAP (4 decimals printed)
    gt = load_ground_truth(tiny_anet['val'])
    offline = evaluate_detection(gt, load_submission(str(work / 'detections.json')))
    printed = float(line.split('mAP_avg ')[1].split()[0])
    assert abs(offline.average_mAP - printed) <= 5e-5
    with open(work / 'detection_metrics.json') as f:
        assert set(json.load(f)['ap_by_class']) == set(gt.classes)
    with open(dump, 'rb') as f:
        dumped = pickle.load(f)
    assert len(dumped) == len(videos) and 'proposal_list' in dumped[0]
    assert os.path.isfile(work / 'proposals.json')
