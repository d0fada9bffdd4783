"""High-level helpers: SoLa feature export, video feature extraction, inference."""
from .enhance import apply_neck, build_frozen_neck, data_spec, enhance_folder
from .extract import extract_features, write_video_info
from .inference import build_extractor, inference_localizer, init_localizer

__all__ = ['apply_neck', 'build_frozen_neck', 'data_spec', 'enhance_folder', 'extract_features',
           'write_video_info', 'build_extractor', 'inference_localizer', 'init_localizer']
