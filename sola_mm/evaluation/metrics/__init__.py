from .linear_probe_metric import LinearProbeMetric  # noqa: F401
from .tal_metrics import TALDetectionMetric, TALProposalMetric  # noqa: F401
