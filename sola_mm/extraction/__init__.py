"""Video -> snippet features with a frozen MMAction2 recognizer (decoding, sampling, batching)."""
from .extractor import ExtractorConfigError, FeatureExtractor, VideoFeatures  # noqa: F401
from .snippets import PRESETS, ShortVideoError, SnippetSpec, snippet_spec  # noqa: F401
from .video_reader import BACKENDS, DEFAULT_BACKEND, VideoError, VideoSource  # noqa: F401
