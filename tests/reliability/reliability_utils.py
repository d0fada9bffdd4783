"""Helpers of the reliability tests: tiny configs, subprocess runs, reading results.

A plain module (not conftest.py) so that test files import it by a name no other test
folder uses.
"""
from __future__ import annotations

import glob
import json
import os
import os.path as osp
import subprocess
import sys
import textwrap

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TRAIN = osp.join(ROOT, 'tools', 'train.py')
TEST = osp.join(ROOT, 'tools', 'test.py')
FEAT_DIM, T = 32, 16


def write_config(path: str, data: str, sola: bool = False, extra: str = '',
                 max_epochs: int = 2, stage1_epochs: int = 4, batch_size: int = 4,
                 stage1_extra: str = '', neck_extra: str = '') -> str:
    """A tiny BMN (or SoLa + BMN) config on ``data``; ``extra`` is appended verbatim,
    ``neck_extra`` goes into the SoLa neck's dict (e.g. ``', frozen=False'``)."""
    base = 'sola_bmn_demo.py' if sola else 'bmn_demo.py'
    neck = (f", neck=dict(type='SoLa', in_channels={FEAT_DIM}, hidden_channels=16{neck_extra})"
            if sola else '')
    text = f'''
    _base_ = [{osp.join(ROOT, 'configs', 'demo', base)!r}]
    custom_imports = dict(imports=['sola_mm', 'sola_mm.engine.hooks.fault_injection'],
                          allow_failed_imports=False)
    data_root = {data + '/'!r}
    feature_dir = data_root + 'features/'
    load = dict(type='LoadTALFeature', feat_dim={FEAT_DIM}, temporal_scale={T})
    train_pipeline = [load, dict(type='GenerateLocalizationLabels'),
                      dict(type='PackLocalizationInputs', keys=('gt_bbox', ),
                           meta_keys=('video_name', ))]
    val_pipeline = [load, dict(type='GenerateLocalizationLabels'),
                    dict(type='PackLocalizationInputs', keys=('gt_bbox', ),
                         meta_keys=('video_name', 'duration_second', 'duration_frame',
                                    'feature_frame', 'annotations'))]
    train_dataloader = dict(batch_size={batch_size}, dataset=dict(
        ann_file=data_root + 'anet_anno_train.json', data_prefix=dict(feature=feature_dir),
        pipeline=train_pipeline))
    val_dataloader = dict(dataset=dict(
        ann_file=data_root + 'anet_anno_val.json', data_prefix=dict(feature=feature_dir),
        pipeline=val_pipeline))
    test_dataloader = val_dataloader
    model = dict(localizer=dict(temporal_dim={T}, feat_dim={FEAT_DIM}, num_samples=4,
                                hidden_dim_1d=16, hidden_dim_2d=16, hidden_dim_3d=16){neck})
    train_cfg = dict(max_epochs={max_epochs}, val_interval={max_epochs})
    param_scheduler = [dict(type='MultiStepLR', begin=0, end={max_epochs}, by_epoch=True,
                            milestones=[{max_epochs - 1}], gamma=0.1)]
    default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=1, max_keep_ckpts=3))
    val_evaluator = dict(ann_file=data_root + 'anet_anno_val.json',
                         classifier_file=data_root + 'cuhk_val_simp_share.json')
    test_evaluator = val_evaluator
    '''
    if sola:
        text += f'''
    sola_stage1 = dict(cfg_options={{
        'train_cfg.max_epochs': {stage1_epochs},
        'train_dataloader.batch_size': 8,
        'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'train_dataloader.dataset.window': 12,
        'model.projector_hidden': 16,
        'model.loss.num_positions': 4,
        'default_hooks.checkpoint.interval': 1,
        'default_hooks.logger.interval': 1,{stage1_extra}
    }})
    '''
    with open(path, 'w') as f:
        f.write(textwrap.dedent(text) + textwrap.dedent(extra))
    return path


def run_tool(args, cwd: str, env: dict = None, timeout: int = 240) -> subprocess.CompletedProcess:
    """Run ``python <args>`` in ``cwd`` (results.json lands there), single-threaded torch."""
    full_env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1',
                    PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    full_env.update(env or {})
    os.makedirs(cwd, exist_ok=True)
    return subprocess.run([sys.executable] + list(args), cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


def train(config: str, work_dir: str, *extra, env: dict = None, expect_rc: int = 0):
    proc = run_tool([TRAIN, config, '--work-dir', work_dir, *extra], cwd=work_dir, env=env)
    if expect_rc is not None and proc.returncode != expect_rc:
        raise AssertionError(f'train.py exited {proc.returncode} (expected {expect_rc}):\n'
                             f'{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}')
    return proc


def final_metrics(work_dir: str) -> dict:
    """The last validation metrics logged in any run (timestamp folder) of ``work_dir``."""
    found = []
    for path in glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')):
        with open(path) as f:
            for line in f:
                record = json.loads(line)
                if 'AUC' in record:
                    found.append((record.get('step', 0), osp.getmtime(path), record))
    assert found, f'no validation metrics in {work_dir}'
    record = max(found, key=lambda item: (item[0], item[1]))[2]
    return {k: v for k, v in record.items()
            if k in ('mAP_avg', 'AUC', 'AR@1', 'AR@5', 'AR@10', 'AR@100')}


def last_checkpoint(work_dir: str) -> str:
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


def final_state(work_dir: str) -> dict:
    from sola_mm.engine.checkpoint import load_checkpoint_file, state_dict_of
    return state_dict_of(load_checkpoint_file(last_checkpoint(work_dir)))
