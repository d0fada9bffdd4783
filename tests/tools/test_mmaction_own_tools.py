"""Config-only reuse from MMAction2: MMAction2's OWN tools/train.py and tools/test.py (shipped in the
installed wheel under ``mmaction/.mim/tools/``) run ``configs/examples/*`` end to end on demo data in
MMAction2's ActivityNet layout (``data/ActivityNet/activitynet_feature_cuhk/csv_mean_<T>/v_<id>.csv``
with a header row, ``anet_anno_{train,val}.json``), stage 1 included; our tools/train.py runs the
same config; a user's own small config (custom_imports, ``_base_`` on ours, SoLa neck + hook) runs
from MMAction2's train tool."""
import glob
import json
import os
import os.path as osp
import shutil

import mmaction
import pytest
from tools_test_utils import ROOT

from sola_mm.datasets.feature_io import load_features, resize_features, save_features_atomic

MMACTION_TOOLS = osp.join(osp.dirname(mmaction.__file__), '.mim', 'tools')
EXAMPLES = sorted(glob.glob(osp.join(ROOT, 'configs', 'examples', '*.py')))
T, C = 16, 32  # snippets per video, channels (MMAction2's ANet data: 100 x 400)
FEATURES = f'data/ActivityNet/activitynet_feature_cuhk/csv_mean_{T}/'

pytestmark = pytest.mark.slow


@pytest.fixture(scope='module')
def mmaction_layout(tmp_path_factory, tiny_anet):
    """A working folder whose data/ActivityNet holds the tiny demo in MMAction2's CSV layout."""
    root = tmp_path_factory.mktemp('mmaction_layout')
    folder = root / FEATURES
    folder.mkdir(parents=True)
    for path in glob.glob(osp.join(tiny_anet['features'], '*.npy')):
        video = osp.splitext(osp.basename(path))[0]
        save_features_atomic(resize_features(load_features(path), T), str(folder / f'{video}.csv'))
    for split in ('train', 'val'):
        shutil.copy(tiny_anet[split], root / 'data' / 'ActivityNet' / f'anet_anno_{split}.json')
    return root


def _options(extra=()):
    """Shrink MMAction2's BMN ANet config (and its stage 1) to the tiny data: sizes only."""
    opts = [f'{split}_dataloader.dataset.data_prefix.video={FEATURES}'
            for split in ('train', 'val', 'test')]
    opts += [f'{split}_dataloader.{k}' for split in ('train', 'val', 'test')
             for k in ('num_workers=0', 'persistent_workers=False')]
    opts += [f'model.localizer.temporal_dim={T}', f'model.localizer.feat_dim={C}',
             'model.localizer.num_samples=8', 'model.localizer.hidden_dim_1d=16',
             'model.localizer.hidden_dim_2d=16', 'model.localizer.hidden_dim_3d=16',
             f'model.neck.in_channels={C}', 'model.neck.hidden_channels=16',
             'train_cfg.max_epochs=1', 'train_dataloader.batch_size=4']
    stage1 = ['train_cfg.max_epochs=2', 'train_cfg.val_interval=2',
              'default_hooks.checkpoint.interval=1', 'train_dataloader.batch_size=8',
              'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
              'train_dataloader.dataset.window=12', 'model.loss.num_positions=4',
              'model.loss.step_start=2',
              'val_evaluator.sampling=all']  # 16-snippet videos: no 100-snippet chunk
    return opts + [f'sola_stage1.cfg_options.{o}' for o in stage1] + list(extra)


def _env():
    # the tools import sola_mm through custom_imports: this checkout, not another install
    return dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))


def _run(args, cwd):
    import subprocess
    import sys
    proc = subprocess.run([sys.executable] + args, cwd=str(cwd), env=_env(), capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, f'{args[:2]} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}'
    return proc.stdout + proc.stderr


def _stage1_used(work_dir):
    with open(osp.join(work_dir, 'sola_stage1', 'stage1_done.json')) as f:
        return json.load(f)['checkpoint']


@pytest.mark.parametrize('config', EXAMPLES, ids=osp.basename)
def test_mmaction_own_train_and_test_tools_run_the_example(config, mmaction_layout):
    work = mmaction_layout / ('mm_' + osp.basename(config)[:-3])
    out = _run([osp.join(MMACTION_TOOLS, 'train.py'), config, '--work-dir', str(work),
                '--cfg-options'] + _options(), mmaction_layout)
    assert 'SoLa stage 1 finished' in out, out[-3000:]
    assert _stage1_used(str(work)).endswith('.pth')
    with open(work / 'last_checkpoint') as f:
        checkpoint = f.read().strip()
    out = _run([osp.join(MMACTION_TOOLS, 'test.py'), config, checkpoint, '--work-dir', str(work),
                '--cfg-options'] + _options(), mmaction_layout)
    assert 'Epoch(test)' in out and 'AR@100' in out, out[-3000:]


@pytest.mark.parametrize('config', EXAMPLES, ids=osp.basename)
def test_our_train_tool_runs_the_example_without_randomness(config, mmaction_layout):
    work = mmaction_layout / ('ours_' + osp.basename(config)[:-3])
    out = _run([osp.join(ROOT, 'tools', 'train.py'), config, '--work-dir', str(work),
                '--cfg-options'] + _options(), mmaction_layout)
    assert 'SoLa stage 1 finished' in out and 'Epoch(val) [1]' in out, out[-3000:]


def test_user_config_on_ours_runs_from_mmaction_train_tool(tmp_path, tiny_anet):
    from tests.conftest import demo_cfg_options, tiny_stage1_options
    config = tmp_path / 'my_bmn_sola.py'
    config.write_text(
        f"_base_ = ['{ROOT}/configs/bmn_anet.py']\n"
        "custom_imports = dict(imports=['sola_mm'], allow_failed_imports=False)\n"
        "model = dict(neck=dict(type='SoLa', in_channels=400, hidden_channels=64, frozen=True))\n"
        f"sola_stage1 = dict(config='{ROOT}/configs/sola_pretrain_anet.py', checkpoint=None,\n"
        "                   work_subdir='sola_stage1', inherit=True, cfg_options=dict())\n"
        "custom_hooks = [dict(type='SoLaStage1Hook')]\n")
    opts = demo_cfg_options(tiny_anet, feat_dim=32, temporal_scale=16, epochs=1)
    opts += tiny_stage1_options(2) + ['sola_stage1.cfg_options.val_evaluator.sampling=all']
    out = _run([osp.join(MMACTION_TOOLS, 'train.py'), str(config), '--work-dir',
                str(tmp_path / 'work'), '--cfg-options'] + opts, tmp_path)
    assert 'SoLa stage 1 finished' in out and 'Epoch(val) [1]' in out, out[-3000:]


def test_mmaction_train_tool_finds_a_nan_val_video_before_stage1(mmaction_layout, tmp_path):
    """The example's DataCheckHook: a NaN in a *validation* video stops the run at start."""
    root = tmp_path / 'bad'
    shutil.copytree(mmaction_layout / 'data', root / 'data')
    with open(root / 'data/ActivityNet/anet_anno_val.json') as f:
        video = sorted(json.load(f))[0]
    csv = root / FEATURES / f'{video}.csv'
    lines = csv.read_text().splitlines()
    lines[3] = ','.join(['nan'] + lines[3].split(',')[1:])
    csv.write_text('\n'.join(lines) + '\n')
    config = EXAMPLES[0]
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, osp.join(MMACTION_TOOLS, 'train.py'), config,
                           '--work-dir', str(root / 'work'), '--cfg-options'] + _options(),
                          cwd=str(root), env=_env(), capture_output=True, text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and 'DataCheckError' in out, out[-3000:]
    assert video in out and 'NaN/inf' in out and 'first at snippet 2, channel 0' in out
    assert 'SoLa stage 1 (Similarity Matching) starts' not in out
