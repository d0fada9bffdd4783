# SoLa + G-TAD on features extracted from your own videos -- here the synthetic demo videos:
#   python tools/make_demo_videos.py --out data/demo_video
#   python tools/extract_features.py configs/extractors/tiny_r3d_demo.py none \
#       data/demo_video/videos --out data/demo_video/features --clip-len 8 --stride 4 \
#       --ann-file data/demo_video/annotations.json
#   python tools/train.py configs/demo/sola_gtad_video_demo.py --work-dir work_dirs/video_demo
#   python tools/infer.py configs/demo/sola_gtad_video_demo.py work_dirs/video_demo/epoch_40.pth \
#       data/demo_video/videos/demo_008.mp4 --out work_dirs/video_demo/infer ...
# (docs/video_inference.md). For your data: point `video_root` at it, set `feat_dim` to your
# recognizer's feature width and `extractor` to your recognizer config + checkpoint.
_base_ = ['gtad_demo.py', '../_base_/sola.py']
video_root = 'data/demo_video/'
feat_dim = 64            # the tiny recognizer's width (ResNet3d-18 at base width 8)
temporal_scale = 16      # snippets per video after the dataset's rescaling
# the recognizer that turns videos into features (tools/infer.py on a video uses it; it must be
# the one tools/extract_features.py used for the training features)
extractor = dict(config='{{ fileDirname }}/../extractors/tiny_r3d_demo.py', checkpoint=None,
                 clip_len=8, stride=4, backend='pyav', batch_size=32)
data = dict(data_prefix=dict(feature=video_root + 'features/'), feature_ext='.npy',
            feat_dim=feat_dim, temporal_scale=temporal_scale)
# annotation files with the timing of the features (tools/extract_features.py --ann-file)
ann_train = video_root + 'features/video_info_training.json'
ann_val = video_root + 'features/video_info_validation.json'
train_dataloader = dict(batch_size=4, dataset=dict(ann_file=ann_train, **data))
val_dataloader = dict(dataset=dict(ann_file=ann_val, **data))
test_dataloader = val_dataloader
# no video classifier for the demo videos: validation uses each video's GT classes (oracle mAP);
# tools/infer.py labels the proposals with --classifier or --class-names (the recognizer's top-k)
val_evaluator = dict(ann_file=ann_val, classifier_file=None,
                     no_classifier='gt_label', proposal_metrics=True)
test_evaluator = val_evaluator
model = dict(neck=dict(type='SoLa', in_channels=feat_dim, hidden_channels=32, frozen=True),
             localizer=dict(feat_dim=feat_dim, temporal_dim=temporal_scale,
                            max_duration=temporal_scale, h_dim_1d=32, h_dim_2d=16, h_dim_3d=32))
# a short stage 1 on 16-snippet videos: windows of 12, 4 positions
sola_stage1 = dict(cfg_options={
    'train_cfg.max_epochs': 10, 'train_cfg.val_interval': 5,
    'train_dataloader.batch_size': 8, 'train_dataloader.num_workers': 0,
    'train_dataloader.persistent_workers': False, 'train_dataloader.dataset.window': 12,
    'model.loss.num_positions': 4, 'model.loss.step_start': 2,
    'default_hooks.checkpoint.interval': 5,
    'val_evaluator.sampling': 'all'})  # the probe's 100-snippet chunks need longer videos
# G-TAD: 40 short epochs on the 8 training videos
train_cfg = dict(max_epochs=40, val_interval=40)
param_scheduler = [dict(type='MultiStepLR', begin=0, end=40, by_epoch=True, milestones=[30],
                        gamma=0.1)]
