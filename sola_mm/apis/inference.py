"""From videos or feature files to labelled, timed detections with a trained (SoLa +) localizer.

``inference_localizer(model, inputs)`` runs exactly what ``tools/test.py`` runs, on the given
videos instead of a test set:

1. videos are turned into features by a frozen recognizer (:mod:`sola_mm.extraction`; built from
   the config's ``extractor`` section, or passed in); feature files are used as they are;
2. the config's **test dataset** is built over those files (its pipeline: loading, rescaling to
   ``temporal_scale``, cutting sliding windows...), with a small annotation file that carries each
   video's timing (from the extractor's meta files, an annotation file, or ``video_info``);
3. the model's ``test_step`` predicts each item (the neck, e.g. SoLa, runs inside the model);
4. the config's **test metric** merges windows and labels proposals: its ``detections`` method
   (``TALDetectionMetric``: window merge, soft-NMS, top-k, then the head's own labels or the
   video-level classifier fusion), the very code ``tools/test.py`` evaluates.

Class labels come from whatever the model's predict returns (heads with classes); for proposal
heads from a video-level classifier: ``classifier`` (a CUHK-style JSON or UntrimmedNet ``.npy``,
or scores), else the recognizer's own class scores when the extractor has class names, else the
config's ``classifier_file`` when it covers every video. Without any, proposals are returned with
the label ``'action'`` (``label_source='none'``).
"""
from __future__ import annotations

import copy
import os
import tempfile
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.config import Config

from ..datasets.feature_io import FeatureError, feature_shape, is_feature_file
from ..evaluation.functional.classifier import VideoClassifierScores, load_classifier
from ..evaluation.functional.ground_truth import VideoIdMatcher
from ..evaluation.functional.submission import atomic_write_json
from .extract import is_video_file, list_videos, read_video_meta, save_video_features, video_name

__all__ = ['init_localizer', 'inference_localizer', 'build_extractor', 'collect_inputs',
           'InferenceError', 'UNLABELLED']

UNLABELLED = 'action'
_TIMING = ('duration_second', 'duration_frame', 'feature_frame', 'fps', 'num_frames')
_TAL_DATASETS = ('ANetFeatureDataset', 'ThumosWindowDataset')


class InferenceError(ValueError):
    """An input or config that inference cannot use (names the file or config)."""


def init_localizer(config: Union[str, Config], checkpoint: Optional[str] = None,
                   device: str = 'cpu') -> torch.nn.Module:
    """Build ``config.model`` (e.g. NeckLocalizer), load ``checkpoint`` (weights only), eval mode.
    The config is kept as ``model.cfg``."""
    import sola_mm  # noqa: F401  (registration)
    from mmaction.registry import MODELS
    from mmengine.registry import init_default_scope
    from ..engine.checkpoint import load_checkpoint_file, state_dict_of
    cfg = Config.fromfile(config) if isinstance(config, str) else config
    init_default_scope(cfg.get('default_scope', 'mmaction') or 'mmaction')
    model_cfg = cfg.model.copy()
    if model_cfg.get('neck'):
        model_cfg.neck = dict(model_cfg.neck, pretrained=None)
    model = MODELS.build(model_cfg)
    if checkpoint:
        model.load_state_dict(state_dict_of(load_checkpoint_file(checkpoint)), strict=True)
    model.cfg = cfg
    return model.to(device).eval()


def _config_name(cfg: Config) -> str:
    return getattr(cfg, 'filename', None) or '<config>'


def build_extractor(cfg: Config, recognizer: Optional[str] = None,
                    checkpoint: Optional[str] = None, device: str = 'cpu', **overrides):
    """The :class:`FeatureExtractor` of a config's ``extractor`` section (``config``,
    ``checkpoint``, ``preset``, ``clip_len``, ``frame_interval``, ``stride``, ``align``,
    ``backend``, ``batch_size``, ``class_names``); ``recognizer`` / ``checkpoint`` /
    ``overrides`` replace its entries."""
    from ..evaluation.functional.classifier import load_class_names
    from ..extraction import FeatureExtractor, snippet_spec
    section = dict(cfg.get('extractor') or {})
    section.update({k: v for k, v in overrides.items() if v is not None})
    if recognizer:
        section['config'] = recognizer
    if checkpoint:
        section['checkpoint'] = None if checkpoint.lower() == 'none' else checkpoint
    if not section.get('config'):
        raise InferenceError(
            f'{_config_name(cfg)}: a video input needs a feature extractor, and this config has '
            'no `extractor` section: add extractor=dict(config=RECOGNIZER_CONFIG, '
            'checkpoint=CKPT, ...) or pass --extractor-config/--extractor-checkpoint')
    names = section.get('class_names')
    spec = snippet_spec(section.get('preset'), clip_len=section.get('clip_len'),
                        frame_interval=section.get('frame_interval'),
                        stride=section.get('stride'), align=section.get('align'))
    extractor = FeatureExtractor(
        section['config'], section.get('checkpoint'), snippet=spec,
        backend=section.get('backend', 'pyav'), batch_size=section.get('batch_size', 32),
        device=device, with_scores=bool(names))
    extractor.class_names = load_class_names(names) if names else None
    return extractor


def collect_inputs(inputs: Union[str, Sequence[str]]) -> List[str]:
    """Videos and feature files from a path, a folder of either, or a list of paths."""
    if not isinstance(inputs, str):
        return [p for item in inputs for p in collect_inputs(item)]
    if os.path.isdir(inputs):
        found = sorted(os.path.join(inputs, f) for f in os.listdir(inputs)
                       if is_video_file(f) or is_feature_file(f))
        if not found:
            raise InferenceError(f'{inputs}: no video or feature file in this folder')
        return found
    if not os.path.isfile(inputs):
        raise InferenceError(f'{inputs}: no such file or folder')
    if inputs.endswith('.txt'):
        return list_videos(inputs)
    return [inputs]


# ---------------------------------------------------------------------------- video timing
def _read_annotations(ann_file: str, video_info_file: Optional[str] = None) -> Dict[str, dict]:
    """``{video: entry}`` of an ActivityNet-style JSON or a THUMOS CSV (+ video info CSV)."""
    from ..datasets.anet_feature_dataset import read_annotation_database
    from ..datasets.thumos_window_dataset import load_thumos_annotations, load_video_info
    if ann_file.lower().endswith('.csv'):
        database = load_thumos_annotations(ann_file)
        for entry in database.values():
            entry.pop('gt_frames', None)
            if 'fps_estimate' in entry:
                entry['fps'] = entry.pop('fps_estimate')
    else:
        database = {k: dict(v) for k, v in read_annotation_database(
            ann_file, '{duration_second, annotations}').items() if isinstance(v, dict)}
    if video_info_file:
        for video, extra in load_video_info(video_info_file).items():
            database.setdefault(video, dict(annotations=[])).update(extra)
    return database


def _timing(name: str, length: int, base: dict, default_stride: float, where: str) -> dict:
    """Complete ``base`` into the fields both dataset layouts read (ActivityNet: duration_second,
    duration_frame, feature_frame; windows: fps, num_frames)."""
    info = {k: v for k, v in base.items() if v is not None}
    frames = info.get('num_frames', info.get('duration_frame'))
    if frames is None and 'duration_second' in info and 'fps' in info:
        frames = float(info['duration_second']) * float(info['fps'])
    if frames is None:
        frames = length * default_stride
    if 'duration_second' not in info:
        if 'fps' not in info:
            raise InferenceError(
                f'{where}: the duration of video {name!r} is unknown: give an annotation file '
                '(--ann-file) with its duration_second or fps, or --fps, or infer on the video '
                'itself (the extractor records its timing)')
        info['duration_second'] = float(frames) / float(info['fps'])
    info.setdefault('fps', float(frames) / float(info['duration_second']))
    info.setdefault('duration_frame', frames)
    info.setdefault('num_frames', frames)
    info.setdefault('feature_frame', info['duration_frame'])
    info['annotations'] = list(info.get('annotations') or [])
    keep = ('duration_second', 'duration_frame', 'feature_frame', 'fps', 'num_frames',
            'annotations')
    return {k: info[k] for k in keep}


# ---------------------------------------------------------------------------- the test run
def _dataset_cfg(cfg: Config) -> dict:
    loader = cfg.get('test_dataloader') or cfg.get('val_dataloader')
    if not loader or not loader.get('dataset'):
        raise InferenceError(f'{_config_name(cfg)}: no test_dataloader.dataset: inference runs '
                             'the config\'s test dataset pipeline')
    ds = copy.deepcopy(dict(loader['dataset']))
    if ds.get('type') not in _TAL_DATASETS:
        raise InferenceError(f'{_config_name(cfg)}: test dataset {ds.get("type")!r} is not a '
                             f'feature dataset inference knows ({_TAL_DATASETS})')
    return ds


def _metric(cfg: Config, ann_file: str):
    from mmaction.registry import METRICS
    evaluators = cfg.get('test_evaluator') or cfg.get('val_evaluator') or []
    if isinstance(evaluators, dict) and 'metrics' in evaluators:
        evaluators = evaluators['metrics']
    if isinstance(evaluators, dict):
        evaluators = [evaluators]
    metric = next((dict(m) for m in evaluators if m.get('type') == 'TALDetectionMetric'), None)
    if metric is None:
        merge = next((m.get('merge_cfg') for m in evaluators
                      if m.get('type') == 'TALProposalMetric'), None)
        metric = dict(type='TALDetectionMetric', merge_cfg=merge)
    metric.update(ann_file=ann_file, out_dir=None, no_classifier='proposal')
    return METRICS.build(metric)


def _predict(model, dataset, batch_size: int) -> List[dict]:
    """The test loop: batches of the dataset through ``model.test_step``."""
    from mmengine.dataset import pseudo_collate
    preds: List[dict] = []
    with torch.no_grad():
        for start in range(0, len(dataset), batch_size):
            batch = pseudo_collate([dataset[i] for i in
                                    range(start, min(start + batch_size, len(dataset)))])
            preds.extend(model.test_step(batch))
    return preds


def _expected_width(cfg: Config, model) -> Optional[int]:
    ds = (cfg.get('test_dataloader') or {}).get('dataset') or {}
    width = ds.get('feat_dim')
    if width is None:
        localizer = getattr(model, 'localizer', model)
        width = getattr(localizer, 'feat_dim', None)
    return None if width is None else int(width)


def _classifier_for(metric, names: Sequence[str], classifier, recognizer_scores: dict):
    """Pick the video-level classifier (module docstring); None: no class source."""
    if classifier is not None:
        return classifier if isinstance(classifier, VideoClassifierScores) \
            else load_classifier(classifier)
    if recognizer_scores and len(recognizer_scores) == len(names):
        class_names, rows = None, []
        for n in names:
            class_names, scores = recognizer_scores[n]
            rows.append(scores)
        return VideoClassifierScores(list(names), np.asarray(rows, dtype=np.float64),
                                     list(class_names), 'first', 'recognizer scores')
    if metric.classifier_file and os.path.isfile(str(metric.classifier_file)):
        clf = metric.classifier()
        if all(clf.lookup(n) is not None for n in names):
            return clf
    return None


def inference_localizer(model: torch.nn.Module, inputs: Union[str, Sequence[str]],
                        video_info: Optional[Dict[str, dict]] = None,
                        ann_file: Optional[str] = None, video_info_file: Optional[str] = None,
                        classifier: Union[str, VideoClassifierScores, None] = None,
                        extractor=None, feature_dir: Optional[str] = None,
                        fps: Optional[float] = None,
                        on_error=None) -> List[dict]:
    """Labelled detections for videos and/or feature files (module docstring).

    Args:
        model: from :func:`init_localizer` (``model.cfg`` is its config).
        inputs: a video, a feature file, a folder of either, or a list of them.
        video_info: ``{video: {duration_second | fps, num_frames, annotations...}}`` overriding
            every other timing source (a single dict applies to every input).
        ann_file, video_info_file: annotation file (ActivityNet JSON or THUMOS CSV, + THUMOS
            video info CSV) giving timing and the ground truth returned in ``annotations``.
        classifier: video-level classifier for proposal heads (path or scores).
        extractor: a :class:`FeatureExtractor` for videos (default: the config's ``extractor``).
        feature_dir: where extracted features go (default: a temporary folder).
        fps: frame rate for feature files without any timing.
        on_error: ``f(path, message)`` for a failed input; the others go on. None: raise.

    Returns one dict per video: ``video_name, duration_second, fps, label_source,
    detections`` (``[{label, score, segment: [start_s, end_s]}]``, in the order of the submission
    that ``tools/test.py`` writes), ``annotations``
    (the ground truth when known) and ``feature_file``.
    """
    from mmaction.registry import DATASETS
    cfg = model.cfg
    where_cfg = _config_name(cfg)
    paths = collect_inputs(inputs)
    tmp = tempfile.TemporaryDirectory(prefix='sola_infer_')
    try:
        feature_dir = feature_dir or os.path.join(tmp.name, 'features')
        annotations = _read_annotations(ann_file, video_info_file) if ann_file else {}
        matcher = VideoIdMatcher(list(annotations))
        width = _expected_width(cfg, model)
        # frames per feature row when nothing else says: the window grid, or BMN's interval
        default_stride = float(_dataset_cfg(cfg).get('snippet_stride') or getattr(
            getattr(model, 'localizer', model), 'feature_extraction_interval', 1) or 1)
        failures: Dict[str, str] = {}

        def fail(path: str, msg: str) -> None:
            if on_error is None:
                raise InferenceError(msg) from None
            failures[path] = msg
            on_error(path, msg)

        features: Dict[str, str] = {}       # video name -> feature file
        timing: Dict[str, dict] = {}
        extracted: Dict[str, bool] = {}
        recognizer_scores: Dict[str, tuple] = {}
        for path in paths:
            name = video_name(path)
            try:
                if is_video_file(path) or not is_feature_file(path):
                    if extractor is None:
                        extractor = build_extractor(cfg)
                    result = extractor.extract(path)
                    names = getattr(extractor, 'class_names', None)
                    fpath = save_video_features(result, feature_dir, name, '.npy', names)
                    meta = result.video_info()
                    if result.class_scores is not None and names:
                        recognizer_scores[name] = (names, result.class_scores)
                    extracted[name] = True
                else:
                    fpath = path
                    meta = read_video_meta(path) or {}
                    extracted[name] = bool(meta)
                length, channels = feature_shape(fpath, video=name)
                if width is not None and channels != width:
                    source = (f'the extractor ({extractor.source})' if is_video_file(path)
                              else 'the file')
                    raise FeatureError(f'{path}: features of {channels} channels from {source}, '
                                       f'but the model of {where_cfg} takes {width}')
                # timing: the extractor's (what the features stand for) over the annotation
                # file's; ground truth: the annotation file's
                base = {}
                idx = matcher.find(name)
                if idx is not None:
                    base.update(annotations[list(annotations)[idx]])
                base.update({k: v for k, v in meta.items() if k in _TIMING})
                if fps is not None:
                    base.setdefault('fps', fps)
                if video_info:
                    per_video = isinstance(next(iter(video_info.values()), None), dict)
                    extra = video_info.get(name, {}) if per_video else video_info
                    base.update(extra)
                stride = float(meta.get('snippet', {}).get('stride') or default_stride)
                timing[name] = _timing(name, length, base, stride, path)
                if name in features:
                    raise InferenceError(f'{path}: a second input named {name!r}')
                features[name] = fpath
            except (ValueError, OSError, RuntimeError, KeyError) as err:
                fail(path, str(err) if path in str(err) else f'{path}: {err}')
        if not features:
            return []
        # one dataset over the inputs, through the config's test pipeline
        by_dir: Dict[tuple, List[str]] = {}
        for name, fpath in features.items():
            key = (os.path.dirname(os.path.abspath(fpath)), os.path.splitext(fpath)[1],
                   extracted[name])
            by_dir.setdefault(key, []).append(name)
        preds: List[dict] = []
        batch = int((cfg.get('test_dataloader') or {}).get('batch_size', 1) or 1)
        ann_path = os.path.join(tmp.name, 'videos.json')
        for (folder, ext, from_extractor), names in by_dir.items():
            atomic_write_json(ann_path, {n: timing[n] for n in names})
            ds = _dataset_cfg(cfg)
            ds.update(ann_file=ann_path, data_prefix=dict(feature=folder + os.sep),
                      feature_ext=ext, test_mode=True)
            for key in ('streams', 'video_info_file', 'data_root', 'indices'):
                ds.pop(key, None)
            if 'exclude_videos' in ds:
                ds['exclude_videos'] = ()
            ds['feature_key'] = None
            if from_extractor:
                ds['feature_stride'] = 1
                if ds.get('type') == 'ThumosWindowDataset':
                    strides = {extract_stride(features[n]) for n in names} - {None}
                    if strides and strides != {ds.get('snippet_stride', 5)}:
                        raise InferenceError(
                            f'{where_cfg}: the windows assume {ds.get("snippet_stride")} frames '
                            f'per snippet, the features were extracted every {strides} frames')
            dataset = DATASETS.build(ds)
            preds.extend(_predict(model, dataset, batch))
        metric = _metric(cfg, ann_path)
        names = list(features)
        clf = _classifier_for(metric, names, classifier, recognizer_scores)
        if clf is not None:
            metric.set_classifier(clf)
        else:  # the config's classifier file does not cover these videos: no class source
            metric.classifier_file = None
        metric.process(None, preds)
        videos, mode, fused = metric.detections(metric.results)
        out = []
        fused_by = {f[0]: f for f in (fused or [])}
        source = {'labels': 'model', 'proposal': 'none',
                  'classifier': f'classifier ({getattr(clf, "source", "")})'}.get(mode, mode)
        for name in names:
            if name in fused_by:
                _, seg, sc, labels = fused_by[name]
            else:  # no class source (or a video without proposals)
                v = videos.get(name)
                seg = v.segments if v is not None else np.zeros((0, 2))
                sc = v.scores if v is not None else np.zeros(0)
                labels = [UNLABELLED] * len(sc)
            dets = [dict(label=str(lab), score=float(s), segment=[float(a), float(b)])
                    for lab, s, (a, b) in zip(labels, np.asarray(sc).tolist(),
                                              np.asarray(seg).reshape(-1, 2).tolist())]
            info = timing[name]
            out.append(dict(video_name=name, duration_second=float(info['duration_second']),
                            fps=float(info['fps']), label_source=source, detections=dets,
                            annotations=info['annotations'], feature_file=features[name]))
        return out
    finally:
        tmp.cleanup()


def extract_stride(feature_file: str) -> Optional[float]:
    meta = read_video_meta(feature_file) or {}
    stride = (meta.get('snippet') or {}).get('stride')
    return None if stride is None else float(stride)
