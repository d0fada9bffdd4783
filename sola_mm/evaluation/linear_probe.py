"""Linear evaluation of snippet features (the SoLa paper's protocol), pure torch + numpy.

Labels (one per snippet, at the feature rate of each video)
-----------------------------------------------------------
A video with T feature snippets covers ``corrected_second = feature_frame / duration_frame *
duration_second`` seconds (MMAction2's / G-TAD's rule, see docs/architecture.md). Snippet ``t``
(0-based) covers ``[t, t + 1) * corrected_second / T`` seconds; its label is **1 (action) when its
centre** ``(t + 0.5) * corrected_second / T`` **lies inside a ground-truth segment**
``start <= centre <= end`` (closed interval), else 0 (background). The action category of a snippet
is the label of the segment holding its centre (the first one when segments overlap).

A snippet is *near a boundary* when its centre, in snippet units, is within ``k`` snippets of the
start or end of any ground-truth segment: ``min_b |(t + 0.5) - b * T / corrected_second| <= k``.

Protocol (the authors' code by default, all arguments)
------------------------------------------------------
Sampling (``sampling='chunk'``, the authors' ``make_evaluation_db`` + ``VideoEvaluation``): the
videos of a split are put in a random order; their action snippets, in that order, are cut into
consecutive chunks of ``chunk_size`` = 100, and so are their background snippets (a chunk may span
videos; the remainder is dropped: the authors' ``while len(buffer) > 100`` keeps
``(N - 1) // 100`` chunks of N snippets). Each epoch, every chunk gives **one** snippet drawn
uniformly from its 100, for training and for validation alike. ``sampling='all'`` uses every
snippet every epoch instead (this project's earlier probe). The video order and the draws come
from ``seed``.

Features L2-normalised per snippet; ``Linear(C -> 2)``; cross-entropy; SGD lr 0.01, momentum 0.9;
batch 256 (shuffled); 16 epochs. After every epoch the probe is scored on the validation snippets
of that epoch; the **score is the mean validation accuracy over epochs 6..15 (1-based)**, i.e.
``score_epochs=(5, 14)`` 0-based inclusive: the authors' ``sum(eval_results[5:15]) / 10``. The same
averaging is applied to every extra number:

- ``acc_boundary``: accuracy on validation snippets near a boundary (``k`` snippets, default 2);
- ``acc_action`` / ``acc_background``: accuracy on action / background snippets (per binary class);
- ``acc_class/<category>``: accuracy on all snippets (action and background) of validation videos
  whose first annotation has that category (ActivityNet videos hold one category).

A subset with no validation snippet (e.g. no boundary at all) has no accuracy: its key is absent,
never NaN (the side-by-side table prints ``-``).

Deterministic for a given ``seed``: the probe's initial weights and the shuffling come from a
private generator; the global torch RNG is left untouched (``fork_rng``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

BACKGROUND = -1


def corrected_seconds(info: dict) -> float:
    """Seconds covered by the features: ``feature_frame / duration_frame * duration_second``."""
    duration = float(info['duration_second'])
    frames = info.get('duration_frame')
    feature_frames = info.get('feature_frame', frames)
    if not frames or not feature_frames:
        return duration
    return float(feature_frames) / float(frames) * duration


def snippet_labels(num_snippets: int, info: dict, k: int = 2,
                   class_index: Optional[Dict[str, int]] = None
                   ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-snippet labels of one video (see the module docstring for the rule).

    Args:
        num_snippets: T, the number of feature snippets.
        info: annotation entry with ``duration_second`` (and ``duration_frame``,
            ``feature_frame``) and ``annotations`` (``[{segment: [s, e] seconds, label}]``).
        k: boundary neighbourhood in snippets.
        class_index: category name -> index (unknown names get ``BACKGROUND``).

    Returns:
        ``(binary [T] int64, category [T] int64 (BACKGROUND outside actions), near_boundary [T]
        bool)``.
    """
    seconds = corrected_seconds(info)
    if num_snippets < 1 or seconds <= 0:
        raise ValueError(f'video {info.get("video_name", "?")}: {num_snippets} snippets over '
                         f'{seconds} s; cannot label snippets')
    centres = (np.arange(num_snippets) + 0.5) * seconds / num_snippets
    binary = np.zeros(num_snippets, dtype=np.int64)
    category = np.full(num_snippets, BACKGROUND, dtype=np.int64)
    boundaries: List[float] = []
    for ann in info.get('annotations', []):
        start, end = (float(v) for v in ann['segment'])
        inside = (centres >= start) & (centres <= end)
        cid = (class_index or {}).get(ann.get('label'), BACKGROUND)
        category[inside & (binary == 0)] = cid
        binary[inside] = 1
        boundaries += [start, end]
    if boundaries:
        b = np.asarray(boundaries) * num_snippets / seconds
        dist = np.abs((np.arange(num_snippets) + 0.5)[:, None] - b[None]).min(axis=1)
        near = dist <= k
    else:
        near = np.zeros(num_snippets, dtype=bool)
    return binary, category, near


@dataclass
class ProbeSet:
    """Snippets of a set of videos: features ``x`` [N, C] and their labels."""

    x: torch.Tensor
    y: torch.Tensor
    near_boundary: torch.Tensor
    video_class: torch.Tensor  # category of the snippet's video (first annotation), -1 if none
    class_names: List[str] = field(default_factory=list)
    video: Optional[torch.Tensor] = None  # index of the snippet's video (chunk sampling)


def build_probe_set(videos: Iterable[Tuple[np.ndarray, dict]], k: int = 2,
                    class_names: Optional[Sequence[str]] = None) -> ProbeSet:
    """Stack videos given as ``(features [T, C], annotation info)`` into a ProbeSet."""
    videos = list(videos)
    if not videos:
        raise ValueError('linear probe: no video to build snippets from')
    if class_names is None:
        class_names = sorted({a['label'] for _, info in videos
                              for a in info.get('annotations', [])})
    class_index = {name: i for i, name in enumerate(class_names)}
    xs, ys, nears, vcls, vids = [], [], [], [], []
    width = None
    for index, (feats, info) in enumerate(videos):
        feats = np.asarray(feats, dtype=np.float32)
        if feats.ndim != 2 or (width is not None and feats.shape[1] != width):
            raise ValueError(f'linear probe: video {info.get("video_name", "?")} has features of '
                             f'shape {list(feats.shape)}; expected [T, {width or "C"}]')
        width = feats.shape[1]
        binary, _, near = snippet_labels(feats.shape[0], info, k, class_index)
        anns = info.get('annotations') or []
        cid = class_index.get(anns[0]['label'], BACKGROUND) if anns else BACKGROUND
        xs.append(feats)
        ys.append(binary)
        nears.append(near)
        vcls.append(np.full(feats.shape[0], cid, dtype=np.int64))
        vids.append(np.full(feats.shape[0], index, dtype=np.int64))
    return ProbeSet(torch.from_numpy(np.concatenate(xs)), torch.from_numpy(np.concatenate(ys)),
                    torch.from_numpy(np.concatenate(nears)), torch.from_numpy(np.concatenate(vcls)),
                    list(class_names), torch.from_numpy(np.concatenate(vids)))


def snippet_chunks(data: ProbeSet, chunk_size: int, generator: torch.Generator) -> torch.Tensor:
    """Snippet indices ``[K, chunk_size]`` of the authors' chunks (module docstring): videos in a
    random order, then per label the snippets in that order, cut into ``chunk_size`` runs; of N
    snippets of a label ``(N - 1) // chunk_size`` chunks are kept (the authors' strict ``>``)."""
    video = data.video if data.video is not None else torch.zeros(len(data.y), dtype=torch.long)
    num_videos = int(video.max()) + 1 if len(video) else 0
    rank = torch.empty(num_videos, dtype=torch.long)
    rank[torch.randperm(num_videos, generator=generator)] = torch.arange(num_videos)
    # stable sort by the video's rank keeps the time order inside each video
    order = torch.sort(rank[video], stable=True).indices
    chunks = []
    for label in (1, 0):  # the authors write the action chunks, then the background ones
        picked = order[data.y[order] == label]
        count = max(len(picked) - 1, 0) // chunk_size
        chunks.append(picked[:count * chunk_size].view(count, chunk_size))
    return torch.cat(chunks)


def _subset(data: ProbeSet, index: torch.Tensor) -> ProbeSet:
    return ProbeSet(data.x[index], data.y[index], data.near_boundary[index],
                    data.video_class[index], data.class_names,
                    None if data.video is None else data.video[index])


def _accuracies(correct: torch.Tensor, data: ProbeSet) -> Dict[str, float]:
    """Accuracy overall and on each subset of the val snippets. A subset with no snippet (no
    boundary in the val videos, a class with no val video) has no accuracy: its key is left out
    rather than set to NaN, so logs, ``save_best`` and the JSON export only hold real numbers."""
    out = dict(acc=float(correct.float().mean()))
    subsets = dict(acc_boundary=data.near_boundary, acc_action=data.y == 1,
                   acc_background=data.y == 0)
    for i, name in enumerate(data.class_names):
        subsets[f'acc_class/{name}'] = data.video_class == i
    for key, mask in subsets.items():
        if bool(mask.any()):
            out[key] = float(correct[mask].float().mean())
    return out


SAMPLINGS = ('chunk', 'all')


def linear_probe(train: ProbeSet, val: ProbeSet, epochs: int = 16, lr: float = 0.01,
                 momentum: float = 0.9, batch_size: int = 256,
                 score_epochs: Tuple[int, int] = (5, 14), normalize: bool = True,
                 seed: int = 0, sampling: str = 'chunk',
                 chunk_size: int = 100) -> Dict[str, object]:
    """Fit ``Linear(C -> 2)`` on ``train`` snippets, score on ``val`` after every epoch.

    ``sampling='chunk'`` (default, the authors'): each epoch one random snippet per
    ``chunk_size``-snippet chunk, in training and validation; ``'all'``: every snippet.
    Returns a dict with ``score`` (mean val accuracy over ``score_epochs``, 0-based inclusive),
    the other accuracies averaged the same way (module docstring), ``per_epoch`` (a list of
    per-epoch dicts) and ``num_train`` / ``num_val`` (snippets per epoch).
    """
    first, last = score_epochs
    if not 0 <= first <= last < epochs:
        raise ValueError(f'linear probe: score_epochs {score_epochs} must lie within the '
                         f'{epochs} epochs (0-based, inclusive)')
    if sampling not in SAMPLINGS:
        raise ValueError(f'linear probe: sampling must be one of {SAMPLINGS}, got {sampling!r}')
    if chunk_size < 1:
        raise ValueError(f'linear probe: chunk_size must be >= 1, got {chunk_size}')
    x_train, x_val = train.x.float(), val.x.float()
    if x_train.shape[1] != x_val.shape[1]:
        raise ValueError(f'linear probe: train features have {x_train.shape[1]} channels, val '
                         f'features {x_val.shape[1]}')
    if normalize:
        x_train, x_val = F.normalize(x_train, dim=1), F.normalize(x_val, dim=1)
    per_epoch: List[Dict[str, float]] = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        probe = nn.Linear(x_train.shape[1], 2)
        optim = torch.optim.SGD(probe.parameters(), lr=lr, momentum=momentum)
        if sampling == 'chunk':
            chunks = {name: snippet_chunks(data, chunk_size, gen)
                      for name, data in (('train', train), ('val', val))}
            for name, found in chunks.items():
                if not len(found):
                    raise ValueError(
                        f'linear probe: the {name} videos hold no chunk of {chunk_size + 1} '
                        "action or background snippets; use sampling='all' (or a smaller "
                        'chunk_size) on so few videos')
        for _ in range(epochs):
            if sampling == 'chunk':  # one snippet per chunk, drawn anew every epoch
                pick = {name: found[torch.arange(len(found)),
                                    torch.randint(chunk_size, (len(found), ), generator=gen)]
                        for name, found in chunks.items()}
                pool, val_index = pick['train'], pick['val']
            else:
                pool, val_index = torch.arange(len(x_train)), None
            order = pool[torch.randperm(len(pool), generator=gen)]
            for start in range(0, len(order), batch_size):
                idx = order[start:start + batch_size]
                loss = F.cross_entropy(probe(x_train[idx]), train.y[idx])
                optim.zero_grad()
                loss.backward()
                optim.step()
            with torch.no_grad():
                if val_index is None:
                    correct = probe(x_val).argmax(1) == val.y
                    per_epoch.append(_accuracies(correct, val))
                else:
                    correct = probe(x_val[val_index]).argmax(1) == val.y[val_index]
                    per_epoch.append(_accuracies(correct, _subset(val, val_index)))
            num_train, num_val = len(pool), len(correct)
    window = per_epoch[first:last + 1]
    result: Dict[str, object] = {}
    # a sampled subset (e.g. boundary snippets) may be empty in some epochs: mean over the others
    for key in dict.fromkeys(k for e in window for k in e):
        result[key] = float(np.mean([e[key] for e in window if key in e]))
    result['score'] = result.pop('acc')
    result.update(per_epoch=per_epoch, num_train=num_train, num_val=num_val, sampling=sampling)
    return result


def format_side_by_side(results: Dict[str, Dict[str, object]], digits: int = 4) -> str:
    """A text table with one column per result (e.g. ``{'raw': ..., 'SoLa': ...}``); with two
    results a third column holds their difference (second minus first). ``-``: no such number
    (e.g. no validation snippet near a boundary)."""
    names = list(results)
    keys = ['score', 'acc_boundary', 'acc_action', 'acc_background']
    keys += sorted({k for r in results.values() for k in r if k.startswith('acc_class/')})
    columns = names + ([f'{names[1]}-{names[0]}'] if len(names) == 2 else [])
    width = max(len(k) for k in keys) + 2
    cell = max(12, max(len(c) for c in columns) + 2)
    lines = ['metric'.ljust(width) + ''.join(c.rjust(cell) for c in columns)]
    for key in keys:
        values = [results[n].get(key) for n in names]
        cells = [('-' if v is None else f'{v:.{digits}f}') for v in values]
        if len(names) == 2:
            a, b = values
            diff = None if a is None or b is None else round(b - a, digits) + 0.0  # no -0.0
            cells.append('-' if diff is None else f'{diff:+.{digits}f}')
        lines.append(key.ljust(width) + ''.join(c.rjust(cell) for c in cells))
    return '\n'.join(lines)
