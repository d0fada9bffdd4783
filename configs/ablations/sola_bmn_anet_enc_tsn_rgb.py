# Ablation (encoder): SoLa + BMN on TSN (CUHK) RGB-stream features only: the first 200 of the 400
# csv_mean_100 channels, written to their own folder (see docs/ablations.md).
# One file per video in data/ActivityNet/activitynet_feature_cuhk/csv_mean_100_rgb/, resized to
# 100 snippets like the TSN default.
# Stage 1 inherits the neck width and these features (SoLaStage1Hook, inherit=True).
# The same encoder without SoLa: --cfg-options model.neck=None
_base_ = ['../sola_bmn_anet.py']

feature_dir = 'data/ActivityNet/activitynet_feature_cuhk/csv_mean_100_rgb/'
feature_ext = '.csv'
feat_dim = 200
features = dict(data_prefix=dict(feature=feature_dir), feature_ext=feature_ext, feat_dim=feat_dim)
train_dataloader = dict(dataset=features)
val_dataloader = dict(dataset=features)
test_dataloader = dict(dataset=features)
model = dict(neck=dict(in_channels=feat_dim, hidden_channels=512),
             localizer=dict(feat_dim=feat_dim))
