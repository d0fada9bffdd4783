"""Composition: an optional neck (e.g. SoLa) in front of any localizer that takes [B, C, T].

The baseline configs use it with no neck; the SoLa configs add ``neck=dict(type='SoLa', ...)``.
A frozen neck runs under no_grad, stays in eval mode and has no parameter in the optimizer.

Two protocol guards live here, because the model is the one piece every tool (ours, MMAction2's)
runs: a frozen SoLa neck without stage-1 weights refuses to train (it would be the identity, so
the "SoLa" run would silently train the baseline), and ``val_loss=True`` reports the localization
loss on the validation set through mmengine's ValLoop (``val_loss``), for configs whose official
checkpoint rule is the lowest validation loss (G-TAD on ActivityNet).
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Union

import torch
from mmengine.model import BaseModel
from mmengine.structures import BaseDataElement

from mmaction.registry import MODELS


class MissingStage1Error(RuntimeError):
    """A frozen SoLa neck would enter stage 2 without stage-1 weights."""


def missing_stage1_message(reason: str) -> str:
    return (f'model.neck: the SoLa neck is frozen but holds no stage-1 weights ({reason}), so stage '
            '2 would train the baseline behind an identity neck (alpha = 0). Stage 1 is run by '
            'the hook `default_hooks.sola_stage1` (type SoLaStage1Hook, configs/_base_/sola.py) '
            'from the `sola_stage1` config key. Restore that hook and key, or set '
            '`sola_stage1.checkpoint` (or `model.neck.pretrained`) to a stage-1 checkpoint, or set '
            '`model.neck.frozen=False` to train the neck with the head (unified ablation).')


@MODELS.register_module()
class NeckLocalizer(BaseModel):
    """``localizer(neck(features))``.

    Args:
        localizer: config of any registered localizer with ``forward(inputs, data_samples, mode)``
            where inputs are [B, C, T] (MMAction2's BMN, sola_mm's GTAD, ...).
        neck: optional config of a [B, C, T] -> [B, C, T] module.
        batched_predict: whether the localizer's ``predict`` handles a whole batch. MMAction2's
            BMN reads sample 0 only, so by default each sample is predicted on its own.
        val_loss: also compute the localization loss in ``val_step`` (mmengine's ValLoop averages
            it and logs ``val_loss``, which ``CheckpointHook(save_best='val_loss')`` can select
            on). The data samples must carry labels (the val pipelines generate them). The loss
            runs with the global RNG streams preserved, so validation never changes training.
    """

    def __init__(self,
                 localizer: dict,
                 neck: Optional[dict] = None,
                 batched_predict: Optional[bool] = None,
                 val_loss: bool = False,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.neck = MODELS.build(neck) if neck else None
        self.localizer = MODELS.build(localizer)
        if batched_predict is None:
            batched_predict = getattr(self.localizer, 'batched_predict', False)
        self.batched_predict = batched_predict
        self.val_loss = val_loss
        expected = getattr(self.localizer, 'feat_dim', None)
        provided = getattr(self.neck, 'in_channels', None)
        if expected is not None and provided is not None and expected != provided:
            raise ValueError(f'config: neck {type(self.neck).__name__} has in_channels={provided} '
                             f'but localizer {type(self.localizer).__name__} has feat_dim={expected}'
                             '; both must equal the feature width')

    @property
    def neck_frozen(self) -> bool:
        return self.neck is not None and getattr(self.neck, 'frozen', False)

    def extract_feat(self, inputs: Union[torch.Tensor, Sequence[torch.Tensor]]) -> torch.Tensor:
        """Stack the per-video [C, T] inputs and run the neck."""
        x = inputs if isinstance(inputs, torch.Tensor) else torch.stack(list(inputs))
        if self.neck is None:
            return x
        if self.neck_frozen:
            with torch.no_grad():
                return self.neck(x)
        return self.neck(x)

    def check_stage1_weights(self) -> None:
        """Refuse to train stage 2 behind a frozen SoLa neck that never received weights."""
        neck = self.neck
        if self.neck_frozen and getattr(neck, 'weights_source', '') is None:
            raise MissingStage1Error(missing_stage1_message(
                'no stage-1 checkpoint was loaded before training started'))

    def forward(self, inputs, data_samples=None, mode: str = 'tensor', **kwargs):
        if mode == 'loss' and self.training:
            self.check_stage1_weights()
        feats = self.extract_feat(inputs)
        if mode == 'predict' and not self.batched_predict and feats.shape[0] > 1:
            outputs: List = []
            for i in range(feats.shape[0]):
                outputs.extend(self.localizer(feats[i:i + 1].unbind(0), data_samples[i:i + 1],
                                              mode='predict'))
            return outputs
        # MMAction2's localizers take a sequence of [C, T] tensors and stack it themselves
        return self.localizer(feats.unbind(0), data_samples, mode=mode, **kwargs)

    def val_step(self, data) -> list:
        outputs = super().val_step(data)
        if not self.val_loss:
            return outputs
        from sola_mm.engine.hooks.rng_state import preserved_rng
        data = self.data_preprocessor(data, False)
        with torch.no_grad(), preserved_rng():
            losses = self._run_forward(data, mode='loss')
        # mmengine's ValLoop pops a trailing element holding only `loss` and averages it
        return list(outputs) + [BaseDataElement(loss=losses)]

    def train(self, mode: bool = True) -> 'NeckLocalizer':
        super().train(mode)
        if self.neck_frozen:
            self.neck.train(False)
        return self
