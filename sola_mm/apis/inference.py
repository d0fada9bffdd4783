"""Apply a (neck +) localizer checkpoint to one video's feature file and return proposals."""
from __future__ import annotations

import os
from typing import List, Optional, Union

import torch
from mmengine.config import Config

from ..datasets.feature_io import load_features, resize_features
from .enhance import data_spec


def init_localizer(config: Union[str, Config], checkpoint: Optional[str] = None,
                   device: str = 'cpu') -> torch.nn.Module:
    """Build ``config.model`` (e.g. NeckLocalizer), load ``checkpoint`` (weights only), eval mode.
    The config is kept as ``model.cfg``."""
    import sola_mm  # noqa: F401  (registration)
    from mmaction.registry import MODELS
    from ..engine.checkpoint import load_checkpoint_file, state_dict_of
    cfg = Config.fromfile(config) if isinstance(config, str) else config
    model_cfg = cfg.model.copy()
    if model_cfg.get('neck'):
        model_cfg.neck = dict(model_cfg.neck, pretrained=None)
    model = MODELS.build(model_cfg)
    if checkpoint:
        model.load_state_dict(state_dict_of(load_checkpoint_file(checkpoint)), strict=True)
    model.cfg = cfg
    return model.to(device).eval()


@torch.no_grad()
def inference_localizer(model: torch.nn.Module, feature_file: str,
                        video_info: Optional[dict] = None) -> List[dict]:
    """Proposals ``[{score, segment: [start_s, end_s]}, ...]`` for one feature file.

    ``video_info`` (e.g. the video's annotation entry) gives ``duration_second`` and the frame
    counts; without it the video is taken to last one second per snippet. Features are resized to
    the config's ``temporal_scale`` as the test pipeline does.
    """
    from mmaction.structures import ActionDataSample
    spec = data_spec(model.cfg) if hasattr(model, 'cfg') else {}
    video = os.path.splitext(os.path.basename(feature_file))[0]
    feats = load_features(feature_file, video=video, feat_dim=spec.get('feat_dim'))
    localizer = getattr(model, 'localizer', model)
    info = dict(video_name=video, duration_second=float(feats.shape[0]))
    info.update(video_info or {})
    # BMN scales by (duration_frame // interval * interval) / duration_frame: a default frame
    # count that is a multiple of its interval makes the features cover the whole video
    interval = int(getattr(localizer, 'feature_extraction_interval', 1) or 1)
    info.setdefault('duration_frame', info.get('feature_frame', feats.shape[0] * interval))
    info.setdefault('feature_frame', info['duration_frame'])
    info.setdefault('annotations', [])
    test_data = ((getattr(model, 'cfg', {}).get('test_dataloader') or {}).get('dataset') or {})
    scale = spec.get('temporal_scale')
    if scale and test_data.get('neck_input') == 'native':  # the model resizes after its neck
        info['neck_post'] = dict(resize=scale)
    elif scale:
        feats = resize_features(feats, scale)
    length = getattr(localizer, 'temporal_dim', None) or getattr(localizer, 'tscale', None)
    if length and (scale if 'neck_post' in info else feats.shape[0]) != length:
        raise ValueError(f'{feature_file}: {feats.shape[0]} snippets, but the localizer takes '
                         f'exactly {length}; a sliding-window config (THUMOS) needs the video cut '
                         'into windows (its test dataset does this), and a whole-video config '
                         'needs `temporal_scale` in its test pipeline')
    sample = ActionDataSample()
    sample.set_metainfo(info)
    device = next(model.parameters()).device
    inputs = [torch.from_numpy(feats.T.copy()).to(device)]
    results = model(inputs, [sample], mode='predict')
    return results[0]['proposal_list']
