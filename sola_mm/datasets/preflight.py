"""Check a config's data once, before anything trains, and report every problem together.

Two steps, run by ``tools/train.py`` before the Runner is built and by ``DataCheckHook``
(``default_hooks.data_check`` in ``configs/_base_/default_runtime.py``, first of the
``before_train`` hooks: after the datasets are built, before SoLa stage 1 and the first
epoch) for runs started by other tools, e.g. MMAction2's own ``tools/train.py``:

1. :func:`missing_paths`: the annotation files, feature folders/files and evaluator files the
   config names exist (the test split's only matter when some of them exist: training does not
   read it). When some do not, :class:`MissingDataError` says which (config key and
   path) and what to do, in a few lines.
2. :func:`check_features`: every feature file listed by every split (train, val, test; shared
   files once) is read in full (``feature_io.load_video_features``: header, truncation, NaN/inf,
   width against ``feat_dim``; without a ``feat_dim`` against the width most files have), in
   parallel threads. Results are cached by (path, size, mtime) in
   ``$SOLA_MM_CACHE_DIR/preflight.json`` (default ``~/.cache/sola_mm``), so a rerun on unchanged
   files only stats them. All problems are raised together as :class:`DataCheckError`, one table
   row per file: split, video, file, problem.
"""
from __future__ import annotations

import json
import os
import os.path as osp
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Tuple

from mmengine.hooks import Hook

from mmaction.registry import DATASETS, HOOKS
from .feature_io import FeatureError, load_video_features

SPLITS = ('train', 'val', 'test')


class DataError(Exception):
    """The data a config names cannot be used; the message says what and where."""


class MissingDataError(DataError, FileNotFoundError):
    """Files or folders named by the config do not exist."""


class DataCheckError(DataError, ValueError):
    """Feature files that exist but cannot be used (one table of all of them)."""


# ------------------------------------------------------------------------------- step 1: paths
def _dataset_cfgs(loader_cfg, key: str) -> Iterable[Tuple[str, dict]]:
    """``(config key, dataset cfg)`` of a dataloader, through wrappers (dataset / datasets)."""
    dataset = (loader_cfg or {}).get('dataset')
    todo = [(f'{key}.dataset', dataset)] if dataset else []
    while todo:
        where, cfg = todo.pop(0)
        if cfg.get('dataset'):
            todo.append((f'{where}.dataset', cfg['dataset']))
        elif cfg.get('datasets'):
            todo.extend((f'{where}.datasets[{i}]', d) for i, d in enumerate(cfg['datasets']))
        else:
            yield where, cfg


def _rooted(path: str, root: Optional[str]) -> str:
    return osp.join(root, path) if root and not osp.isabs(path) else path


def named_paths(cfg) -> List[Tuple[str, str]]:
    """``(config key, path)`` of every data file or folder the config's splits and evaluators name."""
    found: List[Tuple[str, str]] = []
    for split in SPLITS:
        for where, dataset in _dataset_cfgs(cfg.get(f'{split}_dataloader'), f'{split}_dataloader'):
            root = dataset.get('data_root')
            for name in ('ann_file', 'train_ann_file', 'video_info_file'):
                if dataset.get(name):
                    found.append((f'{where}.{name}', _rooted(dataset[name], root)))
            prefix = dataset.get('data_prefix') or {}
            for name in ('feature', 'video'):
                if prefix.get(name) and not dataset.get('streams'):
                    found.append((f'{where}.data_prefix.{name}', _rooted(prefix[name], root)))
            for name, path in (dataset.get('streams') or {}).items():
                found.append((f'{where}.streams.{name}', _rooted(path, root)))
        evaluators = cfg.get(f'{split}_evaluator') or []
        for i, evaluator in enumerate([evaluators] if isinstance(evaluators, dict) else evaluators):
            key = f'{split}_evaluator' + ('' if isinstance(evaluators, dict) else f'[{i}]')
            for name in ('ann_file', 'classifier_file'):
                if evaluator.get(name):
                    found.append((f'{key}.{name}', evaluator[name]))
    return found


def missing_paths(cfg) -> List[Tuple[str, str]]:
    """The entries of :func:`named_paths` that do not exist (each path once)."""
    seen, missing = set(), []
    for key, path in named_paths(cfg):
        if not osp.exists(path) and (key, path) not in seen:
            seen.add((key, path))
            missing.append((key, path))
    return missing


def missing_data_message(missing: List[Tuple[str, str]], config: str = 'CONFIG') -> str:
    width = max(len(k) for k, _ in missing)
    lines = [f'{config}: {len(missing)} data path(s) named by the config do not exist '
             f'(relative paths are from {os.getcwd()}):']
    lines += [f'  {key:<{width}}  {path}' for key, path in missing]
    example = ' '.join(f'{k}=...' for k in dict.fromkeys(k for k, _ in missing[:2]))
    lines += [
        'Prepare the data as README.md "Data preparation" says (THUMOS14, HACS, your own '
        'features: docs/custom_dataset.md), or point the config at your copy with the keys above:',
        f'  python tools/train.py {config} --cfg-options {example}',
        'To try the whole pipeline without the data: make demo']
    return '\n'.join(lines)


# ---------------------------------------------------------------------------- step 2: contents
@dataclass(frozen=True)
class FileJob:
    """One video's feature file(s) and the options to read them."""
    paths: object  # str, or {stream: path}
    video: str
    key: Optional[str] = None
    stride: int = 1
    feat_dim: Optional[int] = None
    same_width: bool = True
    length_mismatch: str = 'error'
    splits: Tuple[str, ...] = field(default=(), compare=False)

    def files(self) -> List[str]:
        return [self.paths] if isinstance(self.paths, str) else list(self.paths.values())

    def ident(self) -> str:
        return json.dumps([self.paths, self.key, self.stride, self.feat_dim, self.same_width,
                           self.length_mismatch], sort_keys=True, default=str)


@dataclass
class Problem:
    split: str
    video: str
    file: str
    problem: str


def _entries(dataset) -> List[dict]:
    """The per-video entries of a (lazily built) dataset, without reading any feature file."""
    from .anet_feature_dataset import ANetFeatureDataset
    from .sm_window_dataset import SimilarityWindowDataset
    from .thumos_window_dataset import ThumosWindowDataset
    if isinstance(dataset, ThumosWindowDataset):  # its listing reads every header
        return [dict(video_name=v, feature_path=dataset.feature_path(v))
                for v in dataset._load_annotations()]
    if isinstance(dataset, SimilarityWindowDataset):  # its listing reads every file
        return ANetFeatureDataset.load_data_list(dataset)
    return dataset.load_data_list()


def feature_jobs(cfg, splits: Tuple[str, ...] = SPLITS) -> Tuple[List[FileJob], List[Problem]]:
    """Every split's feature files (shared by splits: once), and the splits whose listing failed
    (bad annotation file, missing feature files: the dataset's own message)."""
    jobs: Dict[str, FileJob] = {}
    problems: List[Problem] = []
    for split in splits:
        for where, dataset_cfg in _dataset_cfgs(cfg.get(f'{split}_dataloader'),
                                                f'{split}_dataloader'):
            try:
                dataset = DATASETS.build(dict(dataset_cfg, pipeline=[], lazy_init=True))
                entries = _entries(dataset)
            except (OSError, ValueError) as err:  # the dataset's own check, kept in the table
                problems.append(Problem(split, '-', str(dataset_cfg.get('ann_file', where)),
                                        f'{type(err).__name__}: {err}'))
                continue
            except Exception:  # not a feature dataset this check knows: its own build decides
                continue
            # LoadTALFeature's own feat_dim wins over the dataset's (as when loading)
            loads = [t for t in dataset_cfg.get('pipeline') or []
                     if isinstance(t, dict) and t.get('type') == 'LoadTALFeature']
            feat_dim = (loads[0].get('feat_dim') if loads else None) or \
                getattr(dataset, 'feat_dim', None)
            for entry in entries:
                if not entry.get('feature_path') or 'video_name' not in entry:
                    continue
                job = FileJob(entry['feature_path'], entry['video_name'],
                              key=entry.get('feature_key', getattr(dataset, 'feature_key', None)),
                              stride=int(entry.get('feature_stride',
                                                   getattr(dataset, 'feature_stride', 1))),
                              feat_dim=feat_dim,
                              same_width=getattr(dataset, 'same_width', True),
                              length_mismatch=getattr(dataset, 'length_mismatch', 'error'))
                known = jobs.get(job.ident())
                splits = (known.splits if known else ()) + (split, )
                jobs[job.ident()] = FileJob(**{**job.__dict__, 'splits': tuple(
                    dict.fromkeys(splits))})
    return list(jobs.values()), problems


def _cache_path() -> str:
    root = os.environ.get('SOLA_MM_CACHE_DIR') or osp.join(osp.expanduser('~'), '.cache', 'sola_mm')
    return osp.join(root, 'preflight.json')


def _stamp(job: FileJob) -> Optional[str]:
    """The job and the size and mtime of its files; None when a file is missing."""
    stats = []
    for path in job.files():
        try:
            st = os.stat(path)
        except OSError:
            return None
        stats.append([osp.abspath(path), st.st_size, st.st_mtime_ns])
    return json.dumps([stats, job.ident()])


def _check_one(job: FileJob) -> dict:
    try:
        feats = load_video_features(job.paths, job.video, key=job.key, stride=job.stride,
                                    feat_dim=job.feat_dim, same_width=job.same_width,
                                    length_mismatch=job.length_mismatch)
    except FeatureError as err:
        return dict(problem=str(err))
    return dict(shape=list(feats.shape))


def _short(message: str, job: FileJob) -> str:
    """The problem without the file and video the table already shows."""
    for path in job.files():
        for prefix in (f'feature file {path!r} (video {job.video}): ',
                       f'feature file {path!r} (video {job.video}) ', f'video {job.video}: '):
            if message.startswith(prefix):
                return message[len(prefix):]
    return message


def check_features(jobs: List[FileJob], workers: Optional[int] = None) -> List[Problem]:
    """Read every job's files in full (threads), cached by size and mtime; the problems found."""
    path = _cache_path()
    try:
        with open(path) as f:
            cache = json.load(f)
    except (OSError, ValueError):
        cache = {}
    results: Dict[str, dict] = {}
    todo = []
    for job in jobs:
        stamp = _stamp(job)
        if stamp is not None and stamp in cache:
            results[job.ident()] = cache[stamp]
        else:
            todo.append((job, stamp))
    lock = threading.Lock()

    def run(item):
        job, stamp = item
        result = _check_one(job)
        with lock:
            results[job.ident()] = result
            if stamp is not None:
                cache[stamp] = result
    if todo:
        if len(cache) > 200_000:  # bounded: one entry per feature file version
            cache = {}
        workers = workers or min(8, os.cpu_count() or 1)
        from mmengine.logging import print_log
        print_log(f'data check: reading {len(todo)} new or changed feature file(s) in full '
                  f'({workers} threads; cached in {path})', logger='current')
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(run, todo))
        try:
            os.makedirs(osp.dirname(path), exist_ok=True)
            tmp = f'{path}.tmp.{os.getpid()}'
            with open(tmp, 'w') as f:
                json.dump(cache, f)
            os.replace(tmp, path)
        except OSError:
            pass  # a read-only home: the check still ran, only the rerun is not instant
    problems = []
    widths = Counter(results[j.ident()]['shape'][1] for j in jobs
                     if 'shape' in results[j.ident()] and j.feat_dim is None)
    usual = widths.most_common(1)[0][0] if widths else None
    for job in jobs:
        result = results[job.ident()]
        where = ', '.join(job.files())
        if 'problem' in result:
            problems.append(Problem('/'.join(job.splits), job.video, where,
                                    _short(result['problem'], job)))
        elif job.feat_dim is None and usual is not None and result['shape'][1] != usual:
            problems.append(Problem('/'.join(job.splits), job.video, where,
                                    f'{result["shape"][1]} channels, while {widths[usual]} other '
                                    f'file(s) have {usual}'))
    return problems


def problem_table(problems: List[Problem], num_files: int) -> str:
    rows = [('split', 'video', 'file', 'problem')]
    rows += [(p.split, p.video, p.file, p.problem) for p in problems]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [f'data check: {len(problems)} problem(s) in {num_files} feature file(s) listed by '
             'the config; nothing was trained. Fix or remove these files (or their annotation '
             'entries), then rerun:']
    lines += ['  ' + '  '.join(r[i].ljust(widths[i]) for i in range(3)) + '  ' + r[3]
              for r in rows]
    return '\n'.join(lines)


def check_data(cfg, config: str = 'CONFIG', workers: Optional[int] = None) -> int:
    """Both steps; raises :class:`MissingDataError` or :class:`DataCheckError`, else returns the
    number of feature files checked."""
    missing = missing_paths(cfg)
    # training never reads the test split: check it only when its files are there
    splits = SPLITS if not any(k.startswith('test_') for k, _ in missing) else SPLITS[:2]
    missing = [(k, p) for k, p in missing if k.split('_')[0] in splits]
    if missing:
        raise MissingDataError(missing_data_message(missing, config))
    jobs, problems = feature_jobs(cfg, splits)
    problems += check_features(jobs, workers)
    if problems:
        raise DataCheckError(problem_table(problems, len(jobs)))
    return len(jobs)


@HOOKS.register_module()
class DataCheckHook(Hook):
    """Run :func:`check_data` on the runner's config before anything trains (first of the
    ``before_train`` hooks: before SoLa stage 1). Test-only runs are not checked."""

    priority = 'HIGHEST'

    def before_train(self, runner) -> None:
        count = check_data(runner.cfg, getattr(runner.cfg, 'filename', None) or 'CONFIG')
        runner.logger.info(f'data check: {count} feature file(s) of every split read in full, '
                           'no problem')
