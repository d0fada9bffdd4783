"""A seeded synthetic stand-in for ActivityNet-1.3 classification features, in the real layout.

No real TAL features exist on CI machines, so the demo and the tests run on generated data that
imitates what a frozen classification encoder gives: a class-specific pattern during actions that is
nearly constant in time (temporally insensitive), varied background, a per-video scene component
shared by action and background snippets, temporal blur across boundaries, and noise. Instance
counts and relative lengths follow the real ActivityNet-1.3 statistics (1 instance in ~75% of
videos; relative length quartiles 0.08 / 0.33 / 0.79).

Written files (ActivityNet / MMAction2 layout)::

    out_dir/anet_anno_{train,val,full}.json   {"v_<id>": {duration_second, duration_frame,
                                               feature_frame, fps, annotations: [...]}}
    out_dir/action_name.csv                   header "action", then one class per line
    out_dir/cuhk_val_simp_share.json          video-level class scores {"results": {id: [...]},
                                               "class": [...]} like the CUHK file
    out_dir/features/v_<id>.npy (or .csv)     [T_native, C] float32 per video
"""
from __future__ import annotations

import csv
import json
import os
from typing import Dict, List, Optional

import numpy as np

from .feature_io import save_features_atomic

# Real ANet-1.3 class names (the first classes of action_name.csv order are not needed; any
# real names do).
CLASS_NAMES = ['Long jump', 'Playing guitarra', 'High jump', 'Ballet', 'Rock climbing',
               'Playing kickball', 'Zumba', 'Drinking beer', 'Skiing', 'Tennis serve with ball bouncing']
# Inverse CDF of instance length / video length on ANet-1.3 (anet_anno_action.json quantiles).
_REL_LEN_Q = np.array([0.0, 0.10, 0.25, 0.50, 0.75, 0.90, 1.0])
_REL_LEN_V = np.array([0.01, 0.03, 0.078, 0.33, 0.79, 0.95, 0.99])
_NUM_INSTANCES_P = np.array([0.78, 0.15, 0.07])  # 1, 2, 3 instances
SNIPPET_FRAMES = 16


def _place(rng: np.random.Generator, lens: np.ndarray, length: int) -> List[List[int]]:
    """Intervals of the given lengths in order, separated by random (Dirichlet) gaps."""
    count = len(lens)
    gaps = rng.dirichlet(np.ones(count + 1)) * (length - lens.sum())
    out, cursor = [], 0.0
    for k in range(count):
        cursor += gaps[k]
        start = int(round(cursor))
        out.append([start, min(length, start + int(lens[k]))])
        cursor += lens[k]
    return out


def _sample_instances(rng: np.random.Generator, length: int, min_len: int = 2) -> List[List[int]]:
    """1-3 non-overlapping [start, end) snippet intervals with ANet-like relative lengths."""
    count = int(rng.choice(3, p=_NUM_INSTANCES_P)) + 1
    rel = np.interp(rng.random(count), _REL_LEN_Q, _REL_LEN_V)
    rel = rel * min(1.0, 0.95 / rel.sum())  # they must fit together
    lens = np.maximum(min_len, np.round(rel * length)).astype(int)
    return _place(rng, lens, length)


def _blur(signal: np.ndarray, sigma: float) -> np.ndarray:
    radius = max(1, int(3 * sigma))
    t = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (t / sigma) ** 2)
    kernel /= kernel.sum()
    padded = np.pad(signal, (radius, radius), mode='edge')
    return np.convolve(padded, kernel, mode='valid')


def make_video(rng: np.random.Generator, length: int, label: int, protos: np.ndarray,
               backgrounds: np.ndarray, noise: float = 0.6) -> tuple:
    """One video's features [length, C] and its instances (snippet intervals)."""
    feat_dim = protos.shape[1]
    instances = _sample_instances(rng, length)
    indicator = np.zeros(length)
    for s, e in instances:
        indicator[s:e] = 1.0
    act = _blur(indicator, sigma=rng.uniform(1.0, 3.0))[:, None]
    scene = rng.normal(0, 1.0, feat_dim)                      # shared by action and background
    mix = rng.dirichlet(np.ones(len(backgrounds)) * 0.5)
    drift = np.cumsum(rng.normal(0, 0.15, (length, len(backgrounds))), axis=0)
    background = (mix[None] + 0.3 * drift) @ backgrounds
    action = protos[label][None] * rng.uniform(0.8, 1.2)
    feats = scene[None] + (1 - act) * background + act * action
    feats += noise * rng.standard_normal((length, feat_dim))
    return feats.astype(np.float32), instances


def make_anet_demo(out_dir: str, num_train: int = 120, num_val: int = 40, feat_dim: int = 128,
                   num_classes: int = 5, min_len: int = 48, max_len: int = 160, seed: int = 0,
                   fmt: str = '.npy', fps: float = 30.0,
                   classifier_accuracy: float = 0.8) -> Dict[str, str]:
    """Write a synthetic ActivityNet-layout dataset; returns the paths written."""
    if num_classes > len(CLASS_NAMES):
        raise ValueError(f'num_classes must be <= {len(CLASS_NAMES)}')
    rng = np.random.default_rng(seed)
    names = CLASS_NAMES[:num_classes]
    protos = rng.normal(0, 1.0, (num_classes, feat_dim)) * 1.2
    backgrounds = rng.normal(0, 1.0, (6, feat_dim))
    feat_dir = os.path.join(out_dir, 'features')
    os.makedirs(feat_dir, exist_ok=True)
    subsets = {'train': num_train, 'val': num_val}
    annos: Dict[str, Dict[str, dict]] = {k: {} for k in subsets}
    classifier: Dict[str, List[float]] = {}
    index = 0
    for subset, count in subsets.items():
        for _ in range(count):
            video = f'v_demo{index:05d}'
            index += 1
            length = int(rng.integers(min_len, max_len + 1))
            label = int(rng.integers(num_classes))
            feats, instances = make_video(rng, length, label, protos, backgrounds)
            save_features_atomic(feats, os.path.join(feat_dir, video + fmt))
            feature_frame = length * SNIPPET_FRAMES
            duration_frame = feature_frame + int(rng.integers(0, SNIPPET_FRAMES))
            duration_second = round(duration_frame / fps, 3)
            sec_per_snippet = duration_second / duration_frame * SNIPPET_FRAMES
            annos[subset][video] = dict(
                duration_second=duration_second, duration_frame=duration_frame,
                feature_frame=feature_frame, fps=fps, rfps=fps,
                annotations=[dict(segment=[round(s * sec_per_snippet, 3), round(e * sec_per_snippet, 3)],
                                  label=names[label]) for s, e in instances])
            scores = rng.dirichlet(np.ones(num_classes))
            guess = label if rng.random() < classifier_accuracy else int(rng.integers(num_classes))
            scores = 0.4 * scores + 0.6 * np.eye(num_classes)[guess]
            classifier[video[2:]] = [round(float(v), 6) for v in scores]
    paths = {}
    for subset in subsets:
        paths[subset] = _write_json(annos[subset], os.path.join(out_dir, f'anet_anno_{subset}.json'))
    paths['full'] = _write_json({**annos['train'], **annos['val']},
                                os.path.join(out_dir, 'anet_anno_full.json'))
    paths['classifier'] = _write_json(dict(results=classifier, **{'class': names}),
                                      os.path.join(out_dir, 'cuhk_val_simp_share.json'))
    paths['action_name'] = os.path.join(out_dir, 'action_name.csv')
    with open(paths['action_name'], 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['action'])
        writer.writerows([[n] for n in names])
    paths['features'] = feat_dir
    return paths


def _write_json(obj: object, path: str) -> str:
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(obj, f)
    os.replace(tmp, path)
    return path


def demo_ready(out_dir: str, stamp: Optional[dict] = None) -> bool:
    """Whether ``out_dir`` holds a finished demo written with the same settings."""
    path = os.path.join(out_dir, 'DONE.json')
    if not os.path.isfile(path):
        return False
    with open(path) as f:
        return stamp is None or json.load(f) == stamp


# ------------------------------------------------------------------------------ THUMOS layout
#: (UCF101 type_idx, name) of real THUMOS-14 classes used by the THUMOS-layout demo.
THUMOS_CLASSES = [(7, 'BaseballPitch'), (9, 'BasketballDunk'), (12, 'Billiards'),
                  (21, 'CleanAndJerk'), (22, 'CliffDiving'), (23, 'CricketBowling'),
                  (24, 'CricketShot'), (26, 'Diving'), (31, 'FrisbeeCatch'), (33, 'GolfSwing')]
THUMOS_INFO_COLUMNS = ['video-name', 't-init', 't-end', 'f-init', 'f-end', 'video-duration',
                       'frame-rate', 'video-frames', 'label-idx']
THUMOS_ANN_COLUMNS = ['video', 'type', 'type_idx', 'start', 'end', 'startFrame', 'endFrame']


def _long_instances(rng: np.random.Generator, length: int, count: int, min_len: int,
                    max_len: int) -> List[List[int]]:
    """``count`` non-overlapping [start, end) snippet intervals, THUMOS-like (short, many)."""
    lens = rng.integers(min_len, max_len + 1, count)
    while lens.sum() > 0.7 * length and count > 1:
        count -= 1
        lens = lens[:count]
    return _place(rng, lens, length)


def make_thumos_demo(out_dir: str, num_train: int = 16, num_test: int = 8, feat_dim: int = 64,
                     num_classes: int = 4, min_len: int = 150, max_len: int = 400,
                     skip: int = 5, seed: int = 0, fps: float = 30.0,
                     instances: tuple = (4, 10), instance_len: tuple = (6, 24),
                     classifier_accuracy: float = 0.9) -> Dict[str, str]:
    """Write a synthetic THUMOS-14-layout dataset; returns the paths written.

    Layout (the real files' columns and naming)::

        out_dir/val_Annotation.csv, test_Annotation.csv     video,type,type_idx,start,end,
                                                            startFrame,endFrame (+ Ambiguous rows)
        out_dir/thumos14_{val,test}_groundtruth.csv         video-name,...,frame-rate,video-frames
        out_dir/thumos_gt.json                              {"database": {v: {subset, annotations}}}
                                                            (train = THUMOS validation videos)
        out_dir/uNet_test.npy                               [num_test, 101] UntrimmedNet-like scores,
                                                            row i = video_test_{i+1:07d}
        out_dir/features/{flow,rgb}/<video>.npy             [L, feat_dim/2] each, one row per snippet
                                                            (every ``skip`` frames)
    """
    if num_classes > len(THUMOS_CLASSES):
        raise ValueError(f'num_classes must be <= {len(THUMOS_CLASSES)}')
    if feat_dim % 2:
        raise ValueError('feat_dim must be even (flow + rgb halves)')
    rng = np.random.default_rng(seed)
    classes = THUMOS_CLASSES[:num_classes]
    protos = rng.normal(0, 1.0, (num_classes, feat_dim)) * 1.2
    backgrounds = rng.normal(0, 1.0, (6, feat_dim))
    dirs = {s: os.path.join(out_dir, 'features', s) for s in ('flow', 'rgb')}
    for d in dirs.values():
        os.makedirs(d, exist_ok=True)
    ann_rows = {'val': [], 'test': []}
    info_rows = {'val': [], 'test': []}
    database: Dict[str, dict] = {}
    unet = np.zeros((num_test, 101), np.float32)
    for subset, count in (('val', num_train), ('test', num_test)):
        for i in range(count):
            video = f'video_{"validation" if subset == "val" else "test"}_{i + 1:07d}'
            length = int(rng.integers(min_len, max_len + 1))
            # classes cycle so that every class has test instances (as in real THUMOS-14: the
            # UntrimmedNet top-2 classes are always ground-truth classes of the test subset)
            label = i % num_classes
            spans = _long_instances(rng, length, int(rng.integers(instances[0], instances[1] + 1)),
                                    *instance_len)
            indicator = np.zeros(length)
            for s, e in spans:
                indicator[s:e] = 1.0
            act = _blur(indicator, sigma=rng.uniform(0.7, 1.5))[:, None]
            scene = rng.normal(0, 1.0, feat_dim)
            mix = rng.dirichlet(np.ones(len(backgrounds)) * 0.5)
            drift = np.cumsum(rng.normal(0, 0.1, (length, len(backgrounds))), axis=0)
            feats = (scene[None] + (1 - act) * ((mix[None] + 0.3 * drift) @ backgrounds)
                     + act * protos[label][None] * rng.uniform(0.8, 1.2))
            feats = (feats + 0.6 * rng.standard_normal((length, feat_dim))).astype(np.float32)
            half = feat_dim // 2
            save_features_atomic(feats[:, :half], os.path.join(dirs['flow'], video + '.npy'))
            save_features_atomic(feats[:, half:], os.path.join(dirs['rgb'], video + '.npy'))
            num_frames = length * skip + int(rng.integers(0, skip))
            duration = round(num_frames / fps, 2)
            type_idx, name = classes[label]
            annotations = []
            for s, e in spans:
                f0, f1 = s * skip, e * skip
                t0, t1 = round(f0 / fps, 1), round(f1 / fps, 1)
                ann_rows[subset].append([video, name, type_idx, t0, t1, f0, f1])
                info_rows[subset].append([video, t0, t1, f0, f1, duration, fps, num_frames,
                                          label])
                annotations.append(dict(segment=[f'{t0:.1f}', f'{t1:.1f}'], label=name))
            if rng.random() < 0.3:  # an Ambiguous row, dropped by the loaders
                f0 = int(rng.integers(0, num_frames - 10))
                ann_rows[subset].append([video, 'Ambiguous', 0, round(f0 / fps, 1),
                                         round((f0 + 10) / fps, 1), f0, f0 + 10])
                info_rows[subset].append([video, round(f0 / fps, 1), round((f0 + 10) / fps, 1),
                                          f0, f0 + 10, duration, fps, num_frames, -1])
            database[video] = dict(subset='train' if subset == 'val' else 'test',
                                   annotations=annotations)
            if subset == 'test':
                guess = label if rng.random() < classifier_accuracy else int(
                    rng.integers(num_classes))
                scores = 0.5 * rng.dirichlet(np.ones(101)) * 2
                scores[classes[guess][0] - 1] += 1.0
                # the runner-up is another demo class, so that the top-2 classes are always
                # classes of the test GT (as for real THUMOS, where all 20 classes are in it)
                others = [c for c in range(num_classes) if c != guess] or [guess]
                scores[classes[others[int(rng.integers(len(others)))]][0] - 1] += 0.3
                unet[i] = scores / scores.sum() * 2.0  # rows of the real file sum to ~2
    paths: Dict[str, str] = {}
    for subset in ('val', 'test'):
        paths[f'{subset}_annotation'] = _write_csv(
            os.path.join(out_dir, f'{subset}_Annotation.csv'), THUMOS_ANN_COLUMNS, ann_rows[subset])
        paths[f'{subset}_info'] = _write_csv(
            os.path.join(out_dir, f'thumos14_{subset}_groundtruth.csv'), THUMOS_INFO_COLUMNS,
            info_rows[subset])
    paths['gt'] = _write_json(dict(database=database), os.path.join(out_dir, 'thumos_gt.json'))
    paths['unet'] = os.path.join(out_dir, 'uNet_test.npy')
    tmp = paths['unet'] + '.tmp.npy'
    np.save(tmp, unet)
    os.replace(tmp, paths['unet'])
    paths['features'] = os.path.join(out_dir, 'features')
    return paths


def _write_csv(path: str, header: List[str], rows: List[list]) -> str:
    tmp = path + '.tmp'
    with open(tmp, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    os.replace(tmp, path)
    return path
