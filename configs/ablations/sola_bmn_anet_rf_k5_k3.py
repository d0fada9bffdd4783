# Ablation (receptive field): a second temporal conv, conv2 kernel 3 (total span 7 snippets).
_base_ = ['../sola_bmn_anet.py']
model = dict(neck=dict(kernel_size1=5, kernel_size2=3, dilation2=1))
