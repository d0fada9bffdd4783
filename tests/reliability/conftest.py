"""Shared fixtures for the reliability tests: tiny demo data, tiny configs, subprocess runs.

Everything is sized for a 2-core CPU: 16 training videos, features 32 x (24..48) resized to
T=16, BMN with 16-wide hidden layers, 2 epochs of 4 iterations (~0.1 s per iteration).
"""
from __future__ import annotations

import os.path as osp

import pytest
from reliability_utils import FEAT_DIM, train, write_config


@pytest.fixture(scope='session')
def demo_data(tmp_path_factory):
    from sola_mm.datasets.demo_data import make_anet_demo
    out = str(tmp_path_factory.mktemp('demo_anet'))
    make_anet_demo(out, num_train=16, num_val=8, feat_dim=FEAT_DIM, num_classes=3, min_len=24,
                   max_len=48, seed=0)
    return out


@pytest.fixture(scope='session')
def reference(demo_data, tmp_path_factory):
    """An uninterrupted single-process SoLa + BMN run (stage 1: 4 epochs x 2 iterations of 8
    windows; stage 2: 2 epochs x 4 iterations of 4 videos), seed 0. Its work_dir."""
    root = str(tmp_path_factory.mktemp('reference'))
    config = write_config(osp.join(root, 'cfg.py'), demo_data, sola=True)
    train(config, osp.join(root, 'work'))
    return osp.join(root, 'work')
