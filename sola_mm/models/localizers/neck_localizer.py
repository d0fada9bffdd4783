"""Composition: an optional neck (e.g. SoLa) in front of any localizer that takes [B, C, T].

The baseline configs use it with no neck; the SoLa configs add ``neck=dict(type='SoLa', ...)``.
A frozen neck runs under no_grad, stays in eval mode and has no parameter in the optimizer.

Order (the SoLa authors' ``process_feature``): when the data samples carry ``neck_post`` (datasets
built with ``neck_input='native'``, see ``sola_mm/datasets/native_input.py``), each video's
native-length features go through the neck first, then the resize to ``temporal_scale`` or the
window cut that the dataset deferred, then the localizer. A frozen neck's outputs are cached per
input (``NeckOutputCache``: LRU bounded by ``neck_cache_bytes``, emptied when the weights change).
Without ``neck_post`` the inputs are stacked and go through the neck as one batch, as before.
"""

from __future__ import annotations

from collections import defaultdict
from typing import List, Optional, Sequence, Union

import torch
from mmengine.logging import print_log
from mmengine.model import BaseModel

from mmaction.registry import MODELS
from ...datasets.native_input import finish_after_neck
from ..necks.output_cache import NeckOutputCache, autocast_tag


@MODELS.register_module()
class NeckLocalizer(BaseModel):
    """``localizer(neck(features))``.

    Args:
        localizer: config of any registered localizer with ``forward(inputs, data_samples, mode)``
            where inputs are [B, C, T] (MMAction2's BMN, sola_mm's GTAD, ...).
        neck: optional config of a [B, C, T] -> [B, C, T] module.
        batched_predict: whether the localizer's ``predict`` handles a whole batch. MMAction2's
            BMN reads sample 0 only, so by default each sample is predicted on its own.
        neck_cache_bytes: memory budget (bytes, on the CPU) of the frozen neck's cached outputs;
            0 disables the cache. Default 2 GiB (ActivityNet-1.3 train at 100 x 400: 1.6 GB).

    A localizer with the class attribute ``variable_length = True`` gets the per-video list of
    ``[C, T_i]`` features as they are (no stacking) when their lengths differ.
    """

    def __init__(self,
                 localizer: dict,
                 neck: Optional[dict] = None,
                 batched_predict: Optional[bool] = None,
                 neck_cache_bytes: int = 2 * 1024**3,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.neck = MODELS.build(neck) if neck else None
        self.localizer = MODELS.build(localizer)
        if batched_predict is None:
            batched_predict = getattr(self.localizer, 'batched_predict', False)
        self.batched_predict = batched_predict
        self.neck_cache = NeckOutputCache(neck_cache_bytes) if self.neck is not None else None
        self._checked_contexts = set()
        self._warned_order = False
        expected = getattr(self.localizer, 'feat_dim', None)
        provided = getattr(self.neck, 'in_channels', None)
        if expected is not None and provided is not None and expected != provided:
            raise ValueError(f'config: neck {type(self.neck).__name__} has in_channels={provided} '
                             f'but localizer {type(self.localizer).__name__} has feat_dim={expected}'
                             '; both must equal the feature width')

    @property
    def neck_frozen(self) -> bool:
        return self.neck is not None and getattr(self.neck, 'frozen', False)

    def extract_feat(self, inputs: Union[torch.Tensor, Sequence[torch.Tensor]],
                     data_samples: Optional[Sequence] = None
                     ) -> Union[torch.Tensor, List[torch.Tensor]]:
        """The localizer's input: ``[B, C, T]``, or a list of ``[C, T_i]`` for a
        ``variable_length`` localizer. With ``neck_post`` in the samples each video goes through
        the neck at its own length, then through what the dataset deferred (module docstring)."""
        posts = [None] * len(inputs)
        if data_samples is not None:
            posts = [sample.metainfo.get('neck_post') for sample in data_samples]
        lengths = {x.shape[-1] for x in inputs}
        if not any(posts) and (len(lengths) == 1 or not self.variable_length):
            if self.neck is not None and data_samples is not None and not self._warned_order:
                self._warned_order = True
                print_log('NeckLocalizer: the data carry no neck_post, so the neck sees the '
                          'features as the dataset resized or cut them; set neck_input="native" '
                          'on the datasets for the SoLa order (neck on the whole video first)',
                          logger='current', level=30)
            x = inputs if isinstance(inputs, torch.Tensor) else torch.stack(list(inputs))
            return self._run_neck(x)
        feats = [finish_after_neck(y, post)
                 for y, post in zip(self._neck_per_video(list(inputs), posts), posts)]
        if self.variable_length and len({y.shape[-1] for y in feats}) > 1:
            return feats
        return torch.stack(feats)

    @property
    def variable_length(self) -> bool:
        return bool(getattr(self.localizer, 'variable_length', False))

    def _run_neck(self, x: torch.Tensor) -> torch.Tensor:
        if self.neck is None:
            return x
        if self.neck_frozen:
            with torch.no_grad():
                return self.neck(x)
        return self.neck(x)

    def _neck_per_video(self, inputs: List[torch.Tensor], posts: List[Optional[dict]]
                        ) -> List[torch.Tensor]:
        """The neck on each ``[C, T_i]`` input (inputs of equal length in one batch), through the
        cache when the neck is frozen."""
        cache = self.neck_cache if self.neck_frozen and self.neck_cache.max_bytes else None
        if cache is not None:
            cache.sync(self.neck)
        outs: List[Optional[torch.Tensor]] = [None] * len(inputs)
        keys = [None] * len(inputs)
        if cache is not None and inputs:
            tag = autocast_tag(inputs[0].device.type)
            keys = [post['key'] + tag if (post or {}).get('key') else None for post in posts]
        groups = defaultdict(list)
        for i, (x, post) in enumerate(zip(inputs, posts)):
            self._check_context(post)
            if keys[i] is not None:
                outs[i] = cache.get(keys[i], x.device)
            if outs[i] is None:
                groups[tuple(x.shape)].append(i)
        for idxs in groups.values():
            y = self._run_neck(torch.stack([inputs[i] for i in idxs]))
            for j, i in enumerate(idxs):
                outs[i] = y[j]
                if keys[i] is not None:
                    cache.put(keys[i], y[j])
        return outs

    def _check_context(self, post: Optional[dict]) -> None:
        """A window cut out of the neck output equals the whole video's only when the dataset gave
        at least the neck's receptive radius of real snippets around it."""
        context = (post or {}).get('context')
        if context is None or context in self._checked_contexts or self.neck is None:
            return
        radius = getattr(self.neck, 'receptive_radius', None)
        name = type(self.neck).__name__
        if radius is None:
            raise ValueError(f'config: dataset neck_context={context}, but neck {name} declares '
                             'no receptive_radius; set neck_context=None (whole video) on the '
                             'datasets')
        if radius > context:
            raise ValueError(f'config: dataset neck_context={context} is less than the receptive '
                             f'radius {radius} of neck {name}: the window would see padding that '
                             f'is not a video edge; set neck_context >= {radius} on the datasets')
        self._checked_contexts.add(context)

    def forward(self, inputs, data_samples=None, mode: str = 'tensor', **kwargs):
        feats = self.extract_feat(inputs, data_samples)
        # MMAction2's localizers take a sequence of [C, T] tensors and stack it themselves
        per_video = list(feats.unbind(0)) if isinstance(feats, torch.Tensor) else feats
        if mode == 'predict' and not self.batched_predict and len(per_video) > 1:
            outputs: List = []
            for i in range(len(per_video)):
                outputs.extend(self.localizer(per_video[i:i + 1], data_samples[i:i + 1],
                                              mode='predict'))
            return outputs
        return self.localizer(per_video, data_samples, mode=mode, **kwargs)

    def train(self, mode: bool = True) -> 'NeckLocalizer':
        super().train(mode)
        if self.neck_frozen:
            self.neck.train(False)
        return self
