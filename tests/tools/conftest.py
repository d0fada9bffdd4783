"""Fixtures for the tool tests: tiny demo data and a SoLa checkpoint that is not the identity."""
import pytest
import torch
from tools_test_utils import FEAT_DIM

import sola_mm  # noqa: F401
from sola_mm.datasets.demo_data import make_anet_demo


@pytest.fixture(scope='session')
def tiny_data(tmp_path_factory):
    out = tmp_path_factory.mktemp('tiny_anet_tools')
    return make_anet_demo(str(out), num_train=10, num_val=6, feat_dim=FEAT_DIM, num_classes=3,
                          min_len=30, max_len=48, seed=1)


@pytest.fixture(scope='session')
def sola_ckpt(tmp_path_factory):
    """An mmengine-style stage-1 checkpoint of the demo neck with alpha != 0 (not the identity)."""
    from mmaction.registry import MODELS
    torch.manual_seed(0)
    neck = MODELS.build(dict(type='SoLa', in_channels=FEAT_DIM, hidden_channels=64))
    with torch.no_grad():
        neck.alpha.fill_(0.8)
    path = tmp_path_factory.mktemp('ckpt') / 'sola.pth'
    torch.save(dict(meta=dict(epoch=1),
                    state_dict={f'neck.{k}': v for k, v in neck.state_dict().items()}), path)
    return str(path)
