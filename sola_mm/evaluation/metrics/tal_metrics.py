"""Registered TAL metrics: detection mAP (``TALDetectionMetric``) and AR@AN (``TALProposalMetric``).

Thin wrappers around ``sola_mm.evaluation.functional``; the numbers equal the official
ActivityNet / THUMOS evaluators (see ``docs/evaluation.md``). Both metrics:

* take the model's predict dicts (``docs/architecture.md``): ``video_name``, ``proposal_list`` of
  ``{score, segment}`` in seconds, optionally ``label`` per proposal, ``fps``, ``num_frames``,
  ``duration_second`` and sliding-window keys;
* merge the dicts of one video when there are several, or when they come from sliding windows
  (``window_start_snippet``): concatenate, soft-NMS again (``merge_cfg``; default the official
  THUMOS G-TAD setting: sigma 0.46, top 200, proposals of >= 300 frames zeroed, which needs
  ``fps``), keep the top-k, clip to the video. When every proposal carries ``segment_frames`` the
  merge runs in frames, exactly like G-TAD;
* read the ground truth from ``ann_file`` (official or MMAction2 layout, ``v_`` prefixes matched),
  drop ``blocked_videos`` from GT and predictions, and write the results in the ActivityNet
  submission format (atomically; ids as in the official GT, i.e. without the ``v_`` that the
  MMAction2 layout adds) plus a metrics JSON when ``out_dir`` is set (``tools/test.py`` sets it to
  the work dir).

Proposal heads predict no class. ``TALDetectionMetric`` then labels proposals with the top-k
classes of a video classifier (``classifier_file``: CUHK JSON for ActivityNet, UntrimmedNet
``.npy`` for THUMOS), score = proposal x class score. Without a classifier, ``no_classifier``
chooses: ``'proposal'`` reports AR@AN/AUC only (and says so in the log), ``'gt_label'`` uses each
video's ground-truth classes ("oracle classes", not comparable with published mAP).
"""
from __future__ import annotations

import os
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from mmaction.registry import METRICS
from sola_mm.models.localizers.gtad.postprocess import fuse_topk_classes
from ..functional.classifier import VideoClassifierScores, load_class_names, load_classifier
from ..functional.detection import (ANET_TIOU_THRESHOLDS, DetectionArrays, UnknownLabelError,
                                    evaluate_detection)
from ..functional.ground_truth import (GroundTruth, expand_video_ids, load_ground_truth,
                                       load_video_list)
from ..functional.proposal import ProposalArrays, ProposalResult, evaluate_proposals
from ..functional.soft_nms import batched_soft_nms
from ..functional.submission import atomic_write_json, write_submission

__all__ = ['TALDetectionMetric', 'TALProposalMetric', 'detection_entries']

_DEFAULT_MERGE = dict(sigma=0.46, top_k=200, max_length=300., style='gtad', clip=True)
_INFO_KEYS = ('fps', 'num_frames', 'duration_second')


def _threshold_key(t: float) -> str:
    return f'{round(float(t), 4):g}'


class _VideoPreds:
    """Proposals of one video after merging (arrays, seconds)."""

    __slots__ = ('segments', 'scores', 'labels')

    def __init__(self, segments: np.ndarray, scores: np.ndarray,
                 labels: Optional[List[Any]]) -> None:
        self.segments = segments
        self.scores = scores
        self.labels = labels


def _compact(pred: Any) -> Dict[str, Any]:
    """One predict dict -> arrays (what is kept between process() and compute_metrics())."""
    if not isinstance(pred, dict):
        raise TypeError(f'TAL metrics expect the predict dicts of docs/architecture.md, got '
                        f'{type(pred).__name__}')
    name = pred.get('video_name')
    if name is None:
        raise KeyError(f'predict dict without "video_name" (keys: {sorted(pred)})')
    plist = pred.get('proposal_list')
    if plist is None:
        raise KeyError(f'predict dict of video {name!r} has no "proposal_list"')
    try:
        segments = np.asarray([p['segment'] for p in plist], dtype=np.float64).reshape(-1, 2)
        scores = np.asarray([p['score'] for p in plist], dtype=np.float64).reshape(-1)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f'video {name!r}: every proposal_list entry needs "score" and "segment" '
                         f'[start, end] in seconds ({exc!r})') from None
    n_lab = sum('label' in p for p in plist)
    if n_lab not in (0, len(plist)):
        raise ValueError(f'video {name!r}: {n_lab} of {len(plist)} proposals carry "label"; '
                         f'either all or none must')
    labels = [p['label'] for p in plist] if plist and n_lab else None
    frames = None
    if plist and all('segment_frames' in p for p in plist):
        frames = np.asarray([p['segment_frames'] for p in plist], dtype=np.float64).reshape(-1, 2)
    out = dict(video_name=str(name), segments=segments, scores=scores, labels=labels,
               frames=frames, window='window_start_snippet' in pred)
    for key in _INFO_KEYS:
        if pred.get(key) is not None:
            out[key] = float(pred[key])
    return out


def _missing_gt_videos(videos: 'OrderedDict[str, _VideoPreds]', gt: GroundTruth) -> int:
    """GT videos (with instances) that have no prediction: their GT only counts as misses."""
    found = {gt.find_video(n) for n, v in videos.items() if len(v.scores)}
    return int(sum(1 for i in np.unique(gt.video) if int(i) not in found))


def detection_entries(fused, video_id=str) -> Dict[str, List[dict]]:
    """Labelled detections ``[(video, segments, scores, names)]`` -> the submission's
    ``{video_id(video): [{label, score, segment}]}`` (``tools/test.py`` and ``tools/infer.py``)."""
    out: Dict[str, List[dict]] = {}
    for name, seg, sc, names in fused:
        out[video_id(name)] = [dict(label=c, score=float(s), segment=[float(a), float(b)])
                               for c, s, (a, b) in zip(names, np.asarray(sc).tolist(),
                                                       np.asarray(seg).tolist())]
    return out


class _TALMetricBase(BaseMetric):
    """Shared: predict-dict collection, window merging, ground truth, dumping."""

    def __init__(self,
                 ann_file: str,
                 subset: Optional[str] = 'validation',
                 video_info_file: Optional[str] = None,
                 blocked_videos: Union[str, Sequence[str], None] = None,
                 merge_cfg: Optional[dict] = None,
                 fps: Optional[float] = None,
                 tie_order: str = 'stable',
                 out_dir: Optional[str] = None,
                 submission_version: str = 'VERSION 1.3',
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.ann_file = ann_file
        self.subset = subset
        self.video_info_file = video_info_file
        self.blocked_videos = load_video_list(blocked_videos)
        self._blocked = expand_video_ids(self.blocked_videos)
        merge = dict(_DEFAULT_MERGE)
        merge.update(merge_cfg or {})
        unknown = set(merge) - set(_DEFAULT_MERGE)
        if unknown:
            raise ValueError(f'merge_cfg: unknown keys {sorted(unknown)}; allowed '
                             f'{sorted(_DEFAULT_MERGE)}')
        self.merge_cfg = merge
        if tie_order not in ('stable', 'official'):
            raise ValueError(f"tie_order must be 'stable' or 'official', got {tie_order!r}")
        self.fps = fps
        self.tie_order = tie_order
        self.out_dir = out_dir
        self.submission_version = submission_version
        self._gt: Optional[GroundTruth] = None

    # ------------------------------------------------------------------ collection
    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        for pred in data_samples:
            self.results.append(_compact(pred))

    @property
    def logger(self) -> MMLogger:
        return MMLogger.get_current_instance()

    def ground_truth(self) -> GroundTruth:
        """The ground truth (loaded once)."""
        if self._gt is None:
            self._gt = load_ground_truth(self.ann_file, subset=self.subset,
                                         blocked_videos=self.blocked_videos,
                                         video_info_file=self.video_info_file)
        return self._gt

    # ------------------------------------------------------------------ merging
    def merge_predictions(self, results: List[Dict[str, Any]]) -> 'OrderedDict[str, _VideoPreds]':
        """Group the compact predict dicts by video and merge windows (see module docstring)."""
        groups: 'OrderedDict[str, List[Dict[str, Any]]]' = OrderedDict()
        for r in results:
            if r['video_name'] in self._blocked:
                continue
            groups.setdefault(r['video_name'], []).append(r)
        out: 'OrderedDict[str, _VideoPreds]' = OrderedDict()
        jobs = []  # (video, label or None, segments, scores, unit info)
        for name, parts in groups.items():
            if len(parts) == 1 and not parts[0]['window']:
                p = parts[0]
                out[name] = _VideoPreds(p['segments'], p['scores'], p['labels'])
                continue
            out[name] = None  # type: ignore[assignment]  (keeps first-appearance order)
            info = {k: next((p[k] for p in parts if k in p), None) for k in _INFO_KEYS}
            fps = info['fps'] if info['fps'] is not None else self.fps
            # a window without proposals has no segment_frames: it must not switch to seconds
            use_frames = fps is not None and all(p['frames'] is not None for p in parts
                                                 if len(p['scores']))
            segs = np.concatenate([p['frames'] if use_frames and p['frames'] is not None
                                   else p['segments'] for p in parts])
            scores = np.concatenate([p['scores'] for p in parts])
            labelled = [p['labels'] is not None for p in parts if len(p['scores'])]
            if any(labelled) and not all(labelled):
                raise ValueError(f'video {name!r}: some windows have labelled proposals and '
                                 f'some do not')
            labels = (sum((p['labels'] or [] for p in parts), [])
                      if labelled and all(labelled) else None)
            raw_scores = scores
            max_len = self.merge_cfg['max_length']
            if max_len is not None and len(scores):
                if fps is None:
                    raise ValueError(f'video {name!r}: merging windows with max_length='
                                   f'{max_len} frames needs "fps" in the predict dict (or the '
                                   f'metric\'s fps=...), or set merge_cfg.max_length=None')
                length = segs[:, 1] - segs[:, 0]
                # seconds -> frames is not exact; real proposal lengths are whole frames
                too_long = length >= max_len if use_frames else length * fps >= max_len - 1e-6
                scores = np.where(too_long, 0., scores)
            if labels is None:
                jobs.append((name, None, segs, scores, raw_scores, fps, use_frames, info))
            else:
                lab_arr = np.asarray([str(x) for x in labels])
                for lab in dict.fromkeys(labels):
                    sel = lab_arr == str(lab)
                    jobs.append((name, lab, segs[sel], scores[sel], raw_scores[sel], fps,
                                 use_frames, info))
        if jobs:
            # like G-TAD's merge: soft-NMS (with long proposals zeroed) only when there is more
            # than one proposal; a single proposal is kept as it is
            multi = [i for i, j in enumerate(jobs) if len(j[3]) > 1]
            nms = batched_soft_nms([jobs[i][2] for i in multi], [jobs[i][3] for i in multi],
                                   sigma=self.merge_cfg['sigma'], top_k=self.merge_cfg['top_k'],
                                   style=self.merge_cfg['style'])
            merged = [(j[2], j[4]) for j in jobs]
            for i, res in zip(multi, nms):
                merged[i] = res
            pieces: Dict[str, List[Any]] = {}
            for (name, lab, _, _, _, fps, use_frames, info), (seg, sc) in zip(jobs, merged):
                order = np.argsort(-sc, kind='stable')[:self.merge_cfg['top_k']]
                seg, sc = seg[order], sc[order]
                seg = self._to_clipped_seconds(seg, fps, use_frames, info)
                pieces.setdefault(name, []).append((lab, seg, sc))
            for name, plist in pieces.items():
                if plist[0][0] is None:
                    _, seg, sc = plist[0]
                    out[name] = _VideoPreds(seg, sc, None)
                else:
                    seg = np.concatenate([p[1] for p in plist])
                    sc = np.concatenate([p[2] for p in plist])
                    labs = sum(([p[0]] * len(p[2]) for p in plist), [])
                    order = np.argsort(-sc, kind='stable')
                    out[name] = _VideoPreds(seg[order], sc[order], [labs[i] for i in order])
        for name, v in out.items():
            if v is None:  # labelled windows that were all empty
                out[name] = _VideoPreds(np.zeros((0, 2)), np.zeros(0), None)
        return out

    def _to_clipped_seconds(self, seg: np.ndarray, fps: Optional[float], use_frames: bool,
                            info: Dict[str, Any]) -> np.ndarray:
        clip = self.merge_cfg['clip']
        if use_frames:
            num_frames = info['num_frames']
            if clip:
                hi = seg[:, 1] if num_frames is None else np.minimum(num_frames, seg[:, 1])
                return np.stack([np.maximum(0, seg[:, 0]) / fps, hi / fps], axis=1)
            return seg / fps
        if not clip:
            return seg
        duration = info['duration_second']
        if duration is None and info['num_frames'] is not None and fps is not None:
            duration = info['num_frames'] / fps
        hi = seg[:, 1] if duration is None else np.minimum(duration, seg[:, 1])
        return np.stack([np.maximum(0, seg[:, 0]), hi], axis=1)

    # ------------------------------------------------------------------ output
    def _dump(self, filename: str, obj: Any) -> Optional[str]:
        if not self.out_dir:
            return None
        path = atomic_write_json(os.path.join(self.out_dir, filename), obj)
        self.logger.info(f'{type(self).__name__}: wrote {path}')
        return path

    def _dump_submission(self, filename: str, results: Dict[str, List[dict]]) -> None:
        if not self.out_dir:
            return
        path = write_submission(os.path.join(self.out_dir, filename), results,
                                version=self.submission_version)
        self.logger.info(f'{type(self).__name__}: wrote {path}')

    def _evaluate_proposals(self, videos: 'OrderedDict[str, _VideoPreds]', gt: GroundTruth,
                            tiou_thresholds: np.ndarray,
                            max_avg_nr_proposals: float) -> ProposalResult:
        names = list(videos)
        found = [gt.find_video(n) for n in names]
        vidx = np.asarray([-1 if i is None else i for i in found], dtype=np.int64)
        counts = np.asarray([len(videos[n].scores) for n in names], dtype=np.int64)
        arrays = ProposalArrays(
            video=np.repeat(vidx, counts),
            segments=(np.concatenate([videos[n].segments for n in names]) if names
                      else np.zeros((0, 2))),
            scores=np.concatenate([videos[n].scores for n in names]) if names else np.zeros(0))
        return evaluate_proposals(gt, arrays, tiou_thresholds, max_avg_nr_proposals,
                                  tie_order=self.tie_order)

    def _proposal_submission(self, videos: 'OrderedDict[str, _VideoPreds]',
                             gt: GroundTruth) -> Dict[str, List[dict]]:
        return {
            gt.submission_id(n): [dict(score=float(s), segment=[float(a), float(b)])
                                 for s, (a, b) in zip(v.scores.tolist(), v.segments.tolist())]
            for n, v in videos.items()
        }

    def _proposal_metrics(self, res: ProposalResult, topk: Sequence[int]) -> Dict[str, float]:
        out = {f'AR@{k}': res.ar_at(k) for k in topk}
        out['AUC'] = res.auc
        return out


@METRICS.register_module()
class TALProposalMetric(_TALMetricBase):
    """AR@AN and AUC with the official ActivityNet proposal semantics.

    Args:
        ann_file: ground truth (official layout with ``subset``, or MMAction2 layout).
        subset: subset of the official layout (``'validation'``; THUMOS ``'test'``).
        tiou_thresholds: default ``np.linspace(0.5, 0.95, 10)``.
        max_avg_nr_proposals: the official AN budget (100).
        topk: AN values reported as ``AR@k``.
        video_info_file: CSV with ``video,subset`` for MMAction2-layout files holding all subsets.
        blocked_videos: ids (list or file) removed from GT and predictions.
        merge_cfg: window merging (``sigma``, ``top_k``, ``max_length`` in frames, ``style``,
            ``clip``); default the official THUMOS G-TAD setting.
        fps: frame rate used when the predict dicts carry none.
        tie_order: ``'stable'`` or ``'official'`` (see docs/evaluation.md).
        out_dir: if set, ``proposals.json`` (submission format) and ``proposal_metrics.json``.
    """

    def __init__(self,
                 ann_file: str,
                 subset: Optional[str] = 'validation',
                 tiou_thresholds: Optional[Sequence[float]] = None,
                 max_avg_nr_proposals: float = 100,
                 topk: Sequence[int] = (1, 5, 10, 100),
                 **kwargs: Any) -> None:
        super().__init__(ann_file, subset=subset, **kwargs)
        self.tiou_thresholds = (ANET_TIOU_THRESHOLDS if tiou_thresholds is None
                                else np.asarray(tiou_thresholds, dtype=np.float64))
        self.max_avg_nr_proposals = max_avg_nr_proposals
        self.topk = tuple(topk)

    def compute_metrics(self, results: list) -> Dict[str, float]:
        gt = self.ground_truth()
        videos = self.merge_predictions(results)
        res = self._evaluate_proposals(videos, gt, self.tiou_thresholds,
                                       self.max_avg_nr_proposals)
        metrics = self._proposal_metrics(res, self.topk)
        self.logger.info(
            f'TALProposalMetric: {res.num_videos} GT videos '
            f'({_missing_gt_videos(videos, gt)} without proposals), {res.num_gt} instances, '
            f'{res.num_proposals} proposals: ' +
            ', '.join(f'{k} {v:.4f}' for k, v in metrics.items()))
        if self.out_dir:
            self._dump_submission('proposals.json', self._proposal_submission(videos, gt))
            self._dump('proposal_metrics.json', res.to_dict(self.topk))
        return metrics


@METRICS.register_module()
class TALDetectionMetric(_TALMetricBase):
    """Detection mAP at several tIoU thresholds, equal to the official evaluator.

    Logged keys: ``mAP_avg`` (first, so ``save_best='auto'`` selects on it) and ``mAP@<thr>`` for
    each threshold, then ``AR@k`` and ``AUC`` with ``proposal_metrics=True``. With
    no classifier and ``no_classifier='proposal'`` the keys are the proposal ones
    (``AR@k``, ``AUC``) instead.

    Args:
        ann_file, subset, video_info_file, blocked_videos, merge_cfg, fps, tie_order:
            see :class:`TALProposalMetric`.
        tiou_thresholds: default ActivityNet ``np.linspace(0.5, 0.95, 10)``; THUMOS
            ``[0.3, 0.4, 0.5, 0.6, 0.7]``.
        classifier_file: video-level class scores for class-agnostic proposals: CUHK JSON
            (ActivityNet) or UntrimmedNet ``.npy`` (THUMOS).
        classifier_format: ``'auto'`` (by extension), ``'cuhk'`` or ``'untrimmednet'``.
        class_names_file: names of the classifier columns for a plain ``{video: [scores]}`` JSON,
            or of integer ``label`` values in the predict dicts.
        top_k_classes: classes per video (2 in BSN/BMN/G-TAD).
        fusion_top_k: proposals per video used for fusion (ActivityNet 100, THUMOS 200).
        fusion_layout: ``'blocked'`` (ActivityNet) or ``'interleaved'`` (THUMOS G-TAD).
        fusion_score: ``'product'`` (proposal x class score, BSN/BMN/G-TAD) or ``'sqrt'``
            (``sqrt(class x proposal score)``, ActionFormer; with ``fusion_top_k=200``).
        classifier_tie_break: ``'first'``/``'last'``; default from the file type (CUHK first,
            UntrimmedNet last, as the official code ranks).
        thumos_rounding: round scores to 6 and segments to 1 decimal (official G-TAD THUMOS).
        no_classifier: without classifier and labels: ``'proposal'`` (AR@AN only) or
            ``'gt_label'`` (oracle classes: each video's GT classes, class score 1).
        unknown_label: ``'raise'`` (default) or ``'ignore'`` for labels that are not GT classes.
        nan_tiou: ``'match'`` (official) or ``'no_match'`` for 0/0 tIoU.
        max_avg_nr_proposals, proposal_topk: AR@AN settings (``no_classifier='proposal'``
            fallback and ``proposal_metrics``).
        proposal_metrics: also report ``AR@k`` / ``AUC`` of the class-agnostic proposals (ANet
            style, one metric for both; ignored when the predictions carry labels).
        out_dir: if set, ``detections.json`` (submission) and ``detection_metrics.json``
            (per-class AP).
    """

    def __init__(self,
                 ann_file: str,
                 subset: Optional[str] = 'validation',
                 tiou_thresholds: Optional[Sequence[float]] = None,
                 classifier_file: Optional[str] = None,
                 classifier_format: str = 'auto',
                 class_names_file: Optional[str] = None,
                 top_k_classes: int = 2,
                 fusion_top_k: int = 100,
                 fusion_layout: str = 'blocked',
                 fusion_score: str = 'product',
                 classifier_tie_break: Optional[str] = None,
                 thumos_rounding: bool = False,
                 no_classifier: str = 'proposal',
                 unknown_label: str = 'raise',
                 nan_tiou: str = 'match',
                 max_avg_nr_proposals: float = 100,
                 proposal_topk: Sequence[int] = (1, 5, 10, 100),
                 proposal_metrics: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(ann_file, subset=subset, **kwargs)
        if no_classifier not in ('proposal', 'gt_label'):
            raise ValueError(f"no_classifier must be 'proposal' or 'gt_label', got "
                             f'{no_classifier!r}')
        if fusion_layout not in ('blocked', 'interleaved'):
            raise ValueError(f"fusion_layout must be 'blocked' or 'interleaved', got "
                             f'{fusion_layout!r}')
        if fusion_score not in ('product', 'sqrt'):
            raise ValueError(f"fusion_score must be 'product' or 'sqrt', got {fusion_score!r}")
        if unknown_label not in ('raise', 'ignore'):
            raise ValueError(f"unknown_label must be 'raise' or 'ignore', got {unknown_label!r}")
        if nan_tiou not in ('match', 'no_match'):
            raise ValueError(f"nan_tiou must be 'match' or 'no_match', got {nan_tiou!r}")
        if classifier_tie_break not in (None, 'first', 'last'):
            raise ValueError(f"classifier_tie_break must be None, 'first' or 'last', got "
                             f'{classifier_tie_break!r}')
        if int(top_k_classes) < 1 or int(fusion_top_k) < 1:
            raise ValueError(f'top_k_classes ({top_k_classes}) and fusion_top_k ({fusion_top_k}) '
                             f'must be >= 1')
        self.tiou_thresholds = (ANET_TIOU_THRESHOLDS if tiou_thresholds is None
                                else np.asarray(tiou_thresholds, dtype=np.float64))
        self.classifier_file = classifier_file
        self.classifier_format = classifier_format
        self.class_names_file = class_names_file
        self.top_k_classes = top_k_classes
        self.fusion_top_k = fusion_top_k
        self.fusion_layout = fusion_layout
        self.fusion_score = fusion_score
        self.classifier_tie_break = classifier_tie_break
        self.thumos_rounding = thumos_rounding
        self.no_classifier = no_classifier
        self.unknown_label = unknown_label
        self.nan_tiou = nan_tiou
        self.max_avg_nr_proposals = max_avg_nr_proposals
        self.proposal_topk = tuple(proposal_topk)
        self.proposal_metrics = proposal_metrics
        self._classifier: Optional[VideoClassifierScores] = None
        self._class_names: Optional[List[str]] = None

    def classifier(self) -> VideoClassifierScores:
        """The classifier scores (loaded once)."""
        if self._classifier is None:
            self._classifier = load_classifier(self.classifier_file, self.classifier_format,
                                               self.class_names_file)
            if self.classifier_tie_break is not None:
                self._classifier.tie_break = self.classifier_tie_break
        return self._classifier

    # ------------------------------------------------------------------ detections
    def _label_names(self, labels: List[Any], video: str) -> List[str]:
        if all(isinstance(x, str) for x in labels):
            return labels
        if self.class_names_file is None:
            raise ValueError(f'video {video!r}: integer proposal labels need class_names_file '
                             f'to map them to class names')
        if self._class_names is None:
            self._class_names = load_class_names(self.class_names_file)
        names = self._class_names
        out = []
        for x in labels:
            if isinstance(x, str):
                out.append(x)
                continue
            i = int(x)
            if not 0 <= i < len(names):
                raise ValueError(f'video {video!r}: proposal label {i} is outside the '
                                 f'{len(names)} names of {self.class_names_file}')
            out.append(names[i])
        return out

    def _fuse(self, videos: 'OrderedDict[str, _VideoPreds]', gt: GroundTruth, mode: str):
        """Per video (segments, scores, class names) after fusion / labels / oracle classes."""
        out = []
        skipped = 0
        for name, v in videos.items():
            if len(v.scores) == 0:
                continue
            if mode == 'labels':
                out.append((name, v.segments, v.scores, self._label_names(v.labels, name)))
                continue
            order = np.argsort(-v.scores, kind='stable')[:self.fusion_top_k]
            seg, sc = v.segments[order], v.scores[order]
            if mode == 'classifier':
                clf = self.classifier()
                cls_scores = clf.lookup(name)
                if cls_scores is None:
                    raise ValueError(f'video {name!r} has no scores in the classifier file '
                                   f'{clf.source}')
                names = clf.class_names
                tie = clf.tie_break
            else:  # oracle classes
                names = gt.labels_of_video(name)
                if not names:
                    skipped += 1
                    continue
                cls_scores = np.ones(len(names))
                tie = 'first'
            # oracle: every GT class of the video; classifier: its top-k classes
            k = len(names) if mode == 'oracle' else min(self.top_k_classes, len(cls_scores))
            det_sc, det_seg, det_cls = fuse_topk_classes(sc, seg, cls_scores, k,
                                                         self.fusion_layout, tie,
                                                         self.fusion_score)
            if self.thumos_rounding:
                det_sc, det_seg = np.round(det_sc, 6), np.round(det_seg, 1)
            out.append((name, det_seg, det_sc, [names[i] for i in det_cls]))
        if skipped:
            self.logger.info(f'TALDetectionMetric: {skipped} predicted videos have no GT class '
                             f'(oracle classes need one): their proposals are dropped')
        return out

    def _to_arrays(self, fused, gt: GroundTruth) -> DetectionArrays:
        class_index = gt.class_index
        vids, labs, segs, scs = [], [], [], []
        n_unknown = 0
        for name, seg, sc, names in fused:
            lab = np.fromiter((class_index.get(c, -1) for c in names), dtype=np.int64,
                              count=len(names))
            if (lab < 0).any():
                if self.unknown_label == 'raise':
                    bad = names[int(np.flatnonzero(lab < 0)[0])]
                    raise UnknownLabelError(
                        f'video {name!r}: predicted label {bad!r} is not a ground-truth class of '
                        f'subset {self.subset!r} of {gt.source} ({len(gt.classes)} classes); the '
                        f'official evaluator raises KeyError here. Fix the class names or set '
                        f'unknown_label="ignore".')
                keep = lab >= 0
                n_unknown += int((~keep).sum())
                seg, sc, lab = seg[keep], sc[keep], lab[keep]
            vi = gt.find_video(name)
            vids.append(np.full(len(lab), -1 if vi is None else vi, dtype=np.int64))
            labs.append(lab)
            segs.append(np.asarray(seg, dtype=np.float64).reshape(-1, 2))
            scs.append(np.asarray(sc, dtype=np.float64))
        if not vids:
            return DetectionArrays(np.zeros(0, np.int64), np.zeros(0, np.int64),
                                   np.zeros((0, 2)), np.zeros(0))
        return DetectionArrays(np.concatenate(vids), np.concatenate(labs), np.concatenate(segs),
                               np.concatenate(scs), num_unknown_label=n_unknown)

    def _proposal_part(self, videos: 'OrderedDict[str, _VideoPreds]', gt: GroundTruth,
                       reason: str) -> Dict[str, float]:
        """AR@AN / AUC of the class-agnostic proposals (logged, dumped, returned)."""
        res = self._evaluate_proposals(videos, gt, ANET_TIOU_THRESHOLDS,
                                       self.max_avg_nr_proposals)
        metrics = self._proposal_metrics(res, self.proposal_topk)
        self.logger.info(f'TALDetectionMetric ({reason}): {res.num_videos} GT videos '
                         f'({_missing_gt_videos(videos, gt)} without proposals), '
                         f'{res.num_proposals} proposals: ' +
                         ', '.join(f'{k} {v:.4f}' for k, v in metrics.items()))
        if self.out_dir:
            self._dump_submission('proposals.json', self._proposal_submission(videos, gt))
            self._dump('proposal_metrics.json', res.to_dict(self.proposal_topk))
        return metrics

    def set_classifier(self, scores: VideoClassifierScores) -> None:
        """Use these video classifier scores instead of ``classifier_file`` (e.g. the scores of
        a recognizer run on the videos, ``tools/infer.py``)."""
        self._classifier = scores

    def label_mode(self, videos: 'OrderedDict[str, _VideoPreds]') -> str:
        """Where the class labels come from: ``'labels'`` (the model's), ``'classifier'``,
        ``'oracle'`` (GT classes) or ``'proposal'`` (none: proposal metrics only)."""
        labelled = [v.labels is not None for v in videos.values() if len(v.scores)]
        if labelled and all(labelled):
            return 'labels'
        if any(labelled):
            raise ValueError('TALDetectionMetric: some videos have labelled proposals and some '
                             'do not')
        if self.classifier_file is not None or self._classifier is not None:
            return 'classifier'
        return 'oracle' if self.no_classifier == 'gt_label' else 'proposal'

    def detections(self, results: List[Dict[str, Any]], gt: Optional[GroundTruth] = None):
        """Predict dicts (``process``'s compact form) -> ``(videos, mode, fused)``: the merged
        class-agnostic or labelled proposals per video, the label source and, unless ``mode`` is
        ``'proposal'``, the labelled detections ``[(video, segments, scores, class names)]``.
        What ``compute_metrics`` evaluates, and what ``tools/infer.py`` writes."""
        videos = self.merge_predictions(results)
        mode = self.label_mode(videos)
        fused = None if mode == 'proposal' else self._fuse(videos, gt, mode)
        return videos, mode, fused

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """mAP per threshold and averaged (``mAP_avg`` first), plus AR@AN when configured."""
        gt = self.ground_truth()
        videos, mode, fused = self.detections(results, gt)
        if mode == 'oracle':
            self.logger.warning(
                'TALDetectionMetric: no classifier_file: proposals get each video\'s '
                'ground-truth classes ("oracle classes", no_classifier=\'gt_label\'); this mAP is '
                'an upper bound for the localization and is NOT comparable with published mAP.')
        elif mode == 'proposal':
            self.logger.warning(
                'TALDetectionMetric: no classifier_file and the proposals carry no labels: '
                'reporting proposal metrics only (AR@AN, AUC; no_classifier=\'proposal\'). Set '
                'classifier_file for mAP, or no_classifier=\'gt_label\' for oracle classes.')
            return self._proposal_part(videos, gt, 'proposal metrics only')

        arrays = self._to_arrays(fused, gt)
        res = evaluate_detection(gt, arrays, self.tiou_thresholds, tie_order=self.tie_order,
                                 nan_tiou=self.nan_tiou)
        metrics: Dict[str, float] = {'mAP_avg': res.average_mAP}
        metrics.update({f'mAP@{_threshold_key(t)}': float(m)
                        for t, m in zip(res.tiou_thresholds, res.mAP)})
        source = {'labels': 'predicted labels', 'classifier': f'classifier {self.classifier_file}',
                  'oracle': 'ORACLE classes (GT labels)'}[mode]
        self.logger.info(
            f'TALDetectionMetric ({source}): {len(videos)} videos, {len(arrays)} detections, '
            f'{gt.num_instances} GT instances, {len(gt.classes)} classes, '
            f'{_missing_gt_videos(videos, gt)} GT videos without predictions' +
            (f', {arrays.num_unknown_label} detections with non-GT labels ignored'
             if arrays.num_unknown_label else '') + '\n' +
            ' '.join(f'{k} {v:.4f}' for k, v in metrics.items()))
        if self.out_dir:
            self._dump_submission('detections.json', detection_entries(fused, gt.submission_id))
            summary = res.to_dict()
            summary['label_source'] = mode
            self._dump('detection_metrics.json', summary)
        if self.proposal_metrics:
            if mode == 'labels':
                self.logger.info('TALDetectionMetric: proposal_metrics skipped: the predictions '
                                 'carry labels, AR@AN is defined on class-agnostic proposals')
            else:
                metrics.update(self._proposal_part(videos, gt, 'class-agnostic proposals'))
        return metrics
