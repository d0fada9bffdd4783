"""BatchedBMN predicts what MMAction2's BMN predicts, for every sample of a batch."""
import pytest
import torch
from mmaction.models.localizers import BMN
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample

import sola_mm  # noqa: F401

CFG = dict(temporal_dim=32, boundary_ratio=0.5, num_samples=8, num_samples_per_bin=3, feat_dim=16,
           hidden_dim_1d=16, hidden_dim_2d=16, hidden_dim_3d=16, soft_nms_alpha=0.4,
           soft_nms_low_threshold=0.5, soft_nms_high_threshold=0.9, post_process_top_k=100)


def _sample(name, seconds, frames):
    sample = ActionDataSample()
    sample.set_metainfo(dict(video_name=name, duration_second=seconds, duration_frame=frames))
    return sample


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_batched_predict_equals_bmn_predict_per_sample(seed):
    torch.manual_seed(seed)
    reference = BMN(**CFG).eval()
    # MMAction2's BM layer: exact float32 equality (the fused layer rounds differently; its
    # proposals are compared in tests/models/test_fused_bm.py)
    batched = MODELS.build(dict(type='BatchedBMN', fused_bm=False, **CFG)).eval()
    batched.load_state_dict(reference.state_dict())
    feats = torch.randn(3, 16, 32)
    samples = [_sample('v_a', 61.5, 1845), _sample('v_b', 12.0, 300), _sample('v_c', 200.0, 4999)]
    with torch.no_grad():
        ours = batched.predict(feats, samples)
        # BMN.predict sees sample 0 only: feed it each sample's slice of the same batched forward
        # (a batch of 1 through the convs rounds differently in float32)
        conf, start, end = reference._forward(feats)
        theirs = []
        for i in range(3):
            reference._forward = lambda x, i=i: (conf[i:i + 1], start[i:i + 1], end[i:i + 1])
            theirs.append(reference.predict(feats[i:i + 1], [samples[i]])[0])
    assert [o['video_name'] for o in ours] == ['v_a', 'v_b', 'v_c']
    for mine, ref in zip(ours, theirs):
        assert len(mine['proposal_list']) == len(ref['proposal_list']) > 1
        for p, q in zip(mine['proposal_list'], ref['proposal_list']):
            assert p['score'] == float(q['score'])
            assert p['segment'] == [float(v) for v in q['segment']]


def test_batched_bmn_is_bmn_for_training_and_checkpoints():
    model = MODELS.build(dict(type='BatchedBMN', **CFG))
    assert isinstance(model, BMN) and model.batched_predict
    # same parameters; the rebuilt sample_mask is left out (tests/models/test_fused_bm.py)
    assert set(model.state_dict()) == set(BMN(**CFG).state_dict()) - {'sample_mask'}
    assert dict(model.named_parameters()).keys() == \
        dict(BMN(**CFG).named_parameters()).keys() - {'sample_mask'}


@pytest.mark.parametrize('seed', [0, 1])
def test_candidates_and_proposals_on_uneven_curves(seed):
    """Untrained weights give near-flat boundary curves (every snippet a candidate); uniform
    random curves and maps make the peak / half-maximum rules and the map indexing matter."""
    gen = torch.Generator().manual_seed(seed)
    conf, start, end = torch.rand(2, 2, 32, 32, generator=gen), torch.rand(2, 32, generator=gen), \
        torch.rand(2, 32, generator=gen)
    reference, batched = BMN(**CFG).eval(), MODELS.build(dict(type='BatchedBMN', **CFG)).eval()
    batched._forward = lambda x: (conf, start, end)
    samples = [_sample('v_a', 61.5, 1845), _sample('v_b', 12.0, 300)]
    ours = batched.predict(torch.zeros(2, 16, 32), samples)
    for i in range(2):
        reference._forward = lambda x, i=i: (conf[i:i + 1], start[i:i + 1], end[i:i + 1])
        ref = reference.predict(torch.zeros(1, 16, 32), [samples[i]])[0]['proposal_list']
        assert [(p['score'], p['segment']) for p in ours[i]['proposal_list']] == [
            (float(q['score']), [float(v) for v in q['segment']]) for q in ref]
