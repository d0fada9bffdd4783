"""Composition: an optional neck (e.g. SoLa) in front of any localizer that takes [B, C, T].

The baseline configs use it with no neck; the SoLa configs add ``neck=dict(type='SoLa', ...)``.
A frozen neck runs under no_grad, stays in eval mode and has no parameter in the optimizer.
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Union

import torch
from mmengine.model import BaseModel

from mmaction.registry import MODELS


@MODELS.register_module()
class NeckLocalizer(BaseModel):
    """``localizer(neck(features))``.

    Args:
        localizer: config of any registered localizer with ``forward(inputs, data_samples, mode)``
            where inputs are [B, C, T] (MMAction2's BMN, sola_mm's GTAD, ...).
        neck: optional config of a [B, C, T] -> [B, C, T] module.
        batched_predict: whether the localizer's ``predict`` handles a whole batch. MMAction2's
            BMN reads sample 0 only, so by default each sample is predicted on its own.
    """

    def __init__(self,
                 localizer: dict,
                 neck: Optional[dict] = None,
                 batched_predict: Optional[bool] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.neck = MODELS.build(neck) if neck else None
        self.localizer = MODELS.build(localizer)
        if batched_predict is None:
            batched_predict = getattr(self.localizer, 'batched_predict', False)
        self.batched_predict = batched_predict
        expected = getattr(self.localizer, 'feat_dim', None)
        provided = getattr(self.neck, 'in_channels', None)
        if expected is not None and provided is not None and expected != provided:
            raise ValueError(f'config: neck {type(self.neck).__name__} has in_channels={provided} '
                             f'but localizer {type(self.localizer).__name__} has feat_dim={expected}'
                             '; both must equal the feature width')

    @property
    def neck_frozen(self) -> bool:
        return self.neck is not None and getattr(self.neck, 'frozen', False)

    def extract_feat(self, inputs: Union[torch.Tensor, Sequence[torch.Tensor]]
                     ) -> Union[torch.Tensor, List[torch.Tensor]]:
        """Stack the per-video [C, T] inputs and run the neck. A localizer that declares
        ``variable_length = True`` (ActionFormer) gets the list back un-stacked, the neck applied
        to each video alone."""
        if getattr(self.localizer, 'variable_length', False) and \
                not isinstance(inputs, torch.Tensor):
            return [self._neck(x[None])[0] for x in inputs]
        x = inputs if isinstance(inputs, torch.Tensor) else torch.stack(list(inputs))
        return self._neck(x)

    def _neck(self, x: torch.Tensor) -> torch.Tensor:
        if self.neck is None:
            return x
        if self.neck_frozen:
            with torch.no_grad():
                return self.neck(x)
        return self.neck(x)

    def forward(self, inputs, data_samples=None, mode: str = 'tensor', **kwargs):
        feats = self.extract_feat(inputs)
        if isinstance(feats, list):  # variable-length localizer: it pads and batches itself
            return self.localizer(feats, data_samples, mode=mode, **kwargs)
        if mode == 'predict' and not self.batched_predict and feats.shape[0] > 1:
            outputs: List = []
            for i in range(feats.shape[0]):
                outputs.extend(self.localizer(feats[i:i + 1].unbind(0), data_samples[i:i + 1],
                                              mode='predict'))
            return outputs
        # MMAction2's localizers take a sequence of [C, T] tensors and stack it themselves
        return self.localizer(feats.unbind(0), data_samples, mode=mode, **kwargs)

    def train(self, mode: bool = True) -> 'NeckLocalizer':
        super().train(mode)
        if self.neck_frozen:
            self.neck.train(False)
        return self
