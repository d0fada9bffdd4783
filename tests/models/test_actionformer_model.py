"""ActionFormer as a sola_mm localizer: variable-length batches through NeckLocalizer (SoLa per
video), predict dicts for the metric, resize / crop after a neck, official checkpoints, errors."""
import numpy as np
import pytest
import torch
from mmengine.structures import InstanceData

from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from sola_mm.models.localizers.actionformer import ActionFormer, convert_official_state_dict

TINY = dict(type='ActionFormer', input_dim=8, num_classes=3, max_seq_len=64,
            backbone_arch=(2, 2, 3), n_mha_win_size=5, embd_dim=16, fpn_dim=16, head_dim=16,
            regression_range=[(0, 4), (4, 8), (8, 16), (16, 10000)],
            class_names=['a', 'b', 'c'])


def _sample(name, segs, labels, **meta):
    s = ActionDataSample()
    s.gt_instances = InstanceData(gt_segments=torch.tensor(segs, dtype=torch.float32),
                                  gt_labels=torch.tensor(labels))
    s.set_metainfo(dict(video_name=name, fps=30.0, duration=10.0, feat_stride=4.0,
                        feat_num_frames=16.0, feat_offset=2.0, **meta))
    return s


def _videos(lengths, channels=8):
    g = torch.Generator().manual_seed(0)
    return [torch.randn(channels, n, generator=g) for n in lengths]


def test_neck_localizer_passes_variable_length_videos():
    """SoLa runs on each whole video, ActionFormer pads / masks the batch itself; a stacked batch
    of the same videos padded by hand would not give the neck the same inputs."""
    model = MODELS.build(dict(type='NeckLocalizer', localizer=TINY,
                              neck=dict(type='SoLa', in_channels=8, hidden_channels=8,
                                        frozen=True)))
    model.neck.load_state_dict(model.neck.state_dict())  # as if stage 1 had handed them over
    feats = _videos([40, 64, 23])
    samples = [_sample(f'v{i}', [[2.0, 9.5]], [i]) for i in range(3)]
    out = model.extract_feat(feats)
    assert [tuple(o.shape) for o in out] == [(8, 40), (8, 64), (8, 23)]
    torch.testing.assert_close(out[2], model.neck(feats[2][None])[0])
    model.train()
    losses = model(feats, samples, mode='loss')
    assert set(losses) == {'loss_cls', 'loss_reg'} and torch.isfinite(sum(losses.values()))
    sum(losses.values()).backward()
    assert model.localizer.cls_head.cls_head.conv.weight.grad is not None
    assert all(p.grad is None for p in model.neck.parameters())  # frozen


def test_predict_dicts_in_seconds_with_class_names():
    model = MODELS.build(dict(type='NeckLocalizer', localizer=dict(
        TINY, test_cfg=dict(pre_nms_thresh=0.0, min_score=0.0))))
    model.eval()
    feats = _videos([70, 30])  # 70 > max_seq_len: padded to a multiple of max_div_factor
    samples = [_sample('v0', [], []), _sample('v1', [], [])]
    with torch.no_grad():
        preds = model(feats, samples, mode='predict')
    assert [p['video_name'] for p in preds] == ['v0', 'v1']
    for p in preds:
        assert p['fps'] == 30.0 and p['duration_second'] == 10.0 and p['proposal_list']
        seg = np.array([q['segment'] for q in p['proposal_list']])
        assert (seg >= 0).all() and (seg <= 10.0).all() and (seg[:, 1] >= seg[:, 0]).all()
        assert {q['label'] for q in p['proposal_list']} <= {'a', 'b', 'c'}
        scores = [q['score'] for q in p['proposal_list']]
        assert scores == sorted(scores, reverse=True)


def test_predict_without_labels_for_one_class():
    model = ActionFormer(**{k: v for k, v in TINY.items() if k not in ('type', 'class_names')},
                         ).eval()
    model.num_classes = 1  # label-free dicts: the metric fuses a video classifier
    det = dict(segments=torch.tensor([[1.0, 2.0]]), scores=torch.tensor([0.5]),
               labels=torch.tensor([0]))
    d = model.predict_dict(det, dict(video_name='v', fps=15.0, duration=3.0))
    assert d['proposal_list'] == [dict(segment=[1.0, 2.0], score=0.5)]


def test_resize_and_crop_after_the_neck():
    cfg = {k: v for k, v in TINY.items() if k != 'type'}
    model = ActionFormer(resize_to=64, train_crop=dict(trunc_thresh=0.5, crop_ratio=[0.9, 1.0]),
                         **cfg)
    feat = _videos([37])[0]
    resized = model.resize(feat)
    ref = torch.nn.functional.interpolate(feat[None], 64, mode='linear', align_corners=False)[0]
    assert torch.equal(resized, ref) and model.resize(resized) is resized
    import random
    random.seed(3)
    cropped, (seg, lab) = model.crop(resized, (torch.tensor([[10.0, 30.0]]), torch.tensor([1])),
                                     _sample('v', [], [], feat_offset_unused=0))
    assert 57 <= cropped.shape[-1] <= 64 and len(seg) == len(lab) == 1
    model.train()
    losses = model([feat, _videos([90])[0]], [_sample('a', [[3.0, 20.0]], [0]),
                                              _sample('b', [[40.0, 60.0]], [2])], mode='loss')
    assert torch.isfinite(losses['loss_cls'] + losses['loss_reg'])
    with pytest.raises(ValueError, match='train_crop needs resize_to'):
        ActionFormer(train_crop=dict(crop_ratio=[0.9, 1.0]), **cfg)


def test_official_checkpoint_layout_loads():
    cfg = {k: v for k, v in TINY.items() if k != 'type'}
    src = ActionFormer(**cfg)
    ckpt = {'epoch': 3, 'state_dict': {}, 'state_dict_ema': {
        'module.' + k: v.clone() + 1 for k, v in src.state_dict().items()
        if k != 'loss_normalizer'}}
    dst = ActionFormer(**cfg)
    missing, unexpected = dst.load_state_dict(convert_official_state_dict(ckpt), strict=False)
    assert missing == ['loss_normalizer'] and not unexpected
    torch.testing.assert_close(dst.reg_head.scale[0].scale, src.reg_head.scale[0].scale + 1)
    wrapped = convert_official_state_dict(ckpt, prefix='localizer.')
    assert all(k.startswith('localizer.') for k in wrapped)


def test_bad_inputs_name_the_video_and_field():
    cfg = {k: v for k, v in TINY.items() if k != 'type'}
    model = ActionFormer(**cfg).train()
    with pytest.raises(ValueError, match='max_seq_len=64'):
        model(_videos([65]), [_sample('long', [], [])], mode='loss')
    with pytest.raises(ValueError, match=r'input 0 has shape \[5, 20\]'):
        model(_videos([20], channels=5), [_sample('v', [], [])], mode='loss')
    s = ActionDataSample()
    s.set_metainfo(dict(video_name='nogt'))
    with pytest.raises(KeyError, match="'nogt' lacks gt_instances.gt_segments"):
        model(_videos([20]), [s], mode='loss')
    with pytest.raises(ValueError, match="'badlab' has labels outside"):
        model(_videos([20]), [_sample('badlab', [[1.0, 3.0]], [7])], mode='loss')
    model.eval()
    s = ActionDataSample()
    s.set_metainfo(dict(video_name='nometa', fps=30.0))
    with pytest.raises(KeyError, match="'nometa' lacks metainfo"):
        model(_videos([20]), [s], mode='predict')
    with pytest.raises(NotImplementedError, match='use_rel_pe'):
        ActionFormer(use_rel_pe=True, **cfg)
    with pytest.raises(ValueError, match='divisible'):
        ActionFormer(**dict(cfg, max_seq_len=48))
