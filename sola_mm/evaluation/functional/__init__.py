"""Evaluation maths (no mmengine): tIoU, detection mAP, AR@AN, soft-NMS (numpy; the batched
ActionFormer/mmcv variant and score voting in PyTorch), GT loading."""
from .classifier import (THUMOS14_UCF101_CLASSES, VideoClassifierScores, load_class_names,  # noqa: F401
                         load_classifier, load_cuhk_classifier, load_untrimmednet_classifier,
                         resolve_class_names)
from .detection import (ANET_TIOU_THRESHOLDS, THUMOS_TIOU_THRESHOLDS, DetectionArrays,  # noqa: F401
                        DetectionResult, UnknownLabelError, average_precision_detection,
                        detections_from_results, evaluate_detection,
                        interpolated_average_precision)
from .ground_truth import (GroundTruth, VideoIdMatcher, expand_video_ids,  # noqa: F401
                           load_ground_truth, load_video_list, read_json)
from .nms_reference import softnms_reference  # noqa: F401
from .nms_torch import NMS_METHODS, group_pad, padded_soft_nms, score_voting  # noqa: F401
from .proposal import (ProposalArrays, ProposalResult, evaluate_proposals,  # noqa: F401
                       proposals_from_results)
from .reference import average_precision_detection_loop  # noqa: F401
from .soft_nms import batched_soft_nms, bmn_post_processing, soft_nms  # noqa: F401
from .submission import atomic_write_json, load_submission, write_submission  # noqa: F401
from .tiou import paired_tiou, pairwise_tiou  # noqa: F401
