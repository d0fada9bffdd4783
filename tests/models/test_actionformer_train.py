"""ActionFormer configs: the official hyperparameters, and the real configs/sola_actionformer_thumos.py
pointed at THUMOS-layout demo data by --cfg-options: SoLa stage 1 + ActionFormer training +
evaluation (mAP@0.3:0.7 from TALDetectionMetric) in one `tools/train.py` command."""
import re

import pytest
import torch
from mmengine.config import Config

from sola_mm.engine.hooks.stage1 import read_stage1_marker
from tests.conftest import ROOT, run_tool


def test_configs_hold_the_official_settings():
    thumos = Config.fromfile(f'{ROOT}/configs/actionformer_thumos.py')
    loc = thumos.model.localizer
    assert (loc.type, loc.input_dim, loc.num_classes, loc.max_seq_len, loc.n_mha_win_size,
            loc.embd_dim, loc.backbone_arch, loc.max_buffer_len_factor, loc.use_abs_pe) == \
        ('ActionFormer', 2048, 20, 2304, 19, 512, (2, 2, 5), 6.0, False)
    assert loc.train_cfg.init_loss_norm == 100 and loc.train_cfg.loss_weight == 1.0
    assert (loc.test_cfg.voting_thresh, loc.test_cfg.pre_nms_topk, loc.test_cfg.max_seg_num,
            loc.test_cfg.min_score, loc.test_cfg.multiclass_nms) == (0.7, 2000, 200, 0.001, True)
    assert thumos.train_dataloader.batch_size == 2 and thumos.train_cfg.max_epochs == 35
    assert thumos.optim_wrapper.optimizer == dict(type='AdamW', lr=1e-4, weight_decay=0.05)
    assert thumos.optim_wrapper.constructor == 'DecayGroupsOptimWrapperConstructor'
    assert thumos.optim_wrapper.clip_grad.max_norm == 1.0
    assert [s.type for s in thumos.param_scheduler] == ['ZeroStartLinearLR', 'CosineAnnealingLR']
    assert thumos.custom_hooks[0].type == 'EMAHook' and thumos.custom_hooks[0].momentum == 0.001
    assert thumos.val_evaluator.tiou_thresholds == [0.3, 0.4, 0.5, 0.6, 0.7]

    anet = Config.fromfile(f'{ROOT}/configs/actionformer_anet.py')
    loc = anet.model.localizer
    assert (loc.input_dim, loc.num_classes, loc.max_seq_len, loc.n_mha_win_size, loc.embd_dim,
            loc.use_abs_pe, loc.max_buffer_len_factor) == \
        (512, 1, 192, [7, 7, 7, 7, 7, -1], 256, True, 1.0)
    assert (loc.train_cfg.label_smoothing, loc.train_cfg.loss_weight,
            loc.train_cfg.init_loss_norm) == (0.1, 2.0, 200)
    assert (loc.test_cfg.voting_thresh, loc.test_cfg.nms_sigma, loc.test_cfg.max_seg_num,
            loc.test_cfg.multiclass_nms, loc.test_cfg.duration_thresh) == \
        (0.9, 0.75, 100, False, 0.001)
    assert anet.train_dataloader.batch_size == 16 and anet.train_cfg.max_epochs == 15
    assert anet.optim_wrapper.optimizer.lr == 1e-3
    assert (anet.val_evaluator.fusion_score, anet.val_evaluator.fusion_top_k) == ('sqrt', 200)
    for name, base in (('sola_actionformer_thumos', thumos), ('sola_actionformer_anet', anet)):
        sola = Config.fromfile(f'{ROOT}/configs/{name}.py')
        assert sola.model.neck.type == 'SoLa' and sola.model.neck.frozen
        assert [h.type for h in sola.custom_hooks] == ['EMAHook', 'SoLaStage1Hook']
        assert {k: v for k, v in sola.model.localizer.items()
                if k not in ('resize_to', 'train_crop')} == base.model.localizer
    assert Config.fromfile(f'{ROOT}/configs/sola_actionformer_anet.py').model.localizer.resize_to \
        == 192


def _demo_options(work):
    """--cfg-options pointing the real THUMOS config at the demo data and shrinking it."""
    root = 'data/demo_thumos/'
    opts = []
    for split, subset in (('train', 'val'), ('val', 'test'), ('test', 'test')):
        d = f'{split}_dataloader.'
        opts += [f'{d}dataset.ann_file={root}{subset}_Annotation.csv', f'{d}dataset.subset=None',
                 f'{d}dataset.video_info_file={root}thumos14_{subset}_groundtruth.csv',
                 f'{d}dataset.data_prefix.feature={root}features_concat/',
                 f'{d}dataset.feat_dim=64', f'{d}dataset.snippet_stride=5',
                 f'{d}dataset.pipeline.0.feat_dim=64', f'{d}dataset.pipeline.1.feat_stride=5',
                 f'{d}dataset.pipeline.1.num_frames=0', f'{d}num_workers=0',
                 f'{d}persistent_workers=False']
    opts += ['train_dataloader.dataset.pipeline.2.max_seq_len=128', 'train_dataloader.batch_size=4',
             'model.localizer.input_dim=64', 'model.localizer.max_seq_len=128',
             'model.localizer.backbone_arch=[2,2,3]', 'model.localizer.n_mha_win_size=5',
             'model.localizer.embd_dim=16', 'model.localizer.fpn_dim=16',
             'model.localizer.head_dim=16',
             'model.localizer.regression_range=[[0,4],[4,8],[8,16],[16,10000]]',
             'model.neck.in_channels=64', 'model.neck.hidden_channels=16',
             'train_cfg.max_epochs=2', 'train_cfg.val_begin=2', 'param_scheduler.0.end=1',
             'param_scheduler.1.begin=1', 'param_scheduler.1.end=2', 'param_scheduler.1.T_max=1',
             'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=1',
             f'val_evaluator.ann_file={root}thumos_gt.json', 'val_evaluator.unknown_label=ignore',
             f'test_evaluator.ann_file={root}thumos_gt.json',
             'test_evaluator.unknown_label=ignore']
    stage1 = 'sola_stage1.cfg_options.'
    opts += [f'{stage1}train_dataloader.dataset.ann_file={root}thumos_val_lengths.json',
             f'{stage1}train_dataloader.dataset.data_prefix.feature={root}features_concat/',
             f'{stage1}train_dataloader.dataset.feat_dim=64',
             f'{stage1}train_dataloader.batch_size=16', f'{stage1}train_dataloader.num_workers=0',
             f'{stage1}train_dataloader.persistent_workers=False',
             f'{stage1}model.neck.in_channels=64', f'{stage1}model.neck.hidden_channels=16',
             f'{stage1}train_cfg.max_epochs=2', f'{stage1}default_hooks.checkpoint.interval=1']
    return opts


@pytest.mark.slow
def test_sola_actionformer_thumos_real_config_end_to_end(tmp_path):
    from sola_mm.datasets.demo_data import make_thumos_demo
    from tests.conftest import load_tool

    paths = make_thumos_demo(str(tmp_path / 'data/demo_thumos'), num_train=6, num_test=3,
                             feat_dim=64, num_classes=3, min_len=100, max_len=160)
    tool = load_tool('convert_features')
    for key, lengths in (('val_annotation', 'thumos_val_lengths.json'),
                         ('test_annotation', None)):
        tool.convert_streams(str(tmp_path / 'data/demo_thumos/features_concat'),
                             dict(flow=str(tmp_path / 'data/demo_thumos/features/flow'),
                                  rgb=str(tmp_path / 'data/demo_thumos/features/rgb')),
                             tool.video_names(paths[key]),
                             lengths_json=lengths and str(tmp_path / 'data/demo_thumos' / lengths))
    work = tmp_path / 'work'
    proc = run_tool([f'{ROOT}/tools/train.py', f'{ROOT}/configs/sola_actionformer_thumos.py',
                     '--work-dir', str(work), '--cfg-options'] + _demo_options(work),
                    cwd=str(tmp_path))
    log = proc.stdout + proc.stderr
    assert 'SoLa stage 1 (Similarity Matching) starts' in log
    assert re.search(r'Epoch\(val\) \[2\]\[\d+/\d+\].*mAP_avg: \d\.\d+.*mAP@0\.3: \d\.\d+', log), \
        log[-3000:]
    stage1 = torch.load(read_stage1_marker(str(work / 'sola_stage1')),
                        weights_only=True)['state_dict']
    stage2 = torch.load(str(work / 'epoch_2.pth'), weights_only=True)['state_dict']
    neck_keys = [k for k in stage2 if k.startswith('neck.')]
    assert neck_keys and all(torch.equal(stage1[k], stage2[k]) for k in neck_keys)
    assert 'localizer.reg_head.scale.3.scale' in stage2
    assert float(stage2['localizer.loss_normalizer']) != 100.0  # trained: the EMA moved


@pytest.mark.parametrize('name', ['actionformer_thumos_demo', 'sola_actionformer_thumos_demo',
                                  'actionformer_anet_demo', 'sola_actionformer_anet_demo'])
def test_demo_configs_build(name):
    from mmaction.registry import MODELS
    cfg = Config.fromfile(f'{ROOT}/configs/demo/{name}.py')
    model = MODELS.build(cfg.model)
    assert type(model.localizer).__name__ == 'ActionFormer'
    assert (model.neck is not None) == name.startswith('sola_')
    assert cfg.param_scheduler[1].end == cfg.train_cfg.max_epochs == 20
