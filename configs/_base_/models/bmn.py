# BMN (MMAction2's implementation) behind the neck+localizer composition; no neck = baseline.
# BatchedBMN is MMAction2's BMN (same network, losses, checkpoints) whose predict handles a whole
# batch with batched post-processing and gives BMN.predict's proposals; type='BMN' works as well.
model = dict(
    type='NeckLocalizer',
    localizer=dict(
        type='BatchedBMN',
        temporal_dim=100,
        boundary_ratio=0.5,
        num_samples=32,
        num_samples_per_bin=3,
        feat_dim=400,
        soft_nms_alpha=0.4,
        soft_nms_low_threshold=0.5,
        soft_nms_high_threshold=0.9,
        post_process_top_k=100))
