import pytest
import torch
from mmengine.structures import InstanceData

from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample

T, C = 16, 16


def bmn_cfg(feat_dim=C):
    return dict(type='BMN', temporal_dim=T, boundary_ratio=0.5, num_samples=8,
                num_samples_per_bin=3, feat_dim=feat_dim, soft_nms_alpha=0.4,
                soft_nms_low_threshold=0.5, soft_nms_high_threshold=0.9, post_process_top_k=10,
                hidden_dim_1d=16, hidden_dim_2d=8, hidden_dim_3d=16)


def samples(n):
    out = []
    for i in range(n):
        sample = ActionDataSample()
        # grid-aligned segments so that some anchor reaches IoU > 0.7 (BMN's loss needs one)
        sample.gt_instances = InstanceData(gt_bbox=torch.tensor([[2 / T, 10 / T]]))
        sample.set_metainfo(dict(video_name=f'v_{i}', duration_second=10.0, duration_frame=300,
                                 feature_frame=300))
        out.append(sample)
    return out


def test_frozen_neck_gets_no_gradient_localizer_does():
    model = MODELS.build(dict(type='NeckLocalizer', localizer=bmn_cfg(),
                              neck=dict(type='SoLa', in_channels=C, hidden_channels=8,
                                        alpha_init=0.4, frozen=True)))
    model.neck.load_state_dict(model.neck.state_dict())  # as if stage 1 had handed them over
    model.train()
    assert not model.neck.training
    losses = model(list(torch.randn(2, C, T)), samples(2), mode='loss')
    losses['loss'].backward()
    assert all(p.grad is None for p in model.neck.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.localizer.parameters())


def test_trainable_neck_gets_gradient():
    model = MODELS.build(dict(type='NeckLocalizer', localizer=bmn_cfg(),
                              neck=dict(type='SoLa', in_channels=C, hidden_channels=8,
                                        alpha_init=0.4)))
    model(list(torch.randn(2, C, T)), samples(2), mode='loss')['loss'].backward()
    assert model.neck.conv1.weight.grad is not None


def test_predict_every_sample_of_a_batch():
    model = MODELS.build(dict(type='NeckLocalizer', localizer=bmn_cfg()))
    model.eval()
    with torch.no_grad():
        out = model(list(torch.randn(3, C, T)), samples(3), mode='predict')
    assert [o['video_name'] for o in out] == ['v_0', 'v_1', 'v_2']
    assert all(o['proposal_list'] for o in out)


def test_width_mismatch_between_neck_and_head():
    with pytest.raises(ValueError, match='in_channels=32.*feat_dim=16'):
        MODELS.build(dict(type='NeckLocalizer', localizer=bmn_cfg(),
                          neck=dict(type='SoLa', in_channels=32, hidden_channels=8)))
