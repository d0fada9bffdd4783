"""Shared fixtures: tiny synthetic ActivityNet-layout data, generated in the test run."""
import os
import subprocess
import sys

import pytest
from mmengine.registry import init_default_scope

import sola_mm  # noqa: F401  (compat fixes + registration)
from sola_mm.datasets.demo_data import make_anet_demo

init_default_scope('mmaction')  # what the Runner sets from `default_scope` in every config
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope='session', autouse=True)
def preflight_cache(tmp_path_factory):
    """The data check's cache (sola_mm/datasets/preflight.py) in the session's tmp folder, for
    this process and the tools it starts, not in the user's ~/.cache."""
    os.environ['SOLA_MM_CACHE_DIR'] = str(tmp_path_factory.mktemp('preflight_cache'))


@pytest.fixture(scope='session')
def tiny_anet(tmp_path_factory):
    """16 train + 8 val videos, 32 channels, 3 classes, .npy features."""
    out = tmp_path_factory.mktemp('tiny_anet')
    paths = make_anet_demo(str(out), num_train=16, num_val=8, feat_dim=32, num_classes=3,
                           min_len=24, max_len=48, seed=0)
    paths['root'] = str(out)
    return paths


def load_tool(name):
    """A tools/ script imported as a module (e.g. ``load_tool('convert_features')``)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(f'{name}_tool',
                                                  os.path.join(ROOT, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_tool(args, cwd=ROOT, timeout=600, check=True):
    """Run a tools/ script in a subprocess; return the completed process (output captured)."""
    proc = subprocess.run([sys.executable] + list(args), cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f'{args} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n'
                             f'{proc.stderr[-4000:]}')
    return proc


def demo_cfg_options(paths, feat_dim=32, temporal_scale=16, epochs=2):
    """--cfg-options that point a real ActivityNet config at the tiny data and shrink it."""
    feat = paths['features'] + '/'
    opts = [
        f'train_dataloader.dataset.ann_file={paths["train"]}',
        f'train_dataloader.dataset.data_prefix.feature={feat}',
        'train_dataloader.dataset.feature_ext=.npy',
        f'train_dataloader.dataset.feat_dim={feat_dim}',
        f'train_dataloader.dataset.temporal_scale={temporal_scale}',
        'train_dataloader.batch_size=4', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        f'val_dataloader.dataset.ann_file={paths["val"]}',
        f'val_dataloader.dataset.data_prefix.feature={feat}',
        'val_dataloader.dataset.feature_ext=.npy',
        f'val_dataloader.dataset.feat_dim={feat_dim}',
        f'val_dataloader.dataset.temporal_scale={temporal_scale}',
        'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
        f'test_dataloader.dataset.ann_file={paths["val"]}',
        f'test_dataloader.dataset.data_prefix.feature={feat}',
        'test_dataloader.dataset.feature_ext=.npy',
        f'test_dataloader.dataset.feat_dim={feat_dim}',
        f'test_dataloader.dataset.temporal_scale={temporal_scale}',
        'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False',
        f'model.localizer.feat_dim={feat_dim}', f'model.localizer.temporal_dim={temporal_scale}',
        'model.localizer.num_samples=8', 'model.localizer.hidden_dim_1d=32',
        'model.localizer.hidden_dim_2d=16', 'model.localizer.hidden_dim_3d=32',
        f'train_cfg.max_epochs={epochs}', f'train_cfg.val_interval={epochs}',
        'default_hooks.logger.interval=1',
        f'val_evaluator.ann_file={paths["val"]}',
        f'val_evaluator.classifier_file={paths["classifier"]}',
        f'test_evaluator.ann_file={paths["val"]}',
        f'test_evaluator.classifier_file={paths["classifier"]}',
    ]
    return opts


def tiny_stage1_options(epochs):
    """--cfg-options shrinking the SoLa stage 1 of a real config to the tiny data (window 12,
    4 positions, width 32 -> 16)."""
    return [f'sola_stage1.cfg_options.train_cfg.max_epochs={epochs}',
            'sola_stage1.cfg_options.train_dataloader.batch_size=8',
            'sola_stage1.cfg_options.train_dataloader.num_workers=0',
            'sola_stage1.cfg_options.train_dataloader.persistent_workers=False',
            'sola_stage1.cfg_options.train_dataloader.dataset.window=12',
            'sola_stage1.cfg_options.model.loss.num_positions=4',
            'sola_stage1.cfg_options.model.loss.step_start=2',
            'sola_stage1.cfg_options.default_hooks.checkpoint.interval=1',
            # too few snippets for the authors' 100-snippet chunks: probe every snippet
            'sola_stage1.cfg_options.val_evaluator.sampling=all',
            'model.neck.in_channels=32', 'model.neck.hidden_channels=16']
