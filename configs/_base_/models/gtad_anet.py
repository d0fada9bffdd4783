# G-TAD (pure PyTorch, sola_mm.models.localizers.gtad) behind the neck+localizer composition, with
# the official ActivityNet settings (`anet` branch): 400-d TSN features resized to T = 100, D = T,
# widths 256/128/512, SGAlign 32 inner + 4 context bins, 1x1 2-D head, loss TEM + 10 reg + cls,
# Gaussian soft-NMS sigma 0.8 (divides IoU^2), top 100. No neck = the baseline.
# fused_sgalign=True applies the head's first 1x1 conv before the Align1D interpolation: same
# outputs, ~1/10 of the training memory; False materialises the official [B, 256*36, D, T] tensor.
model = dict(
    type='NeckLocalizer',
    localizer=dict(
        type='GTAD',
        variant='anet',
        feat_dim=400,
        temporal_dim=100,
        max_duration=100,
        h_dim_1d=256,
        h_dim_2d=128,
        h_dim_3d=512,
        inner_bins=32,
        context_bins=4,
        kernel_2d=1,
        loss_weights=dict(tem=1., pem_reg=10., pem_cls=1.),
        pem_cls_count_offset=0.,
        soft_nms_sigma=0.8,
        max_proposals=100,
        max_proposal_frames=None,
        fused_sgalign=True))
