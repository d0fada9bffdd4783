"""A documented command is a tested command: every `python tools/`, `bash tools/` or `make`
command of README.md and docs/*.md is run as written by a test (``run_documented``) or listed in
docs/real_data_commands.md with its reason (tests/docs/documented.py)."""
import glob
import json
import os

import numpy as np

from sola_mm.datasets.feature_io import load_features, save_features_atomic
from tests.docs.documented import (ROOT, commands_in, documented_commands, listed_commands,
                                   registered_by_tests, run_documented)


def test_every_documented_command_is_run_by_a_test_or_listed():
    documented = documented_commands()
    covered = set(registered_by_tests()) | set(listed_commands())
    orphans = {c: files for c, files in documented.items() if c not in covered}
    assert not orphans, ('documented commands neither run by a test (run_documented) nor listed in '
                         'docs/real_data_commands.md:\n' + '\n'.join(
                             f'  {files[0]}: {c}' for c, files in orphans.items()))


def test_listed_and_registered_commands_are_still_documented():
    documented = documented_commands()
    stale = [c for c in list(listed_commands()) + list(registered_by_tests()) if c not in documented]
    assert not stale, f'no longer in README.md / docs/*.md: {stale}'


def test_extraction_rules(tmp_path):
    doc = tmp_path / 'x.md'
    doc.write_text('Run `make demo` or `python tools/x.py --a 1`, not `tools/y.py`.\n'
                   '```bash\nOMP_NUM_THREADS=1 python tools/z.py a \\\n    --b "#c"   # note\n'
                   'pip install x\n```\n```python\npython tools/not_shell.py\n```\n')
    assert commands_in(str(doc)) == ['make demo', 'python tools/x.py --a 1',
                                     'python tools/z.py a --b "#c"']


def _scratch(tmp_path):
    for name in ('tools', 'configs'):
        os.symlink(os.path.join(ROOT, name), tmp_path / name)
    return tmp_path


def test_readme_csv2npy_as_written(tmp_path, tiny_anet):
    """README / docs/custom_dataset.md: MMAction2's CSV folder -> .npy, demo CSVs at that path."""
    root = _scratch(tmp_path)
    src = root / 'data/ActivityNet/activitynet_feature_cuhk/csv_mean_100'
    src.mkdir(parents=True)
    arrays = {}
    for path in sorted(glob.glob(os.path.join(tiny_anet['features'], '*.npy')))[:4]:
        video = os.path.basename(path)[:-4]
        arrays[video] = load_features(path)
        save_features_atomic(arrays[video], str(src / f'{video}.csv'))
    proc = run_documented('python tools/convert_features.py csv2npy '
                          'data/ActivityNet/activitynet_feature_cuhk/csv_mean_100 '
                          'data/ActivityNet/activitynet_feature_cuhk/npy_100', cwd=str(root))
    assert proc.returncode == 0, proc.stderr[-2000:]
    for video, array in arrays.items():
        out = np.load(root / f'data/ActivityNet/activitynet_feature_cuhk/npy_100/{video}.npy')
        np.testing.assert_allclose(out, array, rtol=1e-6)


def test_make_demo_data_commands_as_written(tmp_path):
    root = _scratch(tmp_path)
    proc = run_documented('python tools/make_demo_data.py --layout thumos', cwd=str(root))
    assert proc.returncode == 0, proc.stderr[-2000:]
    with open(root / 'data/demo_thumos/DONE.json') as f:
        assert json.load(f)['layout'] == 'thumos'
    proc = run_documented('python tools/make_demo_data.py --out data/demo_anet', cwd=str(root))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (root / 'data/demo_anet/anet_anno_val.json').is_file()
