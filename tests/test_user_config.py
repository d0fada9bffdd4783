"""A user's own MMAction2 config gets SoLa by config alone (configs/examples/)."""
from pathlib import Path

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.utils import import_modules_from_strings

CONFIG = Path(__file__).resolve().parents[1] / 'configs' / 'examples' / 'mmaction_bmn_plus_sola.py'


def test_mmaction_bmn_config_plus_sola_builds_and_freezes_the_neck():
    cfg = Config.fromfile(str(CONFIG))  # resolves the mmaction:: base from the installed package
    import_modules_from_strings(**cfg.custom_imports)
    init_default_scope('mmaction')
    from mmaction.registry import HOOKS, MODELS
    assert cfg.model.localizer.type == 'BMN' and cfg.model.localizer.feat_dim == 400
    assert HOOKS.get(cfg.default_hooks.sola_stage1['type']) is not None
    cfg.model.localizer.temporal_dim = 16  # the real 100 works too; 16 keeps the test fast
    model = MODELS.build(cfg.model)
    assert not any(p.requires_grad for p in model.neck.parameters())
    assert any(p.requires_grad for p in model.localizer.parameters())
    out = model(torch.randn(2, 400, 16), mode='tensor')
    assert out[0].shape == (2, 2, 16, 16)
