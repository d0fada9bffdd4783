"""The benchmark scripts documented in docs/performance.md run as written, on tiny sizes, and
report what they claim (ratios against a baseline measured in the same run, phases that add up)."""
import json
import re

import pytest

from tests.conftest import run_tool


@pytest.mark.slow
def test_benchmark_bmn_compares_with_mmaction2_in_one_run():
    proc = run_tool(['tools/benchmark_bmn.py', '--tscale', '16', '--feat-dim', '32',
                     '--num-samples', '8', '--train-batch', '2', '--test-batches', '1', '2',
                     '--repeats', '1'])
    out = proc.stdout
    rows = re.findall(r'^(test forward, batch \d+|train step, batch \d+) .*ratio theirs/ours: '
                      r'wall +([\d.]+)x, CPU +([\d.]+)x; memory ours/theirs', out, re.M)
    assert [r[0] for r in rows] == ['test forward, batch 1', 'test forward, batch 2',
                                    'train step, batch 2']
    diffs = [float(v) for v in re.findall(r'on the confidence maps: ([\d.e+-]+)', out)]
    assert len(diffs) == 2 and max(diffs) < 1e-5
    ours, theirs = re.search(r'ours ([\d.]+), MMAction2 ([\d.]+)', out).groups()
    assert abs(float(ours) - float(theirs)) < 1e-5


def _check_records(path, rows, videos):
    records = {r['name']: r for r in json.load(open(path))}
    assert sorted(records) == sorted(rows)
    for name, r in records.items():
        phases = [r[p] for p in ('setup', 'data', 'forward', 'postprocess', 'evaluation')]
        assert all(p >= 0 for p in phases) and r['forward'] > 0
        assert sum(phases) <= r['total'] + 1e-6
        assert r['iters'] == -(-videos[name] // r['batch'])
        assert 'AR@100' in r['metrics']


@pytest.mark.slow
def test_whole_test_benchmark_bmn_rows(tmp_path):
    out = tmp_path / 'records.json'
    proc = run_tool(['tools/benchmark_bmn.py', '--whole-test', '--videos', '3',
                     '--videos-mmaction2', '2', '--extrapolate-to', '30', '--data',
                     str(tmp_path / 'data'), '--work-dir', str(tmp_path / 'work'), '--json',
                     str(out)], timeout=900)
    _check_records(out, ['bmn', 'bmn_mmaction2'], dict(bmn=3, bmn_mmaction2=2))
    assert re.search(r'bmn vs bmn_mmaction2 \(same run\): whole run at 30 videos [\d.]+x',
                     proc.stdout)
    assert '(extrapolated' in proc.stdout


@pytest.mark.slow
def test_whole_test_benchmark_gtad_rows(tmp_path):
    out = tmp_path / 'records.json'
    proc = run_tool(['tools/benchmark_test.py', '--videos', '3', '--models', 'gtad', 'gtad_b16',
                     '--data', str(tmp_path / 'data'), '--work-dir', str(tmp_path / 'work'),
                     '--json', str(out)], timeout=900)
    _check_records(out, ['gtad', 'gtad_b16'], dict(gtad=3, gtad_b16=3))
    assert 'gtad_b16 vs gtad (same run)' in proc.stdout


@pytest.mark.slow
def test_benchmark_gtad_efficiency_and_inference_batches():
    proc = run_tool(['tools/benchmark_gtad.py', '--shapes', 'anet', '--paths', 'fused',
                     '--batch', '1', '--steps', '2', '--matmul-size', '256',
                     '--inference-batches', '1', '2', '--repeats', '1'], timeout=900)
    assert re.search(r'GFLOP/s = [\d.]+% of a 256\^2 fp32 matmul .*by CPU time: [\d.]+ CPU-s, '
                     r'[\d.]+% of the matmul', proc.stdout)
    assert re.search(r'predict, batch +2: .* throughput vs batch 1: wall [\d.]+x', proc.stdout)
