"""ActionFormer against the official code (tests/data/actionformer/af_{thumos,anet}_small.npz,
produced by the unmodified official modules in float64): every model array, the attention
probabilities, points, masks, label assignment, focal / DIoU inputs, each loss term, the loss
normaliser, every gradient and the drop-path pass. Tolerances are the fixture README's.
"""
import numpy as np
import pytest
import torch

from sola_mm.models.localizers.actionformer.attention import MaskedConvAttention
from sola_mm.models.localizers.actionformer.loss import ctr_diou_loss_1d, sigmoid_focal_loss
from tests.models.actionformer_oracle import batch, build, load

ATOL = 1e-10        # model arrays, attention
LOSS_ATOL = 1e-12   # losses, gradients, targets


@pytest.fixture(scope='module', params=['thumos', 'anet'])
def oracle(request):
    data, cfg = load(request.param)
    return request.param, dict(data), cfg


def _forward(data, cfg, drop_prob=0.0):
    model = build(data, cfg, drop_prob)
    model.train()
    feats, samples = batch(data, cfg)
    x, mask = model.preprocessing(feats, training=True)
    return model, feats, samples, x, mask


def test_padding_masks_points_and_network(oracle):
    name, d, cfg = oracle
    model, feats, samples, x, mask = _forward(d, cfg)
    assert np.array_equal(x.numpy(), d['input_feats'])
    assert np.array_equal(mask[:, 0].numpy(), d['input_mask'])
    seen = {}
    model.backbone.stem[0].register_forward_pre_hook(
        lambda m, args: seen.__setitem__('embd_out', args[0].detach()))
    for j, block in enumerate(model.backbone.stem):
        block.register_forward_hook(
            lambda m, args, out, j=j: seen.__setitem__(f'stem{j}_out', out[0].detach()))
    if name == 'anet':
        assert np.array_equal(model.backbone.pos_embd.double().numpy(), d['pos_embd'])
    out = model.network(x, mask)
    for key, value in seen.items():
        np.testing.assert_allclose(value.numpy(), d[key], rtol=0, atol=ATOL, err_msg=key)
    for level in range(len(cfg['level_lengths'])):
        assert np.array_equal(out['masks'][level].numpy(), d[f'mask_l{level}'])
        assert np.array_equal(out['points'][level].numpy(), d[f'points_l{level}'])
        for key, ref in (('feats', 'backbone_feat_l'), ('fpn', 'fpn_feat_l'),
                         ('cls_logits', 'cls_logits_l'), ('offsets', 'reg_offsets_l')):
            np.testing.assert_allclose(out[key][level].detach().numpy(), d[f'{ref}{level}'],
                                       rtol=0, atol=ATOL, err_msg=f'{key} level {level}')


def test_attention_probabilities(oracle):
    name, d, cfg = oracle
    model, _, _, x, mask = _forward(d, cfg)
    blocks = {f'stem{j}': b for j, b in enumerate(model.backbone.stem)}
    blocks.update({f'branch{j}': b for j, b in enumerate(model.backbone.branch)})
    for block in blocks.values():
        block.attn.record_probs = True
    model.network(x, mask)
    for key, block in blocks.items():
        ref = d[f'attn_{key}']
        T = ref.shape[-1]
        dense = block.attn.dense_probs()[:, :, :T, :T].numpy()
        np.testing.assert_allclose(dense, ref, rtol=0, atol=ATOL, err_msg=key)
    if name == 'anet':  # the last level is global (window -1)
        assert blocks['branch2'].attn.half == 0


@pytest.mark.parametrize('block', [5, 7, 16, 64])
def test_local_attention_block_size_does_not_matter(block):
    torch.manual_seed(0)
    att = MaskedConvAttention(8, 2, 5).double()
    x = torch.randn(2, 8, 40, dtype=torch.float64)
    mask = (torch.arange(40)[None] < torch.tensor([40, 23])[:, None])[:, None]
    ref, _ = att(x, mask)
    att.block = block
    out, _ = att(x, mask)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=0, atol=1e-13)


def test_label_assignment_and_loss_inputs(oracle):
    name, d, cfg = oracle
    model, feats, samples, x, mask = _forward(d, cfg)
    out = model.network(x, mask)
    gt_cls, gt_off = model.targets(out['points'], [model.gt_of(s) for s in samples])
    assert np.array_equal(gt_cls.numpy(), d['gt_cls'])
    pos = d['pos_mask']
    valid = torch.cat(out['masks'], dim=1).numpy()
    assert np.array_equal(valid, d['valid_mask'])
    assert np.array_equal((gt_cls.sum(-1) > 0).numpy() & valid, pos)
    assert int(pos.sum()) == int(d['num_pos'][0])
    np.testing.assert_allclose(gt_off.numpy()[pos], d['gt_offsets'][pos], rtol=0,
                               atol=LOSS_ATOL)
    eps = cfg['official_cfg']['train_cfg']['label_smoothing']
    target = gt_cls[torch.from_numpy(valid)] * (1 - eps) + eps / (model.num_classes + 1)
    assert np.array_equal(target.numpy(), d['focal_targets'])
    logits = torch.cat(out['cls_logits'], 1)[torch.from_numpy(valid)]
    np.testing.assert_allclose(logits.detach().numpy(), d['focal_logits'], rtol=0, atol=ATOL)
    pred = torch.cat(out['offsets'], 1)[torch.from_numpy(pos)]
    np.testing.assert_allclose(pred.detach().numpy(), d['diou_pred'], rtol=0, atol=ATOL)
    np.testing.assert_allclose(gt_off.numpy()[pos], d['diou_target'], rtol=0, atol=LOSS_ATOL)


def test_loss_terms_from_stored_inputs(oracle):
    name, d, cfg = oracle
    norm = d['loss_normalizer'][1]
    w = cfg['official_cfg']['train_cfg']['loss_weight']
    for dtype, ref, atol in ((torch.float64, d['loss_f64'], LOSS_ATOL),
                             (torch.float32, d['loss_official'], 1e-6)):
        cls = sigmoid_focal_loss(torch.from_numpy(d['focal_logits']).to(dtype),
                                 torch.from_numpy(d['focal_targets']).to(dtype)) / norm
        reg = ctr_diou_loss_1d(torch.from_numpy(d['diou_pred']).to(dtype),
                               torch.from_numpy(d['diou_target']).to(dtype)) / norm
        assert cls.dtype == dtype
        np.testing.assert_allclose([float(cls), float(reg), float(cls + w * reg)], ref, rtol=0,
                                   atol=atol)


def test_losses_normalizer_and_gradients(oracle):
    name, d, cfg = oracle
    model, feats, samples, x, mask = _forward(d, cfg)
    assert float(model.loss_normalizer) == d['loss_normalizer'][0]
    losses = model(feats, samples, mode='loss')
    assert float(model.loss_normalizer) == d['loss_normalizer'][1]
    total = losses['loss_cls'] + losses['loss_reg']
    w = cfg['official_cfg']['train_cfg']['loss_weight']
    got = [float(losses['loss_cls'].detach()), float(losses['loss_reg'].detach()) / w,
           float(total.detach())]
    np.testing.assert_allclose(got, d['loss_f64'], rtol=0, atol=LOSS_ATOL)
    total.backward()
    names = [n for n, _ in model.named_parameters()]
    assert sorted(names) == sorted(cfg['param_names'])
    norm_sq = 0.0
    for n, p in model.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), d[f'grad/{n}'], rtol=0, atol=LOSS_ATOL,
                                   err_msg=n)
        norm_sq += float((p.grad ** 2).sum())
    np.testing.assert_allclose(norm_sq ** 0.5, d['grad_norm'][0], rtol=1e-12)


def test_drop_path_pass(oracle):
    name, d, cfg = oracle
    dp = cfg['droppath']
    model, feats, samples, x, mask = _forward(d, cfg, drop_prob=dp['drop_prob'])
    draws = []
    modules = dict(model.named_modules())
    for path in dp['call_order']:
        modules[path].register_forward_hook(lambda m, a, o: draws.append(o))
    torch.manual_seed(dp['seed'])
    out = model.network(x, mask)
    for level in range(len(cfg['level_lengths'])):
        np.testing.assert_allclose(out['fpn'][level].detach().numpy(), d[f'dp_fpn_feat_l{level}'],
                                   rtol=0, atol=ATOL, err_msg=f'level {level}')
    assert len(draws) == len(dp['call_order'])
    gt_cls, gt_off = model.targets(out['points'], [model.gt_of(s) for s in samples])
    terms = model.losses(out, gt_cls, gt_off)  # a fresh model: init, updated before use
    got = [float(terms[k].detach()) for k in ('cls_loss', 'reg_loss', 'final_loss')]
    np.testing.assert_allclose(got, d['dp_loss_f64'], rtol=0, atol=LOSS_ATOL)
    # the recorded keep decisions: a dropped sample's branch output is exactly zero
    keep = d['dp_keep']
    assert int((keep == 0).sum()) == dp['n_dropped']
    for i, o in enumerate(draws):
        for b in range(o.shape[0]):
            assert bool((o[b] == 0).all()) == (keep[i, b] == 0) or keep[i, b] == 1
