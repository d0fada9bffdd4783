"""ActivityNet submission files: read, and write atomically.

Format (the one the official evaluators read)::

    {"version": "VERSION 1.3",
     "results": {video_id: [{"label": name, "score": s, "segment": [t_start, t_end]}, ...]},
     "external_data": {}}

Proposal files use the same layout without ``label``. Writes go to a temporary file in the target
directory, then ``os.replace``, so a reader (or a crash mid-write) never sees a partial file.
"""
from __future__ import annotations

import json
import os
import tempfile
from typing import Any, Mapping, Sequence

from .ground_truth import read_json

__all__ = ['atomic_write_json', 'load_submission', 'write_submission']


def atomic_write_json(path: str | os.PathLike, obj: Any) -> str:
    """Write ``obj`` as JSON to ``path`` via a temporary file and ``os.replace``; returns path."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix='.' + os.path.basename(path) + '.', suffix='.tmp',
                               dir=directory)
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as f:
            json.dump(obj, f)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; a results file is a normal file
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def write_submission(path: str | os.PathLike,
                     results: Mapping[str, Sequence[Mapping[str, Any]]],
                     version: str = 'VERSION 1.3',
                     external_data: Mapping[str, Any] | None = None) -> str:
    """Write ``results`` in the ActivityNet submission format (atomically)."""
    return atomic_write_json(path, {
        'version': version,
        'results': {str(k): list(v) for k, v in results.items()},
        'external_data': dict(external_data or {}),
    })


def load_submission(path: str | os.PathLike | Mapping[str, Any]
                    ) -> dict[str, list[dict[str, Any]]]:
    """The ``results`` object of a submission file (``.json`` or ``.json.gz``) or dict."""
    source = '<dict>' if isinstance(path, Mapping) else os.fspath(path)
    data = path if isinstance(path, Mapping) else read_json(path)
    if not isinstance(data, Mapping) or not isinstance(data.get('results'), Mapping):
        raise ValueError(f'{source}: expected an ActivityNet submission with a "results" object '
                         f'{{video_id: [{{label, score, segment}}]}}')
    return dict(data['results'])
