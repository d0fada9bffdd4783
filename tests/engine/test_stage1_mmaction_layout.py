"""SoLaStage1Hook's inherit=True on MMAction2's own dataset layout (configs/examples/): stage 1
reads ``data_prefix.feature``, MMAction2's ``ActivityNetDataset`` names ``data_prefix.video``."""
import os

import pytest
from mmengine.config import Config

from sola_mm.engine.hooks.stage1 import stage1_config
from tests.conftest import ROOT

EXAMPLE = os.path.join(ROOT, 'configs', 'examples', 'mmaction_bmn_plus_sola.py')


def test_mmaction_video_prefix_becomes_the_stage1_feature_folder(tmp_path):
    cfg = Config.fromfile(EXAMPLE)
    cfg.model.localizer.temporal_dim = 16
    cfg.model.neck.in_channels = 32
    stage1 = stage1_config(cfg, dict(cfg.sola_stage1), cfg.model.neck, str(tmp_path))
    train = stage1.train_dataloader.dataset
    folder = 'data/ActivityNet/activitynet_feature_cuhk/csv_mean_100/'
    assert dict(train.data_prefix) == dict(feature=folder)
    assert train.feature_ext == '.csv' and train.feat_dim == 32 and train.temporal_scale == 16
    probe = stage1.val_dataloader.dataset
    assert dict(probe.data_prefix) == dict(feature=folder) and probe.feature_ext == '.csv'
    assert probe.train_ann_file == 'data/ActivityNet/anet_anno_train.json'
    assert probe.ann_file == 'data/ActivityNet/anet_anno_val.json'


def test_a_layout_without_feature_folder_is_a_clear_error(tmp_path):
    cfg = Config.fromfile(EXAMPLE)
    cfg.train_dataloader.dataset.data_prefix = dict(img='x/')
    with pytest.raises(ValueError, match='names no feature folder.*data_prefix.video'):
        stage1_config(cfg, dict(cfg.sola_stage1), cfg.model.neck, str(tmp_path))
