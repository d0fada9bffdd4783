"""Shared loading of the ActionFormer oracle fixtures (tests/data/actionformer/*.npz, copied from
the official-code oracles; see docs/actionformer.md) and a float64 model built from them."""
import json
from pathlib import Path

import numpy as np
import torch
from mmengine.structures import InstanceData

from mmaction.structures import ActionDataSample
from sola_mm.models.localizers.actionformer import ActionFormer, convert_official_state_dict

DATA = Path(__file__).resolve().parents[1] / 'data' / 'actionformer'
FIXTURES = {'thumos': 'af_thumos_small.npz', 'anet': 'af_anet_small.npz'}


def load(name):
    data = np.load(DATA / FIXTURES[name])
    return data, json.loads(str(data['config_json']))


def params(data, prefix='sd/'):
    return {k[len(prefix):]: torch.from_numpy(data[k]) for k in data.files
            if k.startswith(prefix)}


def build(data, cfg, drop_prob=0.0):
    """The official model config, float64, the fixture's parameters (``sd/``); drop-path
    probability ``drop_prob`` (the main pass ran with 0)."""
    model = ActionFormer(**cfg['official_cfg']['model']).double()
    missing, unexpected = model.load_state_dict(
        convert_official_state_dict({k: v for k, v in data.items() if k.startswith('sd/')}),
        strict=False)
    assert missing == ['loss_normalizer'] and not unexpected, (missing, unexpected)
    for m in model.modules():
        if hasattr(m, 'drop_prob'):
            m.drop_prob = drop_prob
    return model


def batch(data, cfg):
    """Per-video [C, T_i] inputs (float64) and data samples with float32 grid GT."""
    feats, samples = [], []
    mask = data['input_mask']
    for b in range(mask.shape[0]):
        length = int(mask[b].sum())
        feats.append(torch.from_numpy(data['input_feats'][b, :, :length]))
        sel = data['gt_video_idx'] == b
        s = ActionDataSample()
        s.gt_instances = InstanceData(gt_segments=torch.from_numpy(data['gt_segments'][sel]),
                                      gt_labels=torch.from_numpy(data['gt_labels'][sel]))
        s.set_metainfo(dict(video_name=cfg['batch_video_ids'][b]))
        samples.append(s)
    return feats, samples
