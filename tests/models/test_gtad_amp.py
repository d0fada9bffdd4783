"""G-TAD loss with 16-bit predictions (AMP): labels must be thresholded in float32.

IoU labels on the snippet grid hit the thresholds exactly (0.7, 0.3, 0.9); rounded to float16
first, 0.7 becomes 0.70020 and a "mid" cell turns "high".
"""
import numpy as np
import torch

import sola_mm  # noqa: F401
from sola_mm.models.localizers.gtad.loss import gtad_loss


def test_16bit_predictions_threshold_labels_like_float32():
    D, T = 4, 6
    mask = torch.from_numpy((np.arange(T)[None] + np.arange(D)[:, None] < T).astype(np.float32))
    label = torch.zeros(1, D, T)
    label[0, 0, :3] = 0.7      # exact ties at the pem_reg "high" threshold
    label[0, 1, :2] = 0.3      # and at the "low"/"mid" one
    label[0, 2, 0] = 0.9       # and at the pem_cls positive one
    label[0, 1, 3] = 0.95
    torch.manual_seed(0)
    conf = torch.rand(1, 2, D, T) * 0.8 + 0.1
    start, end = torch.rand(1, T) * 0.8 + 0.1, torch.rand(1, T) * 0.8 + 0.1
    ls, le = torch.zeros(1, T), torch.zeros(1, T)
    ls[0, 1], le[0, 4] = 1., 1.
    draws = np.random.RandomState(0).rand(2, 1, D, T)
    ref = gtad_loss(conf, start, end, label, ls, le, mask, rand_mid=draws[0], rand_low=draws[1])
    half = gtad_loss(conf.half(), start.half(), end.half(), label, ls, le, mask,
                     rand_mid=draws[0], rand_low=draws[1])
    assert torch.equal(half['pem_reg_weights'].float(), ref['pem_reg_weights'].float())
    for key in ('tem', 'pem_reg', 'pem_cls'):
        assert torch.isfinite(half[key])
        assert abs(float(half[key]) - float(ref[key])) < 1e-2 * max(1., abs(float(ref[key])))
