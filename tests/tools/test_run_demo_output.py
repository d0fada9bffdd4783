"""tools/run_demo.py (make demo) shows progress per stage, not per iteration, and ends with one
table in percent saying where the files are."""
import io
import json

import run_demo
from tools_test_utils import ROOT  # noqa: F401  (puts tools/ on sys.path)

STAGE1, STAGE2 = 'stage 1: SoLa Similarity Matching', 'stage 2: GTAD on frozen SoLa'


def _log(stage1_epochs=400, stage2_epochs=6):
    lines = ['Config: ...', 'Exp name: x', 'SoLa stage 1 (Similarity Matching) starts in w/s1',
             'Checkpoints will be saved to w/s1.']
    for e in range(1, stage1_epochs + 1):
        lines += ['Exp name: sola_pretrain', f'Epoch(train) [{e}][4/4]  lr: 1e-4  loss: 0.5  '
                  'loss_sm: 0.5']
        if e % 50 == 0:
            lines.append(f'Epoch(val) [{e}][160/160]    probe/score: 0.9017  probe/raw_score: 0.91')
    lines += ['SoLa stage 1 finished; using w/s1/best_probe_score_epoch_200.pth',
              'Checkpoints will be saved to w.']
    for e in range(1, stage2_epochs + 1):
        lines += [f'Epoch(train) [{e}][{i}/15]  lr: 4e-3  loss: 1.0' for i in (5, 10, 15)]
    return [line + '\n' for line in lines]


def test_progress_is_a_few_lines_per_stage():
    out = io.StringIO()
    progress = run_demo.Progress({STAGE1: 400, STAGE2: 6}, stream=out)
    progress.stage2 = STAGE2
    for line in _log():
        run_demo._follow(progress, line)
    progress.finish()
    shown = out.getvalue().splitlines()
    # stage 1: its first epoch, then every 10%; the hand-over; stage 2: every epoch
    assert len(shown) == 11 + 1 + 6
    assert shown[10].startswith(f'  {STAGE1}') and '400/400 epochs' in shown[10]
    assert 'linear probe 0.902' in shown[10]
    assert 'best_probe_score_epoch_200.pth' in shown[11]
    assert '6/6 epochs' in shown[-1] and 'Exp name' not in out.getvalue()


def test_table_in_percent_with_the_paths(tmp_path):
    with open(tmp_path / 'detection_metrics.json', 'w') as f:
        json.dump(dict(tiou_thresholds=[0.5, 0.75, 0.95], mAP=[0.504, 0.4382, 0.2014],
                       average_mAP=0.4177), f)
    with open(tmp_path / 'proposal_metrics.json', 'w') as f:
        json.dump({'AR@100': 0.736, 'AUC': 71.144}, f)
    metrics = run_demo._metrics(str(tmp_path))
    assert metrics == {'mAP@0.5': 50.4, 'mAP@0.75': 43.82, 'mAP@0.95': 20.14, 'avg mAP': 41.77,
                       'AR@100': 73.6, 'AUC': 71.144}
    common = dict(work_dir='w', checkpoint=str(tmp_path / 'epoch_6.pth'), log=str(tmp_path / 'c.log'),
                  logs=[], detections='w/detections.json', seconds=1.0)
    text = run_demo.table([dict(common, name='gtad_demo', metrics=metrics),
                           dict(common, name='sola_gtad_demo', metrics=metrics, plots='w/tsm')])
    rows = [line.split() for line in text.splitlines() if line.startswith(('gtad', 'sola'))]
    assert rows[0] == ['gtad_demo', '50.4', '43.8', '20.1', '41.8', '73.6', '71.1']
    assert rows[1][0] == 'sola_gtad_demo'
    for what in ('checkpoint', 'logs', 'detection JSON', 'plots'):
        assert what in text
