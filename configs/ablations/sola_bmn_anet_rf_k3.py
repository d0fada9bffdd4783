# Ablation (receptive field): conv1 kernel 3 (3 snippets) instead of the default 5.
_base_ = ['../sola_bmn_anet.py']
model = dict(neck=dict(kernel_size1=3, dilation1=1))
