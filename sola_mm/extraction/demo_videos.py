"""Small synthetic videos with known "actions", for the video demo and the tests.

Each video is a grey, slightly noisy background; during each action interval a coloured shape
(one colour and shape per class) moves across the frame. Written as H.264 ``.mp4`` with PyAV,
plus ``annotations.json`` in the ActivityNet layout of sola_mm's datasets (``duration_second,
duration_frame, feature_frame, fps, subset, annotations: [{segment, label}]``).
"""
from __future__ import annotations

import os
from typing import Dict, List, Optional

import numpy as np

from ..evaluation.functional.submission import atomic_write_json

__all__ = ['DEMO_CLASSES', 'write_video', 'make_video_demo']

#: class name -> (RGB colour, shape)
DEMO_CLASSES = {'RedSquare': ((220, 40, 40), 'square'),
                'BlueDisc': ((40, 70, 220), 'disc'),
                'GreenBar': ((40, 190, 60), 'bar')}


def _draw(img: np.ndarray, label: str, progress: float) -> None:
    h, w = img.shape[:2]
    colour, shape = DEMO_CLASSES[label]
    size = max(4, h // 3)
    cx = int(size / 2 + progress * (w - size))
    cy = int(h / 2 + (h / 4) * np.sin(progress * 2 * np.pi))
    yy, xx = np.mgrid[:h, :w]
    if shape == 'square':
        mask = (abs(xx - cx) <= size // 2) & (abs(yy - cy) <= size // 2)
    elif shape == 'disc':
        mask = (xx - cx) ** 2 + (yy - cy) ** 2 <= (size // 2) ** 2
    else:
        mask = (abs(xx - cx) <= size // 6) & (abs(yy - h // 2) <= h // 2 - 2)
    img[mask] = colour


def write_video(path: str, num_frames: int, fps: float, actions: List[dict],
                size=(64, 48), seed: int = 0) -> str:
    """Write an mp4 of ``num_frames`` frames; ``actions``: ``[{segment: [s, e] seconds, label}]``."""
    import av
    rng = np.random.default_rng(seed)
    w, h = size
    tmp = path + '.tmp.mp4'
    container = av.open(tmp, 'w')
    stream = container.add_stream('libx264', rate=int(round(fps)))
    stream.width, stream.height, stream.pix_fmt = w, h, 'yuv420p'
    stream.options = {'crf': '18', 'preset': 'veryfast'}
    for i in range(num_frames):
        t = i / fps
        img = np.full((h, w, 3), 110, np.uint8)
        img += rng.integers(0, 12, size=(h, w, 1), dtype=np.uint8)
        for a in actions:
            s, e = a['segment']
            if s <= t < e:
                _draw(img, a['label'], (t - s) / max(e - s, 1e-6))
        for packet in stream.encode(av.VideoFrame.from_ndarray(img, format='rgb24')):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    os.replace(tmp, path)
    return path


def make_video_demo(out_dir: str, num_train: int = 8, num_val: int = 2, fps: float = 25.0,
                    min_seconds: float = 8.0, max_seconds: float = 12.0, size=(64, 48),
                    seed: int = 0, classes: Optional[List[str]] = None) -> Dict[str, str]:
    """``out_dir/videos/*.mp4``, ``out_dir/annotations.json`` (train and val subsets, two or
    three actions per video; also split into ``anno_train.json`` / ``anno_val.json``) and
    ``classes.txt`` (the class names, one per line); returns the paths."""
    rng = np.random.default_rng(seed)
    classes = list(classes or DEMO_CLASSES)
    video_dir = os.path.join(out_dir, 'videos')
    os.makedirs(video_dir, exist_ok=True)
    database = {}
    for k in range(num_train + num_val):
        name = f'demo_{k:03d}'
        seconds = float(rng.uniform(min_seconds, max_seconds))
        frames = int(round(seconds * fps))
        seconds = frames / fps
        count = int(rng.integers(2, 4))
        bounds = np.sort(rng.uniform(0, seconds, size=2 * count))
        actions = []
        for j in range(count):
            s, e = float(bounds[2 * j]), float(bounds[2 * j + 1])
            if e - s < 1.0:  # at least a second
                e = min(seconds, s + 1.0)
            actions.append(dict(segment=[round(s, 2), round(e, 2)],
                                label=classes[int(rng.integers(len(classes)))]))
        write_video(os.path.join(video_dir, name + '.mp4'), frames, fps, actions, size,
                    seed=seed * 1000 + k)
        database[name] = dict(duration_second=seconds, duration_frame=frames,
                              feature_frame=frames, fps=fps,
                              subset='training' if k < num_train else 'validation',
                              annotations=actions)
    ann = atomic_write_json(os.path.join(out_dir, 'annotations.json'), database)
    names = os.path.join(out_dir, 'classes.txt')
    with open(names, 'w', encoding='utf-8') as f:
        f.write(''.join(c + '\n' for c in classes))
    train = {k: v for k, v in database.items() if v['subset'] == 'training'}
    val = {k: v for k, v in database.items() if v['subset'] == 'validation'}
    return dict(videos=video_dir, annotations=ann, classes=names,
                train=atomic_write_json(os.path.join(out_dir, 'anno_train.json'), train),
                val=atomic_write_json(os.path.join(out_dir, 'anno_val.json'), val))
