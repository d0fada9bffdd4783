# A tiny randomly initialised MMAction2 3-D recognizer (ResNet3d-18 at width 8, 64-d features,
# 3 classes) for the tests and the video demo: no weights to download. A real extractor is any
# MMAction2 recognizer config from its model zoo plus its checkpoint, e.g.
#   mmaction::recognition/i3d/i3d_imagenet-pretrained-r50_8xb8-32x2x1-100e_kinetics400-rgb.py
# Its test pipeline gives the decoding-independent preprocessing (resize, crop, format); the
# extractor replaces the sampling / decoding steps by its snippet grid.
_base_ = ['mmaction::_base_/default_runtime.py']
model = dict(
    type='Recognizer3D',
    backbone=dict(type='ResNet3d', depth=18, base_channels=8, pretrained=None, pretrained2d=False,
                  conv1_kernel=(3, 7, 7), inflate=(1, 1, 1, 1), zero_init_residual=False),
    cls_head=dict(type='I3DHead', num_classes=3, in_channels=64, average_clips='prob'),
    data_preprocessor=dict(type='ActionDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], format_shape='NCTHW'))
file_client_args = dict(io_backend='disk')
test_pipeline = [
    dict(type='DecordInit', **file_client_args),
    dict(type='SampleFrames', clip_len=8, frame_interval=1, num_clips=1, test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 64)),
    dict(type='CenterCrop', crop_size=56),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
# what MMAction2's own tools (test.py, misc/clip_feature_extraction.py) read
test_dataloader = dict(
    batch_size=1, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='VideoDataset', ann_file='', data_prefix=dict(video=''),
                 pipeline=test_pipeline, test_mode=True))
test_evaluator = dict(type='AccMetric')
test_cfg = dict(type='TestLoop')
