"""Composition: an optional neck (e.g. SoLa) in front of any localizer that takes [B, C, T].

The baseline configs use it with no neck; the SoLa configs add ``neck=dict(type='SoLa', ...)``.
A frozen neck runs under no_grad, stays in eval mode and has no parameter in the optimizer.

Two protocol guards live here, because the model is the one piece every tool (ours, MMAction2's)
runs: a frozen SoLa neck without stage-1 weights refuses to train (it would be the identity, so
the "SoLa" run would silently train the baseline), and ``val_loss=True`` reports the localization
loss on the validation set through mmengine's ValLoop (``val_loss``), for configs whose official
checkpoint rule is the lowest validation loss (G-TAD on ActivityNet).

Order (the SoLa authors' ``process_feature``): when the data samples carry ``neck_post`` (datasets
built with ``neck_input='native'``, see ``sola_mm/datasets/native_input.py``), each video's
native-length features go through the neck first, then the resize to ``temporal_scale`` or the
window cut that the dataset deferred, then the localizer. A frozen neck's outputs are cached per
input (``NeckOutputCache``: LRU bounded by ``neck_cache_bytes``, emptied when the weights change).
Without ``neck_post`` the inputs are stacked and go through the neck as one batch, as before.
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Union

import torch
from mmengine.logging import print_log
from mmengine.model import BaseModel
from mmengine.structures import BaseDataElement

from mmaction.registry import MODELS
from ...datasets.native_input import finish_after_neck
from ..necks.output_cache import NeckOutputCache, autocast_tag


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
        neck_cache_bytes: memory budget (bytes, on the CPU) of the frozen neck's cached outputs;
            0 disables the cache. Default 2 GiB (ActivityNet-1.3 train at 100 x 400: 1.6 GB).

    A localizer with the class attribute ``variable_length = True`` gets the per-video list of
    ``[C, T_i]`` features as they are (no stacking) when their lengths differ.
    """

    def __init__(self,
                 localizer: dict,
                 neck: Optional[dict] = None,
                 batched_predict: Optional[bool] = None,
                 val_loss: bool = False,
                 neck_cache_bytes: int = 2 * 1024**3,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        # the localizer is built (and randomly initialised) first, so that with the same seed a
        # SoLa config's head starts from exactly the baseline config's weights: the comparison
        # differs by the neck alone, not by a shifted random stream
        localizer_module = MODELS.build(localizer)
        self.neck = MODELS.build(neck) if neck else None
        self.localizer = localizer_module
        if batched_predict is None:
            batched_predict = getattr(self.localizer, 'batched_predict', False)
        self.batched_predict = batched_predict
        self.val_loss = val_loss
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
        """The neck on each ``[C, T_i]`` input, through the cache when the neck is frozen.

        One neck call per video, never batched with others: a video's output must not depend on
        the batch it came in (batched convolutions may round differently), so that an output
        computed in epoch 1 and cached equals the one a resumed run computes in epoch 5, and
        equals the ``tools/enhance_features.py`` export."""
        cache = self.neck_cache if self.neck_frozen and self.neck_cache.max_bytes else None
        if cache is not None:
            cache.sync(self.neck)
        tag = autocast_tag(inputs[0].device.type) if cache is not None and inputs else ''
        outs = []
        for x, post in zip(inputs, posts):
            self._check_context(post)
            key = post['key'] + tag if cache is not None and (post or {}).get('key') else None
            y = cache.get(key, x.device) if key is not None else None
            if y is None:
                y = self._run_neck(x[None])[0]
                if key is not None:
                    cache.put(key, y)
            outs.append(y)
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

    def check_stage1_weights(self) -> None:
        """Refuse to train stage 2 behind a frozen SoLa neck that never received weights."""
        neck = self.neck
        if self.neck_frozen and getattr(neck, 'weights_source', '') is None:
            raise MissingStage1Error(missing_stage1_message(
                'no stage-1 checkpoint was loaded before training started'))

    def forward(self, inputs, data_samples=None, mode: str = 'tensor', **kwargs):
        if mode == 'loss' and self.training:
            self.check_stage1_weights()
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

    def val_step(self, data) -> list:
        if not self.val_loss:
            return super().val_step(data)
        from sola_mm.engine.hooks.rng_state import preserved_rng
        data = self.data_preprocessor(data, False)  # once, for the predictions and the loss
        outputs = self._run_forward(data, mode='predict')
        with torch.no_grad(), preserved_rng():
            losses = self._run_forward(data, mode='loss')
        # mmengine's ValLoop pops a trailing element holding only `loss` and averages it
        return list(outputs) + [BaseDataElement(loss=losses)]

    def train(self, mode: bool = True) -> 'NeckLocalizer':
        super().train(mode)
        if self.neck_frozen:
            self.neck.train(False)
        return self
