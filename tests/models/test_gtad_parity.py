"""G-TAD against the official code of both branches (tests/data/gtad/*.npz, copied from the G-TAD
oracles; produced by the unmodified official ``anet`` and ``master`` code in float64).

Model outputs, intermediates (incl. the SGAlign tensor and the kNN sets), labels, loss components,
input and parameter gradients, for the plain (official order) and the fused SGAlign paths.
"""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.structures import InstanceData

from mmaction.registry import MODELS, TRANSFORMS
from mmaction.structures import ActionDataSample
from sola_mm.models.localizers.gtad import convert_official_state_dict
from sola_mm.models.localizers.gtad.labels import (anet_labels, match_map,
                                                   normalize_anet_segments, proposal_mask,
                                                   thumos_window_anchors, thumos_window_gts,
                                                   thumos_window_labels, thumos_window_offset)
from sola_mm.models.localizers.gtad.loss import gtad_loss, pem_reg_loss
from sola_mm.models.ops.align1d import gtad_anchor_bounds

DATA = Path(__file__).resolve().parents[1] / 'data' / 'gtad'
FIXTURES = {'anet': 'gtad_anet_small.npz', 'thumos': 'gtad_thumos_small.npz'}
ATOL = 1e-10      # float64 model arrays (README: the recomputation matched to <= 4e-16)
LABEL_ATOL = 1e-6  # the official labels were cast to float32


@pytest.fixture(scope='module', params=['anet', 'thumos'])
def oracle(request):
    data = np.load(DATA / FIXTURES[request.param])
    cfg = json.loads(str(data['config_json']))
    return request.param, data, cfg


def build_model(variant, data, cfg, fused):
    model = MODELS.build(dict(
        type='GTAD', variant=variant, feat_dim=cfg['feat_dim'], temporal_dim=cfg['T'],
        max_duration=cfg['D'], h_dim_1d=cfg['h_dim_1d'], h_dim_2d=cfg['h_dim_2d'],
        h_dim_3d=cfg['h_dim_3d'], inner_bins=cfg['inner_bins'],
        context_bins=cfg['context_bins'], kernel_2d=cfg['kern_2d'],
        loss_weights=(dict(tem=1., pem_reg=10., pem_cls=1.) if variant == 'anet' else
                      dict(tem=1., pem_reg=1., pem_cls=10.)),
        pem_cls_count_offset=0. if variant == 'anet' else 10., fused_sgalign=fused)).double()
    state = convert_official_state_dict({k: data[k] for k in data.files if k.startswith('sd/')})
    model.load_state_dict(state, strict=True)
    return model


def loss_terms(variant, model, data, conf_map, start, end):
    """Our loss components in the oracle's ``loss_names`` order."""
    offset = 0. if variant == 'anet' else 10.
    w = model.loss_weights
    terms = gtad_loss(conf_map, start, end, torch.tensor(data['label_iou_map']),
                      torch.tensor(data['label_start']), torch.tensor(data['label_end']),
                      model.bm_mask, weights=(w['tem'], w['pem_reg'], w['pem_cls']),
                      pem_cls_count_offset=offset, rand_mid=data['pem_reg_rand_m'],
                      rand_low=data['pem_reg_rand_l'])
    terms['node'] = terms['tem']
    terms['subgraph'] = terms['pem_reg'] + 10 * terms['pem_cls']
    return terms


def test_official_settings_reachable_by_config(oracle):
    variant, _, cfg = oracle
    model = build_model(variant, np.load(DATA / FIXTURES[variant]), cfg, True)
    assert model.goi_align.inner_bins == (32 if variant == 'anet' else 16)
    assert model.goi_align.context_bins == (4 if variant == 'anet' else 16)
    assert model.localization[4].kernel_size == ((1, 1) if variant == 'anet' else (3, 3))
    assert model.localization[0].in_channels == cfg['h_dim_goi']


def test_anchors_and_mask(oracle):
    _, data, cfg = oracle
    T, D, B = cfg['T'], cfg['D'], cfg['B']
    starts, ends = gtad_anchor_bounds(T, D)  # [D, T]
    # official roi order: row = b * T * D + s * D + d
    rois = np.stack([np.repeat(np.arange(B), T * D), np.tile(starts.T.reshape(-1), B),
                     np.tile(ends.T.reshape(-1), B)], axis=1)
    np.testing.assert_array_equal(rois, data['anchors'])
    np.testing.assert_array_equal(proposal_mask(T, D), data['bm_mask'])
    xmin, xmax = match_map(T, D)
    np.testing.assert_array_equal(np.stack([xmin.reshape(-1), xmax.reshape(-1)], 1),
                                  data['match_map'])


@pytest.mark.parametrize('fused', [False, True], ids=['plain', 'fused'])
def test_outputs_and_intermediates(oracle, fused):
    variant, data, cfg = oracle
    model = build_model(variant, data, cfg, fused)
    x = torch.tensor(data['input'])
    with torch.no_grad():
        conf_map, start, end = model(x)
        inter = model.forward_intermediates(list(x.unbind(0)))
    for name, value in (('conf_map', conf_map), ('start', start), ('end', end)):
        np.testing.assert_allclose(value.numpy(), data[name], rtol=0, atol=ATOL, err_msg=name)
    for name in ('base_feature', 'gcnext_feature', 'context_feature', 'conf_map', 'start', 'end'):
        np.testing.assert_allclose(inter[name].numpy(), data[name], rtol=0, atol=ATOL,
                                   err_msg=name)
    np.testing.assert_allclose(inter['sgalign'][0].numpy(), data['sgalign_b0'], rtol=0, atol=ATOL)
    # invalid cells carry the aligned (0, 0) roi, not zeros (README fact 9)
    invalid = proposal_mask(cfg['T'], cfg['D']) == 0
    assert np.abs(data['sgalign_b0'][:, invalid]).max() > 0
    # kNN sets of the 5 graph calls (order within k is irrelevant)
    np.testing.assert_array_equal(np.sort(inter['knn_idx'].numpy(), -1),
                                  np.sort(data['knn_idx'], -1))


def test_labels(oracle):
    variant, data, cfg = oracle
    T, D = cfg['T'], cfg['D']
    if variant == 'anet':
        gts = data['gt_segments']
        for b, video in enumerate(cfg['videos']):
            norm = normalize_anet_segments(np.array(video['segments']), video['duration_second'],
                                           video['duration_frame'], video['feature_frame'])
            np.testing.assert_array_equal(norm, gts[gts[:, 0] == b][:, 3:])
            ours = anet_labels(norm, T, D)
            for name, value in zip(('label_iou_map', 'label_start', 'label_end'), ours):
                value32 = value.astype(np.float32)
                np.testing.assert_allclose(value32, data[name][b], rtol=0, atol=LABEL_ATOL)
                # the positive sets after the float32 cast (README 12b: exact ties at 0.5)
                for thr in (0.3, 0.5, 0.7, 0.9):
                    np.testing.assert_array_equal(value32 > thr, data[name][b] > thr)
        assert data['label_start'][1, 1] == 0.5 and data['label_end'][1, 14] == 0.5
        return
    gt_all = np.array(cfg['gt_frames_all'], dtype=np.float64)
    skip = cfg['skip_videoframes']
    for b, s0 in enumerate(data['all_windows_snippet_start'][:2].astype(int)):
        frames = skip * (s0 + np.arange(T))
        np.testing.assert_array_equal(frames, data['window_snippet_frames'][b])
        amin, amax = thumos_window_anchors(s0, skip, T)
        np.testing.assert_array_equal(amin, data['window_anchor_xmins'][b])
        np.testing.assert_array_equal(amax, data['window_anchor_xmaxs'][b])
        assert thumos_window_offset(s0, skip) == data['window_offset'][b]
        kept = data['gt_segments_frames']
        np.testing.assert_array_equal(thumos_window_gts(gt_all, s0, skip, T),
                                      kept[kept[:, 0] == b][:, 1:])
        ours = thumos_window_labels(gt_all, s0, skip, T, D)
        for name, value in zip(('label_iou_map', 'label_start', 'label_end'), ours):
            value32 = value.astype(np.float32)
            np.testing.assert_allclose(value32, data[name][b], rtol=0, atol=LABEL_ATOL)
            for thr in (0.3, 0.5, 0.7, 0.9):
                np.testing.assert_array_equal(value32 > thr, data[name][b] > thr)
    # README 12b: float64 0.9000000000000004 becomes float32 0.89999998, not a pem_cls positive
    iou64 = thumos_window_labels(gt_all, 0, skip, T, D)[0]
    assert iou64[3, 28] > 0.9 and not np.float32(iou64[3, 28]) > 0.9


def test_model_input_from_stored_features(oracle, tmp_path):
    """The configs' loading transform gives the official model input: ActivityNet videos are
    resampled to T (video 1: 23 -> 16 snippets); THUMOS windows are flow then rgb, every 5th
    frame."""
    variant, data, cfg = oracle
    if variant == 'anet':
        for b in range(cfg['B']):
            path = tmp_path / f'v{b}.npy'
            np.save(path, data[f'raw_feature_{b}'])
            out = TRANSFORMS.build(dict(type='LoadTALFeature', feat_dim=cfg['feat_dim'],
                                        temporal_scale=cfg['T'])).transform(
                dict(feature_path=str(path), video_name=f'v{b}'))
            np.testing.assert_array_equal(out['raw_feature'], data['input'][b])
        return
    skip = cfg['skip_videoframes']
    for stream in ('flow', 'rgb'):
        (tmp_path / stream).mkdir()
        np.save(tmp_path / stream / f"{cfg['video']}.npy", data[f'raw_{stream}'])
    for b, s0 in enumerate(data['all_windows_snippet_start'][:2].astype(int)):
        out = TRANSFORMS.build(dict(
            type='LoadTALFeature', feat_dim=cfg['feat_dim'], stride=skip,
            streams=dict(flow=str(tmp_path / 'flow'), rgb=str(tmp_path / 'rgb')))).transform(
            dict(video_name=cfg['video'], window_start_snippet=s0, window_snippets=cfg['T']))
        np.testing.assert_array_equal(out['raw_feature'], data['input'][b])


def samples_for(variant, data, cfg):
    """Data samples as the datasets produce them (ANet: normalised gt_bbox; THUMOS: window
    metainfo in frames)."""
    out = []
    for b in range(cfg['B']):
        sample = ActionDataSample()
        if variant == 'anet':
            gts = data['gt_segments']
            sample.gt_instances = InstanceData(gt_bbox=torch.tensor(gts[gts[:, 0] == b][:, 3:]))
            sample.set_metainfo(dict(video_name=cfg['videos'][b]['name']))
        else:
            s0 = int(data['all_windows_snippet_start'][b])
            sample.set_metainfo(dict(video_name=cfg['video'], window_start_snippet=s0,
                                     snippet_stride=cfg['skip_videoframes'],
                                     gt_frames=np.array(cfg['gt_frames_all'], dtype=float)))
        out.append(sample)
    return out


def test_generate_labels_from_data_samples(oracle):
    variant, data, cfg = oracle
    model = build_model(variant, data, cfg, True)
    iou, start, end = model.generate_labels(samples_for(variant, data, cfg), torch.device('cpu'))
    assert iou.dtype == torch.float32
    for name, value in (('label_iou_map', iou), ('label_start', start), ('label_end', end)):
        np.testing.assert_allclose(value.double().numpy(), data[name], rtol=0, atol=LABEL_ATOL)


@pytest.mark.parametrize('fused', [False, True], ids=['plain', 'fused'])
def test_loss_components_and_gradients(oracle, fused):
    variant, data, cfg = oracle
    model = build_model(variant, data, cfg, fused)
    x = torch.tensor(data['input'], requires_grad=True)
    conf_map, start, end = model(x)
    terms = loss_terms(variant, model, data, conf_map, start, end)
    np.testing.assert_array_equal(terms['pem_reg_weights'].numpy(), data['pem_reg_weights'])
    for i, name in enumerate(data['loss_names']):
        value = terms[str(name)].item()
        assert value == pytest.approx(data['loss_f64'][i], abs=ATOL), name
        # the official float32 arithmetic (README fact 18)
        assert value == pytest.approx(data['loss_official'][i], abs=2e-7), name
    terms['total'].backward()
    np.testing.assert_allclose(x.grad.numpy(), data['grad_input_f64'], rtol=0, atol=ATOL)
    grads = {k[len('grad/'):]: data[k] for k in data.files if k.startswith('grad/')}
    assert set(grads) == {n for n, _ in model.named_parameters()}
    for name, param in model.named_parameters():
        np.testing.assert_allclose(param.grad.numpy(), grads[name], rtol=0, atol=ATOL,
                                   err_msg=name)


def test_model_loss_reproduces_official_total(oracle):
    """mode='loss' end to end: labels from data samples, ``np.random`` draws seeded like the
    official run (seed 0 right before the loss)."""
    variant, data, cfg = oracle
    model = build_model(variant, data, cfg, True)
    np.random.seed(cfg['loss_numpy_seed'])
    losses = model(torch.tensor(data['input']), samples_for(variant, data, cfg), mode='loss')
    total = sum(losses.values()).item()
    assert total == pytest.approx(data['loss_f64'][0], abs=ATOL)
    w = model.loss_weights
    names = list(data['loss_names'])
    reg = data['loss_f64'][names.index('pem_reg')]
    cls = data['loss_f64'][names.index('pem_cls')]
    assert losses['loss_pem_reg'].item() == pytest.approx(w['pem_reg'] * reg, abs=ATOL)
    assert losses['loss_pem_cls'].item() == pytest.approx(w['pem_cls'] * cls, abs=ATOL)


def test_pem_reg_draws_follow_numpy_seed(oracle):
    variant, data, cfg = oracle
    np.random.seed(cfg['loss_numpy_seed'])
    gt = torch.tensor(data['label_iou_map']) * torch.tensor(data['bm_mask'])
    pred = torch.zeros_like(gt)
    _, weights = pem_reg_loss(pred, gt, torch.tensor(data['bm_mask']))
    np.testing.assert_array_equal(weights.numpy(), data['pem_reg_weights'])
    np.random.seed(cfg['loss_numpy_seed'])
    np.testing.assert_array_equal(np.random.rand(*gt.shape), data['pem_reg_rand_m'])
    np.testing.assert_array_equal(np.random.rand(*gt.shape), data['pem_reg_rand_l'])


def test_variant_selects_its_official_loss_and_nms_defaults():
    small = dict(type='GTAD', feat_dim=8, temporal_dim=16, max_duration=8, h_dim_1d=8,
                 h_dim_2d=4, h_dim_3d=8)
    thumos = MODELS.build(dict(small, variant='thumos'))
    assert thumos.loss_weights == dict(tem=1., pem_reg=1., pem_cls=10.)
    assert (thumos.pem_cls_count_offset, thumos.soft_nms_sigma, thumos.max_proposals) == \
        (10., 0.46, 200)
    anet = MODELS.build(dict(small, max_duration=16, loss_weights=dict(pem_cls=2.)))
    assert anet.loss_weights == dict(tem=1., pem_reg=10., pem_cls=2.)
    assert (anet.pem_cls_count_offset, anet.soft_nms_sigma, anet.max_proposals) == (0., 0.8, 100)
    with pytest.raises(ValueError, match="unknown loss_weights keys \\['reg'\\]"):
        MODELS.build(dict(small, max_duration=16, loss_weights=dict(reg=1.)))


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match='max_duration must equal temporal_dim'):
        MODELS.build(dict(type='GTAD', variant='anet', temporal_dim=16, max_duration=8))
    with pytest.raises(ValueError, match='multiple of 4'):
        MODELS.build(dict(type='GTAD', feat_dim=10))
    model = MODELS.build(dict(type='GTAD', feat_dim=8, temporal_dim=8, max_duration=8,
                              h_dim_1d=8, h_dim_2d=4, h_dim_3d=8))
    with pytest.raises(ValueError, match=r'feat_dim=8, temporal_dim=8\], got \[2, 8, 9\]'):
        model(torch.zeros(2, 8, 9))
    sample = ActionDataSample()
    sample.set_metainfo(dict(video_name='v_x'))
    with pytest.raises(KeyError, match="'v_x'.*gt_instances.gt_bbox"):
        model(torch.zeros(1, 8, 8), [sample], mode='loss')
