# Ablation (receptive field): conv1 kernel 5 with dilation 2 (spans 9 snippets, 5 taps).
_base_ = ['../sola_bmn_anet.py']
model = dict(neck=dict(kernel_size1=5, dilation1=2))
