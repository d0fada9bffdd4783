"""High-level helpers: SoLa feature export, inference on one feature file."""
from .enhance import apply_neck, build_frozen_neck, data_spec, enhance_folder
from .inference import inference_localizer, init_localizer

__all__ = ['apply_neck', 'build_frozen_neck', 'data_spec', 'enhance_folder',
           'inference_localizer', 'init_localizer']
