"""The neck sees the native-length video: what the dataset defers until after the neck.

The SoLa authors apply the neck to a video's whole feature sequence at its native length
(``process_feature``); only then is the result resampled to ``temporal_scale`` (ActivityNet, HACS)
or cut into sliding windows (THUMOS). A dataset built with ``neck_input='native'`` (set by the
SoLa configs) therefore hands the model the native-length features and, in the data sample's
metainfo ``neck_post``, what is left to do after the neck:

* ``resize``: resample to this many snippets, with the datasets' own resize
  (:func:`~sola_mm.datasets.feature_io.resize_temporal`);
* ``crop`` ``[start, length]`` and ``pad_to``: cut a window out of the neck output and zero-pad it
  to ``pad_to`` snippets (THUMOS windows), exactly as the window code cuts the raw features;
* ``context``: the real snippets the dataset gave on each side of the window (None: the whole
  video), so that the model can check that the neck's receptive field fits in it;
* ``key``: what identifies the input (feature files, stride and span), for the model's cache of
  frozen-neck outputs.

``NeckLocalizer`` applies ``neck -> finish_after_neck -> localizer``. The default
``neck_input=None`` keeps the old order (the dataset resizes or cuts first), byte for byte.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F

from .feature_io import resize_temporal

NECK_INPUTS = (None, 'native')


def check_neck_input(owner: str, neck_input: Optional[str]) -> Optional[str]:
    """Validate the ``neck_input`` option of dataset ``owner``."""
    if neck_input not in NECK_INPUTS:
        raise ValueError(f"{owner}: neck_input must be None (the dataset resizes / cuts windows "
                         f"before the model) or 'native' (the neck sees the whole native-length "
                         f"video, as the SoLa authors do), got {neck_input!r}")
    return neck_input


class NeckPostMixin:
    """``prepare_data`` of an mmengine dataset whose items may carry ``neck_post``: the pipeline
    output's data sample gets it in its metainfo (whatever the config's ``meta_keys``)."""

    def prepare_data(self, idx: int):
        info = self.get_data_info(idx)
        packed = self.pipeline(info)
        post = info.get('neck_post')
        if post is not None and isinstance(packed, dict) and packed.get('data_samples') is not None:
            packed['data_samples'].set_metainfo(dict(neck_post=post))
        return packed


def finish_after_neck(x: torch.Tensor, post: Optional[dict]) -> torch.Tensor:
    """A neck output ``[C, T]`` -> what the dataset would have handed a model without neck:
    crop to the window, zero-pad to ``pad_to``, then resize."""
    if not post:
        return x
    if post.get('crop') is not None:
        start, length = (int(v) for v in post['crop'])
        x = x[:, start:start + length]
    pad_to = post.get('pad_to')
    if pad_to is not None and x.shape[-1] < int(pad_to):
        x = F.pad(x, (0, int(pad_to) - x.shape[-1]))
    if post.get('resize'):
        x = resize_temporal(x, int(post['resize']))
    return x
