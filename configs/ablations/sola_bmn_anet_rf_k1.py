# Ablation (receptive field): no temporal context, conv1 kernel 1 (SoLa becomes a per-snippet MLP).
_base_ = ['../sola_bmn_anet.py']
model = dict(neck=dict(kernel_size1=1, dilation1=1))
