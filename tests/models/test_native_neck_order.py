"""NeckLocalizer with native-length inputs (``neck_post`` in the samples): the neck runs on each
whole video, then the deferred resize / window cut; a frozen neck's outputs are cached per video
(bounded, invalidated when the weights change); a trainable neck sees the same order and learns
through the resize; a ``variable_length`` localizer gets the un-stacked list."""
import numpy as np
import pytest
import torch
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from mmengine.model import BaseModel
from torch import nn

import sola_mm  # noqa: F401
from sola_mm.datasets.feature_io import resize_features
from sola_mm.models.necks.output_cache import NeckOutputCache, weights_fingerprint

C, SCALE = 6, 8


@MODELS.register_module()
class _RecordingLocalizer(BaseModel):
    """Records what it is given; loss = mean of the inputs (so that gradients reach the neck)."""
    variable_length = False

    def __init__(self):
        super().__init__()
        self.seen = []
        self.w = nn.Parameter(torch.ones(1))

    def forward(self, inputs, data_samples=None, mode='tensor'):
        self.seen.append(inputs)
        if mode == 'loss':
            return dict(loss=sum((x * self.w).mean() for x in inputs))
        return list(inputs)


@MODELS.register_module()
class _VariableLengthLocalizer(_RecordingLocalizer):
    variable_length = True


def _model(frozen=True, localizer='_RecordingLocalizer', cache_bytes=1 << 20):
    torch.manual_seed(0)
    model = MODELS.build(dict(type='NeckLocalizer', localizer=dict(type=localizer),
                              neck=dict(type='SoLa', in_channels=C, hidden_channels=5,
                                        frozen=frozen),
                              neck_cache_bytes=cache_bytes))
    with torch.no_grad():
        model.neck.alpha.fill_(0.7)
    return model


def _videos(lengths=(11, 5, 8)):
    rng = np.random.default_rng(0)
    return [torch.from_numpy(rng.standard_normal((C, n)).astype(np.float32)) for n in lengths]


def _samples(lengths=(11, 5, 8), **post):
    out = []
    for i, _ in enumerate(lengths):
        sample = ActionDataSample()
        sample.set_metainfo(dict(video_name=f'v{i}', neck_post=dict(post, key=f'v{i}')))
        out.append(sample)
    return out


def _reference(model, x, resize):
    """The authors' order, by hand: SoLa on the whole video, then the dataset's resize."""
    with torch.no_grad():
        y = model.neck(x[None])[0]
    return torch.from_numpy(resize_features(y.t().numpy(), resize).T.copy())


def test_neck_on_native_length_then_resize_and_cache():
    model = _model()
    calls = []
    model.neck.register_forward_hook(lambda m, i, o: calls.append(i[0].shape[-1]))
    videos, samples = _videos(), _samples(resize=SCALE)
    out = model.extract_feat(videos, samples)
    assert out.shape == (3, C, SCALE) and sorted(calls) == [5, 8, 11]  # each at its own length
    for x, y in zip(videos, out):
        torch.testing.assert_close(y, _reference(model, x, SCALE), rtol=0, atol=1e-6)
    # not the old order (resize first, then the neck)
    with torch.no_grad():
        old = model.neck(torch.stack([torch.from_numpy(resize_features(x.t().numpy(), SCALE).T
                                                       .copy()) for x in videos]))
    assert (old - out).abs().max() > 1e-3
    # a second epoch: no neck call, same output
    calls.clear()
    again = model.extract_feat(videos, samples)
    assert calls == [] and torch.equal(again, out)
    assert model.neck_cache.hits == 3 and len(model.neck_cache) == 3


def test_cache_invalidated_when_the_weights_change(tmp_path):
    """Loading other weights (as SoLaStage1Hook does after stage 1) empties the cache."""
    model = _model()
    videos, samples = _videos(), _samples(resize=SCALE)
    before = model.extract_feat(videos, samples)
    fingerprint = model.neck_cache.fingerprint
    other = {k: v + 0.1 for k, v in model.neck.state_dict().items()}
    path = tmp_path / 'stage1.pth'
    torch.save(dict(state_dict={f'neck.{k}': v for k, v in other.items()}), path)
    model.neck.load_pretrained(str(path))
    after = model.extract_feat(videos, samples)
    assert model.neck_cache.fingerprint != fingerprint
    assert model.neck_cache.fingerprint == weights_fingerprint(model.neck)
    assert (after - before).abs().max() > 1e-3
    for x, y in zip(videos, after):
        torch.testing.assert_close(y, _reference(model, x, SCALE), rtol=0, atol=1e-6)
    # weights loaded back to the same values: same fingerprint, cache kept
    hits = model.neck_cache.hits
    model.neck.load_state_dict(model.neck.state_dict())
    model.extract_feat(videos, samples)
    assert model.neck_cache.hits == hits + 3


def test_cache_keeps_autocast_outputs_apart():
    """Training under autocast (AmpOptimWrapper) and validating in float32 share the cache: the
    bfloat16 outputs must not be served to the float32 pass."""
    model = _model()
    videos, samples = _videos(), _samples(resize=SCALE)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        model.extract_feat(videos, samples)
    full = model.extract_feat(videos, samples)
    assert len(model.neck_cache) == 6 and model.neck_cache.hits == 0
    for x, y in zip(videos, full):
        torch.testing.assert_close(y, _reference(model, x, SCALE), rtol=0, atol=1e-6)


def test_cache_memory_bound_lru():
    cache = NeckOutputCache(max_bytes=2 * C * 10 * 4)  # room for two [C, 10] float32 outputs
    for i in range(3):
        cache.put(f'v{i}', torch.full((C, 10), float(i)))
    assert len(cache) == 2 and cache.nbytes <= cache.max_bytes
    assert cache.get('v0', torch.device('cpu')) is None  # least recently used went first
    assert cache.get('v2', torch.device('cpu'))[0, 0] == 2
    cache.put('big', torch.zeros(C, 100))  # larger than the budget: not stored
    assert 'big' not in cache._entries and len(cache) == 2
    with pytest.raises(ValueError, match='max_bytes'):
        NeckOutputCache(-1)
    # a zero budget: the model stores nothing but still gives the same result
    model = _model(cache_bytes=0)
    out = model.extract_feat(_videos(), _samples(resize=SCALE))
    assert len(model.neck_cache) == 0 and out.shape == (3, C, SCALE)


def test_trainable_neck_same_order_and_gradient():
    """The unified ablation: a trainable neck sees the native length too, is never cached, and
    learns through the resize."""
    model = _model(frozen=False)
    videos, samples = _videos(), _samples(resize=SCALE)
    losses = model(videos, samples, mode='loss')
    losses['loss'].backward()
    assert model.neck.conv1.weight.grad is not None and model.neck.conv1.weight.grad.abs().sum() > 0
    assert len(model.neck_cache) == 0
    for x, y in zip(videos, model.localizer.seen[-1]):
        torch.testing.assert_close(y.detach(), _reference(model, x, SCALE), rtol=0, atol=1e-6)


def test_window_cut_after_the_neck_and_context_check():
    """THUMOS: the window is cut out of the neck output and zero-padded after it; a context smaller
    than the neck's receptive radius is refused."""
    model = _model()
    video = _videos((20, ))[0]
    sample = ActionDataSample()
    # the window is snippets 14..19 of a 20-snippet video, padded to 8; handed over with context 4
    sample.set_metainfo(dict(neck_post=dict(crop=[4, 6], pad_to=8, context=4, key='w')))
    out = model.extract_feat([video[:, 10:20]], [sample])[0]
    with torch.no_grad():
        whole = model.neck(video[None])[0]
    torch.testing.assert_close(out[:, :6], whole[:, 14:20], rtol=0, atol=1e-6)
    assert torch.equal(out[:, 6:], torch.zeros(C, 2))  # padding after the neck: zeros
    small = ActionDataSample()
    small.set_metainfo(dict(neck_post=dict(crop=[1, 6], pad_to=8, context=1, key='x')))
    with pytest.raises(ValueError, match='neck_context=1 is less than the receptive radius 2'):
        model.extract_feat([video[:, 13:20]], [small])


def test_variable_length_localizer_gets_the_list():
    model = _model(localizer='_VariableLengthLocalizer')
    videos = _videos()
    samples = _samples()  # no resize: native lengths reach the localizer
    model(videos, samples, mode='tensor')
    seen = model.localizer.seen[-1]
    assert isinstance(seen, list) and [x.shape[-1] for x in seen] == [11, 5, 8]
    # without any neck_post either (e.g. a baseline ActionFormer config): per video, no stacking
    plain = _model(localizer='_VariableLengthLocalizer')
    plain(videos, [ActionDataSample() for _ in videos], mode='tensor')
    assert [x.shape[-1] for x in plain.localizer.seen[-1]] == [11, 5, 8]


def test_without_neck_post_the_batch_path_is_unchanged():
    """Baseline data (no neck_post): one stacked batch through the neck, as before."""
    model = _model()
    x = torch.stack(_videos((8, 8)))
    with torch.no_grad():
        expect = model.neck(x)
    torch.testing.assert_close(model.extract_feat(x), expect, rtol=0, atol=0)
    assert len(model.neck_cache) == 0


def test_benchmark_neck_cache_runs(capsys):
    """tools/benchmark_neck_cache.py on a tiny case: every mode runs, the cache holds every video
    once (float32 C x T), and the printed table has the three modes."""
    import os.path as osp
    import sys
    sys.path.insert(0, osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))),
                                'tools'))
    import benchmark_neck_cache
    results = benchmark_neck_cache.main(['--videos', '5', '--channels', '8', '--hidden', '8',
                                         '--min-len', '10', '--max-len', '30', '--batch', '2',
                                         '--epochs', '2', '--scale', '16'])
    assert set(results) == {'resized', 'native', 'native+cache'}
    lengths = np.random.default_rng(0).integers(10, 31, 5)
    assert results['native+cache']['cache_bytes'] == 8 * 4 * int(lengths.sum())
    printed = capsys.readouterr().out
    assert all(mode in printed for mode in results)
