import pytest
import torch

from mmaction.registry import MODELS
from sola_mm.engine.checkpoint import CheckpointError
from sola_mm.models.necks.sola import SoLa


def test_registered_and_shape_preserving():
    neck = MODELS.build(dict(type='SoLa', in_channels=16, hidden_channels=8, kernel_size1=3,
                             dilation1=2))
    x = torch.randn(2, 16, 11)
    assert neck(x).shape == x.shape


def test_identity_at_initialisation():
    neck = SoLa(in_channels=16, hidden_channels=8)
    x = torch.randn(3, 16, 20)
    assert torch.equal(neck(x), x)


def test_alpha_gates_the_branch():
    neck = SoLa(in_channels=8, hidden_channels=4)
    with torch.no_grad():
        neck.alpha.fill_(0.5)
    x = torch.randn(1, 8, 9)
    expected = x + torch.tanh(torch.tensor(0.5)) * neck.branch(x)
    torch.testing.assert_close(neck(x), expected)
    assert neck.vector_norm_ratio(x) > 0


def test_frozen_means_no_grad_and_eval():
    neck = SoLa(in_channels=8, hidden_channels=4, frozen=True)
    assert all(not p.requires_grad for p in neck.parameters())
    neck.train()
    assert not neck.training


@pytest.mark.parametrize('kwargs', [dict(kernel_size1=4), dict(kernel_size1=0)])
def test_bad_kernel_config(kwargs):
    with pytest.raises(ValueError, match='SoLa'):
        SoLa(in_channels=8, hidden_channels=4, **kwargs)


def test_wrong_input_width_names_the_field():
    neck = SoLa(in_channels=8, hidden_channels=4)
    with pytest.raises(ValueError, match='in_channels'):
        neck(torch.randn(1, 6, 10))


def test_load_pretrained_from_stage1_checkpoint(tmp_path):
    source = SoLa(in_channels=8, hidden_channels=4)
    with torch.no_grad():
        source.alpha.fill_(0.3)
    state = {f'neck.{k}': v for k, v in source.state_dict().items()}
    state['projector.fc1.weight'] = torch.zeros(2, 8)
    path = tmp_path / 'stage1.pth'
    torch.save(dict(state_dict=state, meta=dict(epoch=1)), path)
    target = SoLa(in_channels=8, hidden_channels=4, pretrained=str(path), frozen=True)
    target.init_weights()
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value)


def test_load_pretrained_wrong_model(tmp_path):
    path = tmp_path / 'other.pth'
    torch.save(dict(state_dict={'backbone.weight': torch.zeros(3)}), path)
    with pytest.raises(CheckpointError, match='no complete SoLa state'):
        SoLa(in_channels=8, hidden_channels=4).load_pretrained(str(path))
    small = SoLa(in_channels=6, hidden_channels=4)
    torch.save(dict(state_dict={f'neck.{k}': v for k, v in small.state_dict().items()}), path)
    with pytest.raises(CheckpointError, match='shape'):
        SoLa(in_channels=8, hidden_channels=4).load_pretrained(str(path))
