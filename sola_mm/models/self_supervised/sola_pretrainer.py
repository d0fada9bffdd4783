"""SoLa stage 1: the model trained by Similarity Matching (no labels).

``SoLaPretrainer`` = the SoLa neck (the only part kept afterwards) + the authors' "MLP head" with zero
layers (identity, then L2 normalisation) + a projection head g = Linear(C -> P) -> ReLU ->
Linear(P -> C) used only by the loss + ``SimilarityMatchingLoss``. One training window [C, W] gives
one S x S predicted map; see ``sola_mm.models.losses.similarity_matching`` for the maths.

Parameter names are ``neck.*`` (what ``SoLa.load_pretrained`` looks for in a stage-1 checkpoint) and
``projector.fc1.*`` / ``projector.fc2.*``. The authors' head also owns an unused ``Linear(1, 1)``; it
never gets a gradient (AdamW skips it), so it is left out with no effect on training.

Modes of ``forward(inputs, data_samples, mode)``; inputs are [C, W] tensors (a list, stacked here)
or one [B, C, W] tensor, i.e. MMAction2's localization layout:

- ``'loss'``: ``dict(loss_sm=<BCE>, vnr=<diagnostic>)``. ``vnr`` (the authors' vector-norm ratio,
  mean ||tanh(alpha) f(x)|| / (mean ||x|| + 1e-8)) is detached; mmengine's ``parse_losses`` only
  sums keys containing ``'loss'``, so it is logged and not optimised.
- ``'tensor'``: the neck output [B, C, W].
- ``'predict'``: one dict per sample, ``dict(feature=<neck output [C, T] on CPU>, **metainfo)``
  (metainfo of the data sample, e.g. ``video_name``). Samples are run one at a time, so full-length
  sequences of different lengths can be enhanced in one batch (this is what linear probing and
  feature export use; the official ``process_feature`` runs each whole sequence in one pass too).
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from torch import nn

from mmaction.registry import MODELS

#: Lower bound of the norm in the L2 normalisation (``F.normalize``'s default, as the authors use).
NORM_EPS = 1e-12

Inputs = Union[torch.Tensor, Sequence[torch.Tensor]]


@MODELS.register_module()
class SoLaPretrainer(BaseModel):
    """Stage-1 model: SoLa neck trained with Similarity Matching.

    Args:
        neck: config of the neck, e.g. ``dict(type='SoLa', in_channels=400, hidden_channels=512)``.
            It must keep the shape [B, C, W] and expose ``in_channels`` and, for the ``vnr``
            diagnostic, ``vector_norm_ratio(x, gated=None)`` (and preferably
            ``forward_with_gate(x)``, which saves a second pass of the conv stack).
        projector_hidden: P, hidden width of the projection head g (authors: 512).
        loss: config of the Similarity Matching loss (S, step, step_start, K).
        data_preprocessor: mmengine data preprocessor config (default: moves data to the device).
        init_cfg: mmengine init config.
    """

    def __init__(self,
                 neck: dict,
                 projector_hidden: int = 512,
                 loss: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.neck = MODELS.build(neck)
        channels = getattr(self.neck, 'in_channels', None)
        if channels is None:
            raise ValueError(f'SoLaPretrainer: neck {type(self.neck).__name__} has no `in_channels`;'
                             ' the projection head needs the feature width')
        if getattr(self.neck, 'frozen', False):
            raise ValueError('SoLaPretrainer: the neck is frozen (frozen=True); stage 1 trains it')
        self.in_channels = channels
        self.projector = nn.Sequential(OrderedDict([
            ('fc1', nn.Linear(channels, projector_hidden)),
            ('relu', nn.ReLU()),
            ('fc2', nn.Linear(projector_hidden, channels)),
        ]))
        self.loss_module = MODELS.build(loss or dict(type='SimilarityMatchingLoss'))

    # ------------------------------------------------------------------ pieces
    @staticmethod
    def stack_inputs(inputs: Inputs) -> torch.Tensor:
        """A list of [C, W] tensors (or a [B, C, W] tensor) -> [B, C, W]."""
        x = inputs if isinstance(inputs, torch.Tensor) else torch.stack(list(inputs))
        if x.dim() == 2:
            x = x[None]
        return x

    @staticmethod
    def normalize(v: torch.Tensor) -> torch.Tensor:
        """The 0-layer MLP head: ``v / max(||v||, 1e-12)`` over the last (channel) axis."""
        return F.normalize(v, p=2.0, dim=-1, eps=NORM_EPS)

    def similarity_outputs(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Every intermediate of one Similarity Matching pass on windows ``x`` [B, C, W].

        Returns ``out`` [B, C, W] (neck output), ``gated`` (its branch tanh(alpha) f(x), or None
        for a neck without ``forward_with_gate``), ``z`` and ``gz`` [B, S, C], ``cos``, ``prob``
        [B, S, S], ``target`` [S, S] and ``loss`` (scalar). Useful for TSM figures and tests.
        """
        if x.shape[-1] < self.loss_module.min_window:
            raise ValueError(f'SoLaPretrainer: windows of {x.shape[-1]} snippets are shorter than the '
                             f'{self.loss_module.min_window} the loss gathers from; set the dataset '
                             '`window` >= step*(num_positions-1)+step_start+1')
        if hasattr(self.neck, 'forward_with_gate'):
            out, gated = self.neck.forward_with_gate(x)
        else:
            out, gated = self.neck(x), None
        z = self.normalize(self.loss_module.gather(out))
        gz = self.projector(z)
        return dict(out=out, gated=gated, z=z, gz=gz, **self.loss_module.maps(z, gz))

    @torch.no_grad()
    def vector_norm_ratio(self, x: torch.Tensor,
                          gated: Optional[torch.Tensor] = None) -> torch.Tensor:
        """The authors' diagnostic ``vnr`` (see the neck), detached; ``gated`` (the neck's
        tanh(alpha) f(x) from the same forward) saves recomputing the conv stack."""
        if gated is None:
            return self.neck.vector_norm_ratio(x).detach()
        return self.neck.vector_norm_ratio(x, gated.detach()).detach()

    # ------------------------------------------------------------------ modes
    def loss(self, inputs: Inputs, data_samples: Optional[list] = None) -> Dict[str, torch.Tensor]:
        x = self.stack_inputs(inputs)
        outputs = self.similarity_outputs(x)
        return dict(loss_sm=outputs['loss'], vnr=self.vector_norm_ratio(x, outputs['gated']))

    def predict(self, inputs: Inputs, data_samples: Optional[list] = None) -> List[dict]:
        sequences = [inputs[i] for i in range(len(inputs))]  # a [B, C, T] tensor or a list
        results = []
        for i, seq in enumerate(sequences):
            feature = self.neck(self.stack_inputs(seq))[0]
            sample = data_samples[i] if data_samples is not None else {}
            meta = dict(sample.metainfo if hasattr(sample, 'metainfo') else sample)
            results.append(dict(meta, feature=feature.detach().cpu()))
        return results

    def forward(self, inputs: Inputs, data_samples: Optional[list] = None,
                mode: str = 'tensor') -> Union[torch.Tensor, Dict[str, torch.Tensor], List[dict]]:
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.neck(self.stack_inputs(inputs))
        raise ValueError(f'SoLaPretrainer: unknown mode {mode!r}; use "loss", "predict" or "tensor"')
