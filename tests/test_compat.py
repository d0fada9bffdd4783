"""Every fix in ``sola_mm.compat.FIXES`` is needed: without it (a subprocess started with
``SOLA_MM_SKIP_COMPAT=<name>``) the upstream defect shows; with it (this process, where
``import sola_mm`` applied every fix) the same operation works.

The four subprocesses start together (module fixture) so their imports overlap; each prints one
JSON line with what it observed.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from sola_mm import compat

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The defect, shown by code run in a process where the fix named by the key was skipped. Each
# snippet prints a JSON dict; `{tmp}` is a scratch folder.
DEFECTS = {
    'drn': '''
        try:
            import sola_mm  # its BatchedBMN subclasses BMN from mmaction.models
            import mmaction.models  # BMN lives here; localizers/__init__.py imports drn
            out = dict(error=None)
        except Exception as err:
            out = dict(error=f'{type(err).__name__}: {err}')
        print(json.dumps(out))
    ''',
    'trapz': '''
        import sola_mm
        from mmaction.evaluation.functional import average_recall_at_avg_proposals
        gt = {'v': np.array([[0.0, 10.0]])}
        proposals = {'v': np.array([[0.0, 10.0, 0.9], [5.0, 20.0, 0.5]])}
        try:
            average_recall_at_avg_proposals(gt, proposals, 1, max_avg_proposals=2)
            out = dict(error=None)
        except Exception as err:
            out = dict(error=f'{type(err).__name__}: {err}')
        print(json.dumps(out))
    ''',
    'weights_only': '''
        import sola_mm
        from mmengine.runner.checkpoint import _load_checkpoint
        try:
            _load_checkpoint(os.path.join(tmp, 'mmengine.pth'), map_location='cpu')
            out = dict(error=None)
        except Exception as err:
            out = dict(error=f'{type(err).__name__}: {err}')
        print(json.dumps(out))
    ''',
    'atomic_save': '''
        import sola_mm
        from mmengine.fileio.backends import LocalBackend
        from mmengine.runner.checkpoint import find_latest_checkpoint
        path = os.path.join(tmp, 'epoch_2.pth')
        with open(path, 'wb') as f:
            f.write(b'complete checkpoint')
        try:
            LocalBackend().put(None, path)  # a write that fails after it started
        except TypeError:
            pass
        with open(path, 'rb') as f:
            left = f.read().decode()
        work = os.path.join(tmp, 'work')
        print(json.dumps(dict(left=left, temp_files=[f for f in os.listdir(tmp) if '.tmp.' in f],
                              latest=find_latest_checkpoint(work))))
    ''',
    'mmcv_lite_warning': '''
        import warnings
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            import sola_mm  # imports mmaction.models -> mmcv.cnn.bricks.transformer
        print(json.dumps(dict(warnings=[str(w.message) for w in caught])))
    ''',
}


def _mmengine_checkpoint(path: str) -> None:
    """A checkpoint as mmengine's Runner writes it: model, optimizer, meta, and a message hub
    holding HistoryBuffer objects and numpy values."""
    from mmengine.logging import MessageHub
    from mmengine.runner.checkpoint import save_checkpoint
    model = torch.nn.Linear(3, 2)
    optim = torch.optim.AdamW(model.parameters())
    model(torch.randn(4, 3)).sum().backward()
    optim.step()
    hub = MessageHub.get_instance('test_compat_checkpoint')
    for value in (1.0, 0.5):
        hub.update_scalar('train/loss', value)
    hub.update_info('best_score', np.float64(0.25))
    save_checkpoint(dict(meta=dict(epoch=1, iter=4, seed=0), state_dict=model.state_dict(),
                         optimizer=optim.state_dict(), message_hub=hub.state_dict()), path)


def _scratch(tmp: str) -> None:
    _mmengine_checkpoint(os.path.join(tmp, 'mmengine.pth'))
    work = os.path.join(tmp, 'work')
    os.makedirs(work)
    torch.save(dict(meta=dict(epoch=1)), os.path.join(work, 'epoch_1.pth'))
    open(os.path.join(work, 'epoch_2.pth'), 'wb').close()  # killed before a byte was written
    with open(os.path.join(work, 'last_checkpoint'), 'w') as f:
        f.write(os.path.join(work, 'epoch_2.pth'))


@pytest.fixture(scope='module')
def scratch(tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp('compat'))
    _scratch(tmp)
    return tmp


@pytest.fixture(scope='module')
def defects(tmp_path_factory):
    """Run every defect snippet, each in its own process with its fix skipped (in parallel)."""
    procs = {}
    for name, code in DEFECTS.items():
        tmp = str(tmp_path_factory.mktemp(f'skip_{name}'))
        _scratch(tmp)
        script = ('import json, os\nimport numpy as np\n'
                  f'tmp = {tmp!r}\n' + textwrap.dedent(code))
        env = dict(os.environ, SOLA_MM_SKIP_COMPAT=name, OMP_NUM_THREADS='1',
                   PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
        procs[name] = subprocess.Popen([sys.executable, '-c', script], env=env, cwd=tmp,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    results = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, f'{name} snippet failed:\n{out}\n{err[-3000:]}'
        results[name] = json.loads(out.strip().splitlines()[-1])
    return results


def needed(name: str) -> None:
    if not compat.applied().get(name):
        pytest.skip(f'compat fix {name!r} is not needed with the installed versions')


def test_every_fix_has_a_defect_test():
    assert {fix.name for fix in compat.FIXES} == set(DEFECTS)


def test_drn(defects):
    needed('drn')
    assert "No module named 'mmaction.models.localizers.drn'" in defects['drn']['error']
    import mmaction.models  # noqa: F401  (works here, with the fix)
    from mmaction.models.localizers import BMN, DRN
    assert BMN.__module__ == 'mmaction.models.localizers.bmn'
    with pytest.raises(ImportError, match='mmaction2#2714'):  # the stand-in explains itself
        DRN()


def test_trapz(defects):
    needed('trapz')
    assert "has no attribute 'trapz'" in defects['trapz']['error']
    from mmaction.evaluation.functional import average_recall_at_avg_proposals
    gt = {'v': np.array([[0.0, 10.0]])}
    proposals = {'v': np.array([[0.0, 10.0, 0.9], [5.0, 20.0, 0.5]])}
    recall, _, _, auc = average_recall_at_avg_proposals(gt, proposals, 1, max_avg_proposals=2)
    assert np.isfinite(auc) and recall.shape[0] == 10


def test_weights_only(defects, scratch):
    needed('weights_only')
    error = defects['weights_only']['error']
    assert 'Weights only load failed' in error and 'HistoryBuffer' in error
    from mmengine.runner.checkpoint import _load_checkpoint
    checkpoint = _load_checkpoint(os.path.join(scratch, 'mmengine.pth'), map_location='cpu')
    buffer = checkpoint['message_hub']['log_scalars']['train/loss']
    assert buffer.mean() == 0.75 and buffer.current() == 0.5
    assert checkpoint['message_hub']['runtime_info']['best_score'] == 0.25


def test_atomic_save(defects, scratch):
    needed('atomic_save')
    unfixed = defects['atomic_save']
    assert unfixed['left'] == ''  # the complete checkpoint was destroyed by the failed write
    assert unfixed['latest'].endswith('epoch_2.pth')  # and --resume would pick the empty file
    from mmengine.fileio.backends import LocalBackend
    from mmengine.runner.checkpoint import find_latest_checkpoint
    path = os.path.join(scratch, 'epoch_2.pth')
    with open(path, 'wb') as f:
        f.write(b'complete checkpoint')
    with pytest.raises(TypeError):
        LocalBackend().put(None, path)
    with open(path, 'rb') as f:
        assert f.read() == b'complete checkpoint'
    assert not [f for f in os.listdir(scratch) if '.tmp.' in f]
    latest = find_latest_checkpoint(os.path.join(scratch, 'work'))
    assert latest.endswith('epoch_1.pth')
    LocalBackend().put(b'new', path)  # and a write that succeeds replaces the file
    with open(path, 'rb') as f:
        assert f.read() == b'new'


def test_mmcv_lite_warning(defects):
    needed('mmcv_lite_warning')
    assert any('MultiScaleDeformableAttention' in w for w in defects['mmcv_lite_warning']['warnings'])
    # with the fix, a tool starts without it (python -W default shows every warning once)
    proc = subprocess.run([sys.executable, '-W', 'default', 'tools/convert_features.py', '--help'],
                          cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=ROOT))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'MultiScaleDeformableAttention' not in proc.stderr
