"""The real configs/sola_gtad_anet.py, pointed at tiny data: SoLa stage 1 + G-TAD training +
detection evaluation in one `tools/train.py` command, with the frozen neck holding exactly the
stage-1 weights."""
import re

import torch

from sola_mm.engine.hooks.stage1 import read_stage1_marker
from mmengine.config import Config

from tests.conftest import ROOT, demo_cfg_options, run_tool, tiny_stage1_options

STAGE1 = tiny_stage1_options(2)
T = 16
GTAD_SMALL = [f'model.localizer.max_duration={T}', 'model.localizer.h_dim_1d=16',
              'model.localizer.h_dim_2d=8', 'model.localizer.h_dim_3d=16']


def gtad_cfg_options(paths):
    """The shared tiny-data options without BMN's model keys, plus a small G-TAD."""
    base = [o for o in demo_cfg_options(paths, temporal_scale=T)
            if not re.match(r'model\.localizer\.(num_samples|hidden_dim)', o)]
    return base + GTAD_SMALL


def test_configs_hold_the_official_settings():
    anet = Config.fromfile(f'{ROOT}/configs/sola_gtad_anet.py')
    loc = anet.model.localizer
    assert (loc.type, loc.variant, loc.feat_dim, loc.temporal_dim, loc.max_duration) == \
        ('GTAD', 'anet', 400, 100, 100)
    assert (loc.inner_bins, loc.context_bins, loc.kernel_2d, loc.soft_nms_sigma,
            loc.max_proposals) == (32, 4, 1, 0.8, 100)
    assert loc.loss_weights == dict(tem=1., pem_reg=10., pem_cls=1.) and loc.fused_sgalign
    assert anet.model.neck.type == 'SoLa' and anet.model.neck.frozen
    assert anet.optim_wrapper.optimizer.lr == 0.004 and anet.train_dataloader.batch_size == 16
    assert anet.train_cfg.max_epochs == 10 and anet.param_scheduler[0].milestones == [5]
    baseline = Config.fromfile(f'{ROOT}/configs/gtad_anet.py')
    assert 'neck' not in baseline.model and baseline.model.localizer == loc

    thumos = Config.fromfile(f'{ROOT}/configs/gtad_thumos.py')
    loc = thumos.model.localizer
    assert (loc.variant, loc.inner_bins, loc.context_bins, loc.kernel_2d, loc.max_duration,
            loc.soft_nms_sigma, loc.max_proposals, loc.max_proposal_frames) == \
        ('thumos', 16, 16, 3, 64, 0.46, 200, 300)
    assert loc.loss_weights == dict(tem=1., pem_reg=1., pem_cls=10.)
    assert loc.pem_cls_count_offset == 10.
    assert thumos.optim_wrapper.optimizer.lr == 4e-5 and thumos.train_dataloader.batch_size == 8
    assert thumos.optim_wrapper.clip_grad.max_norm == 1


def test_sola_gtad_real_config_trains_and_evaluates(tiny_anet, tmp_path):
    """Also the protocol: a user's `custom_hooks=[]` keeps stage 1 (it is a default hook of the
    SoLa base), and the checkpoint is chosen by the official G-TAD ANet rule, the lowest
    validation loss, named as such in the log."""
    work = tmp_path / 'work'
    args = ['tools/train.py', 'configs/sola_gtad_anet.py', '--work-dir', str(work),
            '--cfg-options'] + gtad_cfg_options(tiny_anet) + STAGE1 + ['custom_hooks=[]']
    proc = run_tool(args)
    log = proc.stdout + proc.stderr
    assert 'SoLa stage 1 (Similarity Matching) starts' in log
    assert 'protocol: checkpoint selection = lowest validation loss (val_loss)' in log
    assert re.search(r'Epoch\(val\) \[2\]\[\d+/\d+\].*val_loss: \d\.\d+', log), log[-3000:]
    assert (work / 'best_val_loss_epoch_2.pth').is_file()
    assert re.search(r'Epoch\(val\) \[2\]\[\d+/\d+\].*mAP_avg: \d\.\d+', log), log[-3000:]
    stage1 = torch.load(read_stage1_marker(str(work / 'sola_stage1')), weights_only=True)['state_dict']
    stage2 = torch.load(str(work / 'epoch_2.pth'), weights_only=True)['state_dict']
    neck_keys = [k for k in stage2 if k.startswith('neck.')]
    assert neck_keys and all(torch.equal(stage1[k], stage2[k]) for k in neck_keys)
    assert 'localizer.localization.8.weight' in stage2
    # no cached interpolation matrix or mask ends up in the checkpoint
    assert not any('bm_mask' in k for k in stage2)
