"""tools/benchmark_stage1_memory.py as documented (docs/custom_dataset.md, section 6), on a tiny
generated folder: both cache modes run, the figures and ratios print, the folder is deleted."""
import os
import subprocess
import sys

from tools_test_utils import ROOT


def test_benchmark_stage1_memory_runs_and_cleans_up(tmp_path):
    doc = open(os.path.join(ROOT, 'docs', 'custom_dataset.md')).read()
    assert 'python tools/benchmark_stage1_memory.py --videos 1000' in doc
    root = tmp_path / 'generated'
    cmd = [sys.executable, os.path.join(ROOT, 'tools', 'benchmark_stage1_memory.py'),
           '--videos', '6', '--length', '40', '--channels', '8', '--batch', '4',
           '--root', str(root)]
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=ROOT)
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    text = out.stdout
    assert 'generated 6 videos' in text and 'extrapolated to 37618 videos' in text
    for mode in ('memory', 'mmap'):  # two sizes measured + the extrapolation
        assert sum(line.split()[:2] in ([mode, '3'], [mode, '6'], [mode, 'build'])
                   for line in text.splitlines()) == 3, text
    assert 'mmap / memory: build time x' in text and 'peak RSS x' in text
    assert not root.exists()
