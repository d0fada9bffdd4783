# Ablation (separate vs unified training): the SoLa neck is trained together with the head by the
# localization loss (not frozen, in the optimizer), with no Similarity Matching stage 1.
_base_ = ['../sola_bmn_anet.py']
model = dict(neck=dict(frozen=False, pretrained=None))
sola_stage1 = None  # no stage 1: nothing is pretrained or loaded (SoLaStage1Hook does nothing)
