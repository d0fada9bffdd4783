"""tools/benchmark_actionformer.py: the command of docs/actionformer.md as written (our model only:
the official code is not part of the repository), and a clear error for a bad --official."""
import pytest

from tests.conftest import run_tool


@pytest.mark.slow
def test_benchmark_runs_ours_without_the_official_code():
    from tests.docs.documented import run_documented
    proc = run_documented('python tools/benchmark_actionformer.py --shapes anet --repeat 1')
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert 'official code not given' in out
    assert 'anet: batch 16, T=192, C=512' in out and 'ours      step' in out
    assert 'speed ours/official' not in out


def test_benchmark_rejects_a_missing_official_folder(tmp_path):
    proc = run_tool(['tools/benchmark_actionformer.py', '--official', str(tmp_path / 'nope')],
                    check=False)
    assert proc.returncode != 0 and 'no such folder' in proc.stderr
