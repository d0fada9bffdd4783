# Ablation (encoder): SoLa + BMN on I3D RGB-stream features only (1024 channels).
# One file per video in data/ActivityNet/i3d_features_rgb/, resized to 100 snippets like the TSN
# default.
# Stage 1 inherits the neck width and these features (SoLaStage1Hook, inherit=True).
# The same encoder without SoLa: --cfg-options model.neck=None
_base_ = ['../sola_bmn_anet.py']

feature_dir = 'data/ActivityNet/i3d_features_rgb/'
feature_ext = '.npy'
feat_dim = 1024
features = dict(data_prefix=dict(feature=feature_dir), feature_ext=feature_ext, feat_dim=feat_dim)
train_dataloader = dict(dataset=features)
val_dataloader = dict(dataset=features)
test_dataloader = dict(dataset=features)
model = dict(neck=dict(in_channels=feat_dim, hidden_channels=512),
             localizer=dict(feat_dim=feat_dim))
