# Ablation (receptive field): conv1 kernel 9 (9 snippets) instead of the default 5.
_base_ = ['../sola_bmn_anet.py']
model = dict(neck=dict(kernel_size1=9, dilation1=1))
