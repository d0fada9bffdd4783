"""SoLa on the whole native-length video (the authors' process_feature order), equality tests:
stage 2 of a SoLa config trained on the fly equals the baseline config trained on the
tools/enhance_features.py export of the same frozen SoLa (native-length features exported whole),
for ActivityNet-layout videos resized to temporal_scale and for THUMOS sliding windows: same
losses at every step, same weights after the steps, same predictions and metrics."""
import copy
import itertools
import os
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from tools_test_utils import ROOT

from sola_mm.datasets.demo_data import make_anet_demo, make_thumos_demo

WIDTH = 16
STEPS = 4


def _neck_checkpoint(path):
    """A stage-1 checkpoint whose SoLa is far from the identity."""
    from mmaction.registry import MODELS
    torch.manual_seed(3)
    neck = MODELS.build(dict(type='SoLa', in_channels=WIDTH, hidden_channels=24))
    with torch.no_grad():
        neck.alpha.fill_(0.9)
        neck.conv_out.weight.mul_(4.0)
    torch.save(dict(state_dict={f'neck.{k}': v for k, v in neck.state_dict().items()}), path)
    return str(path)


def _config(name, **options):
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'demo', name))
    cfg.merge_from_dict(options)
    cfg.test_evaluator.unknown_label = 'ignore'  # tiny val sets miss some classes
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].sampler = dict(type='DefaultSampler', shuffle=False)
        cfg[key].batch_size = 3
        for step in cfg[key].dataset.get('pipeline', []):
            if step.get('feat_dim'):
                step.feat_dim = cfg[key].dataset.feat_dim
    return cfg


def _train_and_test(cfg, localizer_init, checkpoint=None):
    """STEPS optimizer steps of the config's model on its train data (same RNG draws for every
    config), then predictions and metrics on its test data."""
    from mmaction.registry import MODELS
    from mmengine.evaluator import Evaluator
    from mmengine.runner import Runner
    model = MODELS.build(cfg.model)
    if checkpoint:
        model.neck.load_pretrained(checkpoint)
    model.localizer.load_state_dict(localizer_init)
    params = [p for p in model.parameters() if p.requires_grad]
    assert all(p is not q for p in params for q in (model.neck.parameters() if model.neck
                                                     else []))
    optimizer = torch.optim.Adam(params, lr=1e-3)
    loader = Runner.build_dataloader(copy.deepcopy(cfg.train_dataloader), seed=0)
    torch.manual_seed(0)
    np.random.seed(0)
    model.train()
    losses = []
    for batch in itertools.islice(itertools.cycle(loader), STEPS):
        data = model.data_preprocessor(batch, True)
        loss, _ = model.parse_losses(model(**data, mode='loss'))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    evaluator = Evaluator(copy.deepcopy(cfg.test_evaluator))
    test_loader = Runner.build_dataloader(copy.deepcopy(cfg.test_dataloader), seed=0)
    evaluator.dataset_meta = getattr(test_loader.dataset, 'metainfo', None)
    proposals = []
    with torch.no_grad():
        for batch in test_loader:
            outputs = model.test_step(batch)
            proposals.extend(np.asarray([[*p['segment'], p['score']] for p in out['proposal_list']])
                             if isinstance(out, dict) else out for out in outputs)
            evaluator.process(data_samples=outputs, data_batch=batch)
    metrics = evaluator.evaluate(len(test_loader.dataset))
    return model, losses, proposals, metrics


def _compare(native_cfg, baseline_cfg, checkpoint, what):
    """Train both configs from the same G-TAD initialisation; they must agree, and the old order
    must not. Prints the figures (pytest -s). Returns the on-the-fly model."""
    from mmaction.registry import MODELS
    torch.manual_seed(0)
    init = MODELS.build(baseline_cfg.model).localizer.state_dict()
    native = _train_and_test(native_cfg, init, checkpoint)
    export = _train_and_test(baseline_cfg, init)
    _assert_same_training(native, export)
    old = _assert_old_order_differs(native_cfg, init, checkpoint, export)
    weights = max(float((a - b).abs().max()) for a, b in zip(
        native[0].localizer.state_dict().values(), export[0].localizer.state_dict().values()))
    gap = np.abs(np.subtract(native[1], export[1])).max()
    print(f'\n{what}: losses on the fly {np.round(native[1], 6).tolist()}, on the export '
          f'{np.round(export[1], 6).tolist()} (max |diff| {gap:.2e}'
          f', old order {old:.2e}); max |weight diff| {weights:.2e}; mAP_avg '
          f'{native[3].get("mAP_avg"):.6f} vs {export[3].get("mAP_avg"):.6f}')
    return native[0]


def _assert_same_training(native, export):
    (m1, losses1, props1, metrics1), (m2, losses2, props2, metrics2) = native, export
    np.testing.assert_allclose(losses1, losses2, rtol=1e-5, atol=1e-6)
    for (name, a), b in zip(m1.localizer.state_dict().items(), m2.localizer.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6, msg=name)
    assert len(props1) == len(props2)
    for a, b in zip(props1, props2):
        if isinstance(a, np.ndarray):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    assert metrics1.keys() == metrics2.keys()
    for key in metrics1:
        assert metrics1[key] == pytest.approx(metrics2[key], abs=1e-6), key


def _assert_old_order_differs(native_cfg, init, checkpoint, result_export):
    """The order before this fix (neck_input=None: the neck after the resize / on the zero-padded
    window) does not match the export: the equality above is not a tautology."""
    old = copy.deepcopy(native_cfg)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        old[key].dataset.neck_input = None
    losses = _train_and_test(old, init, checkpoint)[1]
    gap = float(np.abs(np.array(losses) - result_export[1]).max())
    assert gap > 1e-4
    return gap


def _export(config, checkpoint, src, dst, width):
    import enhance_features
    enhance_features.main([config, checkpoint, '--in', src, '--out', dst, '--no-progress',
                           '--cfg-options', f'model.neck.in_channels={width}',
                           'model.neck.hidden_channels=24'])


def test_anet_on_the_fly_equals_exported_features(tmp_path, monkeypatch):
    """ANet layout, native lengths 20-56 resized to temporal_scale 32: SoLa config on the raw
    features == baseline config on the exported SoLa features."""
    monkeypatch.chdir(tmp_path)
    paths = make_anet_demo('data/demo_anet', num_train=9, num_val=6, feat_dim=WIDTH,
                           num_classes=3, min_len=20, max_len=56, seed=4)
    checkpoint = _neck_checkpoint(tmp_path / 'sola.pth')
    data = {f'{k}.dataset.feat_dim': WIDTH
            for k in ('train_dataloader', 'val_dataloader', 'test_dataloader')}
    small = {'model.localizer.feat_dim': WIDTH, 'model.localizer.h_dim_1d': 16,
             'model.localizer.h_dim_2d': 8, 'model.localizer.h_dim_3d': 16}
    native = _config('sola_gtad_demo.py', **data, **small,
                     **{'model.neck.in_channels': WIDTH, 'model.neck.hidden_channels': 24})
    assert native.train_dataloader.dataset.neck_input == 'native'
    exported_dir = str(tmp_path / 'sola_features')
    _export(osp.join(ROOT, 'configs', 'demo', 'sola_gtad_demo.py'), checkpoint,
            paths['features'], exported_dir, WIDTH)
    feats = {f'{k}.dataset.data_prefix.feature': exported_dir + '/'
             for k in ('train_dataloader', 'val_dataloader', 'test_dataloader')}
    baseline = _config('gtad_demo.py', **data, **small, **feats)
    assert baseline.model.get('neck') is None and 'neck_input' not in baseline.train_dataloader.dataset
    model = _compare(native, baseline, checkpoint, 'ANet')
    # the frozen neck ran once per video: the second pass over the data came from the cache
    assert len(model.neck_cache) == 9 + 6 and model.neck_cache.hits > 0


@pytest.mark.parametrize('context', [16, None])
def test_thumos_windows_on_the_fly_equal_exported_features(tmp_path, monkeypatch, context):
    """THUMOS layout (flow + rgb streams, windows of 32 snippets at stride 16, G-TAD's tail rule):
    SoLa config on the raw streams (the neck sees the window with `context` real snippets on each
    side, or the whole video) == baseline config on the exported whole-video SoLa features cut into
    the same windows."""
    monkeypatch.chdir(tmp_path)
    paths = make_thumos_demo('data/demo_thumos', num_train=4, num_test=3, feat_dim=WIDTH,
                             num_classes=3, min_len=60, max_len=110, seed=2)
    concat = tmp_path / 'concat'
    concat.mkdir()
    for name in os.listdir(osp.join(paths['features'], 'flow')):
        streams = [np.load(osp.join(paths['features'], s, name)) for s in ('flow', 'rgb')]
        np.save(concat / name, np.concatenate(streams, axis=1))
    checkpoint = _neck_checkpoint(tmp_path / 'sola.pth')
    small = {'model.localizer.feat_dim': WIDTH, 'model.localizer.h_dim_1d': 16,
             'model.localizer.h_dim_2d': 8, 'model.localizer.h_dim_3d': 16}
    loaders = ('train_dataloader', 'val_dataloader', 'test_dataloader')
    native = _config('sola_gtad_thumos_demo.py', **small,
                     **{f'{k}.dataset.feat_dim': WIDTH for k in loaders},
                     **{f'{k}.dataset.neck_context': context for k in loaders},
                     **{'model.neck.in_channels': WIDTH, 'model.neck.hidden_channels': 24})
    exported_dir = str(tmp_path / 'sola_features')
    _export(osp.join(ROOT, 'configs', 'demo', 'sola_gtad_thumos_demo.py'), checkpoint,
            str(concat), exported_dir, WIDTH)
    baseline = _config('gtad_thumos_demo.py', **small,
                       **{f'{k}.dataset.feat_dim': WIDTH for k in loaders},
                       **{f'{k}.dataset.data_prefix': dict(feature=exported_dir + '/')
                          for k in loaders})
    for key in loaders:
        baseline[key].dataset.streams = None
    _compare(native, baseline, checkpoint, f'THUMOS windows, neck_context={context}')


def test_linear_eval_probes_a_native_sola_config_at_native_length(monkeypatch):
    """tools/linear_eval.py on a SoLa config probes the native lengths its neck sees (as the
    stage-1 probe does); on a baseline config, the config's temporal_scale."""
    import sola_mm.apis.linear_eval as linear_eval
    seen = []

    def record(ann_file, **load):
        seen.append(load['temporal_scale'])
        raise StopIteration

    monkeypatch.setattr(linear_eval, 'load_videos', record)
    for name in ('sola_bmn_demo.py', 'bmn_demo.py'):
        with pytest.raises(StopIteration):
            linear_eval.run_linear_eval(Config.fromfile(osp.join(ROOT, 'configs', 'demo', name)))
    assert seen == [None, 32]
