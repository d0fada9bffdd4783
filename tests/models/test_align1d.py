"""Align1D against the official CUDA op (tests/data/gtad/align1d.npz, from G-TAD's kernel rules)."""
from pathlib import Path

import numpy as np
import pytest
import torch

from sola_mm.models.ops.align1d import (Align1D, _csr_pair, align1d, align1d_weights,
                                        batched_sparse_matmul, clear_sgalign_cache,
                                        gtad_anchor_bounds, sgalign_matrices, sparse_matmul)

DATA = Path(__file__).resolve().parents[1] / 'data' / 'gtad'
SETTINGS = [(4, 0), (4, 2), (8, 0), (8, 2)]


@pytest.fixture(scope='module')
def oracle():
    return np.load(DATA / 'align1d.npz')


@pytest.mark.parametrize('pooled,ratio', SETTINGS)
def test_weight_matrix_matches_official(oracle, pooled, ratio):
    rois = oracle['rois']
    weights = align1d_weights(rois[:, 1], rois[:, 2], oracle['x'].shape[2], pooled, ratio)
    np.testing.assert_allclose(weights.numpy(), oracle[f'W_P{pooled}_r{ratio}'], rtol=0,
                               atol=1e-12)


@pytest.mark.parametrize('pooled,ratio', SETTINGS)
def test_forward_and_gradient_match_official(oracle, pooled, ratio):
    key = f'P{pooled}_r{ratio}'
    x = torch.tensor(oracle['x'], requires_grad=True)
    y = align1d(x, torch.tensor(oracle['rois']), pooled, ratio)
    np.testing.assert_allclose(y.detach().numpy(), oracle[f'y_{key}'], rtol=0, atol=1e-10)
    y.backward(torch.tensor(oracle[f'gy_{key}']))
    np.testing.assert_allclose(x.grad.numpy(), oracle[f'gx_{key}'], rtol=0, atol=1e-10)
    module_out = Align1D(pooled, ratio)(x.detach(), torch.tensor(oracle['rois']))
    torch.testing.assert_close(module_out, y.detach(), rtol=0, atol=0)


def test_out_of_range_samples_count_in_the_average(oracle):
    # roi [-3, 6.5] with P=4, ratio 2: bin 0 spans [-3, -0.625]; its first sample (t=-2.41) is
    # outside [-1, T] and contributes 0, the second (t=-1.22) too, so the bin is all zero; bin 1
    # has one sample at t<=0 (clamped to x[0]) and one inside, each weighted 1/2.
    w = align1d_weights([-3.], [6.5], 20, 4, 2)[0]
    assert torch.all(w[0] == 0)
    assert w[1].sum().item() == pytest.approx(1.0)
    clamped = align1d_weights([-30.], [-2.], 20, 4, 0)
    assert torch.all(clamped == 0)


def _dense_cells(temporal_dim, max_duration, bins):
    starts, ends = gtad_anchor_bounds(temporal_dim, max_duration)
    return align1d_weights(starts.reshape(-1), ends.reshape(-1), temporal_dim, bins)  # [(d,s),P,T]


def test_sgalign_matrices_equal_dense_align1d():
    T, D, ri, rc = 12, 7, 5, 3
    mats = sgalign_matrices(T, D, ri, rc, dtype=torch.float64)
    inner, context = _dense_cells(T, D, ri), _dense_cells(T, D, rc)
    fused = mats.fused.to_dense()
    # columns (t, r): snippet-major
    torch.testing.assert_close(fused, torch.cat([inner, context], 1).transpose(1, 2)
                               .reshape(D * T, -1), rtol=0, atol=1e-15)
    for pair in (mats.fused, mats.inner, mats.context):
        torch.testing.assert_close(pair.matrix_t.to_dense(), pair.matrix.to_dense().t(), rtol=0,
                                   atol=0)
    for mat, dense in ((mats.inner, inner), (mats.context, context)):
        torch.testing.assert_close(mat.to_dense(), dense.permute(1, 0, 2).reshape(-1, T),
                                   rtol=0, atol=1e-15)


def test_sgalign_matrices_are_cached_per_dtype_and_deterministic():
    a = sgalign_matrices(10, 10, 4, 2, dtype=torch.float64)
    assert sgalign_matrices(10, 10, 4, 2, dtype=torch.float64) is a
    b = sgalign_matrices(10, 10, 4, 2, dtype=torch.float32)
    assert b is not a and b.fused.matrix.dtype == torch.float32
    clear_sgalign_cache()
    c = sgalign_matrices(10, 10, 4, 2, dtype=torch.float64)
    assert c is not a
    for old_pair, new_pair in zip((a.fused, a.inner), (c.fused, c.inner)):
        assert (old_pair.rows is None) == (new_pair.rows is None)
        assert old_pair.rows is None or torch.equal(old_pair.rows, new_pair.rows)
        for old, new in zip(old_pair[:2], new_pair[:2]):
            assert torch.equal(old.crow_indices(), new.crow_indices())
            assert torch.equal(old.col_indices(), new.col_indices())
            assert torch.equal(old.values(), new.values())


def test_invalid_cells_use_the_official_zero_roi():
    starts, ends = gtad_anchor_bounds(5, 5)
    assert starts[2, 3] == 0 and ends[2, 3] == 0  # s + d = 5 >= T
    assert (starts[1, 2], ends[1, 2]) == (1.0, 4.0)  # [s - (d+1)/2, s + d + (d+1)/2]


def test_sparse_matmul_gradient():
    mats = sgalign_matrices(6, 4, 3, 2, dtype=torch.float64)
    z = torch.randn(5 * 6, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: sparse_matmul(mats.fused, t), (z, ))


def test_batched_sparse_matmul_equals_per_video_products_and_gradient():
    mats = sgalign_matrices(6, 4, 3, 2, dtype=torch.float64)
    z = torch.randn(3, 5 * 6, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0),
                    requires_grad=True)
    out = batched_sparse_matmul(mats.fused, z)
    dense = mats.fused.to_dense()
    torch.testing.assert_close(out, torch.stack([dense @ z[b] for b in range(3)]), rtol=0,
                               atol=1e-13)
    assert torch.autograd.gradcheck(lambda t: batched_sparse_matmul(mats.fused, t), (z, ))
    with pytest.raises(ValueError, match=r'expected dense \[B, 30, N\]'):
        batched_sparse_matmul(mats.fused, torch.zeros(3, 29, 4, dtype=torch.float64))


def _pair_with_repeated_rows(dedup: bool):
    """A 7 x 5 matrix whose rows 1, 3 and 6 are equal (and 4, 5 empty): stored by its distinct
    rows, or (``dedup=False``) with the repeat too small a share to be worth it."""
    rng = np.random.default_rng(0)
    dense = rng.uniform(0.1, 1, (7, 5)) * (rng.uniform(size=(7, 5)) < 0.6)
    dense[0, 0] = 1.0
    dense[[3, 6]] = dense[1] if dedup else dense[[3, 6]]
    dense[[4, 5]] = 0
    rows, cols = np.nonzero(dense)
    return dense, _csr_pair(rows, cols, dense[rows, cols], dense.shape, torch.float64,
                            torch.device('cpu'))


@pytest.mark.parametrize('dedup', [True, False])
def test_sparse_pair_stores_repeated_rows_once_and_stays_exact(dedup):
    dense, pair = _pair_with_repeated_rows(dedup)
    if dedup:
        assert pair.matrix.shape[0] == 4  # rows 0, 1 (= 3 = 6), 2, 4 (= 5)
        assert pair.rows.tolist() == [0, 1, 2, 1, 3, 3, 1]
    torch.testing.assert_close(pair.to_dense(), torch.from_numpy(dense), rtol=0, atol=0)
    z = torch.randn(3, 5, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1),
                    requires_grad=True)
    bias = torch.randn(4, dtype=torch.float64, requires_grad=True)
    expected = torch.relu(torch.from_numpy(dense) @ z + bias)
    torch.testing.assert_close(batched_sparse_matmul(pair, z, bias, relu=True), expected,
                               rtol=0, atol=1e-15)
    assert torch.autograd.gradcheck(lambda t, b: batched_sparse_matmul(pair, t, b, relu=True),
                                    (z, bias))
    assert torch.autograd.gradcheck(lambda t: sparse_matmul(pair, t), (z[0].detach()
                                                                       .requires_grad_(), ))


def test_products_do_not_read_the_output_buffer():
    _, pair = _pair_with_repeated_rows(True)
    dense = torch.randn(5, 3, dtype=torch.float64)
    out = torch.full((7, 3), float('nan'), dtype=torch.float64)
    torch.testing.assert_close(pair.matmul_into(out, dense), pair.to_dense() @ dense)
    grad = torch.randn(7, 3, dtype=torch.float64)
    out_t = torch.full((5, 3), float('nan'), dtype=torch.float64)
    torch.testing.assert_close(pair.t_matmul_into(out_t, grad), pair.to_dense().t() @ grad)


def test_gtad_anet_matrix_stores_the_shared_invalid_roi_once():
    pair = sgalign_matrices(100, 100, 32, 4).fused
    assert pair.shape == (10000, 3600)
    assert pair.matrix.shape[0] == 5051  # 5050 valid cells + the (0, 0) roi of the 4950 others
    assert pair.matrix._nnz() == 773668
