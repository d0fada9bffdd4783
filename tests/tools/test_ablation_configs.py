"""Every ablation config (configs/ablations/) loads, builds its model, and changes what its table
row in docs/ablations.md says: the receptive field of the neck (measured, not read from the
config), the feature width end to end, or the training scheme (unified: no stage 1, neck
trained)."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from tools_test_utils import ROOT

from mmaction.registry import MODELS
from sola_mm.engine.hooks.stage1 import stage1_config

ABLATIONS = sorted(glob.glob(osp.join(ROOT, 'configs', 'ablations', '*.py')))
# name -> (receptive field in snippets, feature width, separate stage 1)
EXPECTED = {
    'sola_bmn_anet_rf_k1': (1, 400, True),
    'sola_bmn_anet_rf_k3': (3, 400, True),
    'sola_bmn_anet_rf_k5_d2': (9, 400, True),
    'sola_bmn_anet_rf_k5_k3': (7, 400, True),
    'sola_bmn_anet_rf_k9': (9, 400, True),
    'sola_bmn_anet_unified': (5, 400, False),
    'sola_bmn_anet_enc_i3d': (5, 2048, True),
    'sola_bmn_anet_enc_i3d_rgb': (5, 1024, True),
    'sola_bmn_anet_enc_tsn_rgb': (5, 200, True),
}


def test_every_ablation_is_listed():
    names = {osp.splitext(osp.basename(p))[0] for p in ABLATIONS}
    assert names == set(EXPECTED)
    doc = open(osp.join(ROOT, 'docs', 'ablations.md')).read()
    for name in names:
        assert f'{name}.py' in doc, f'{name} is missing from docs/ablations.md'


def receptive_field(neck, channels: int, length: int = 41) -> int:
    """Span (first to last, in snippets) of the outputs that change when one input snippet in the
    middle changes; a dilated kernel leaves gaps inside the span."""
    with torch.no_grad():
        neck.alpha.fill_(0.7)
        x = torch.randn(1, channels, length, generator=torch.Generator().manual_seed(0))
        y = x.clone()
        y[0, :, length // 2] += 1.0
        delta = (neck(y) - neck(x)).abs().amax(dim=1)[0]
    changed = torch.nonzero(delta > 0).flatten()
    return int(changed[-1] - changed[0] + 1)


@pytest.mark.parametrize('path', ABLATIONS, ids=lambda p: osp.basename(p)[:-3])
def test_ablation_config_builds(path, tmp_path):
    name = osp.splitext(osp.basename(path))[0]
    span, width, separate = EXPECTED[name]
    cfg = Config.fromfile(path)
    model = MODELS.build(cfg.model)
    neck = model.neck
    assert neck.in_channels == width == model.localizer.feat_dim
    for split in ('train', 'val', 'test'):
        assert cfg[f'{split}_dataloader'].dataset.feat_dim == width, split
    assert receptive_field(neck, width) == span
    if separate:
        assert cfg.default_hooks.sola_stage1.type == 'SoLaStage1Hook' and model.neck_frozen
        assert cfg.sola_stage1 is not None
        assert not any(p.requires_grad for p in neck.parameters())
        # stage 1 trains this very neck on these very features
        stage1 = stage1_config(cfg, dict(cfg.sola_stage1), cfg.model.neck, str(tmp_path))
        assert {k: v for k, v in stage1.model.neck.items() if k not in ('frozen', 'pretrained')} \
            == {k: v for k, v in cfg.model.neck.items() if k not in ('frozen', 'pretrained')}
        for loader in ('train_dataloader', 'val_dataloader'):  # SM windows, then the probe
            data = stage1[loader].dataset
            assert data.feat_dim == width, loader
            assert data.data_prefix == cfg.train_dataloader.dataset.data_prefix, loader
            assert data.feature_ext == cfg.train_dataloader.dataset.feature_ext, loader
    else:  # unified: the neck is trained by the localization loss, nothing is pretrained
        assert cfg.sola_stage1 is None and not model.neck_frozen
        assert all(p.requires_grad for p in neck.parameters())
        assert cfg.model.neck.get('pretrained') is None
