"""Documented commands: extract them from the docs, run them as written, know who runs them.

A *documented command* is a shell command in README.md or docs/*.md that starts with
``python tools/``, ``bash tools/`` or ``make`` (after leading ``VAR=value`` assignments): a line of
a fenced code block (``\\`` continuations joined, ``# comments`` dropped; ``python`` blocks are
code, not shell) or an inline code span. Whitespace is normalised.

Every documented command is either

* run by a test, as written, through :func:`run_documented` (the docs check finds the calls by
  reading the tests: the command must be a string literal, the first argument); or
* listed in ``docs/real_data_commands.md`` (one ``- `command` `` line each), with the reason.

Substitution rule (documented in docs/real_data_commands.md): a test runs the command in a scratch
folder whose ``data/`` holds generated demo data under the paths the command names, with
``tools/`` and ``configs/`` linked from the checkout; ``python`` is this interpreter. The text of
the command is never changed.
"""
from __future__ import annotations

import glob
import os
import re
import shlex
import subprocess
import sys
from typing import Dict, List, Optional

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PREFIXES = ('python tools/', 'bash tools/', 'make')
REGISTRY = os.path.join(ROOT, 'docs', 'real_data_commands.md')
_ENV = re.compile(r'^(?:[A-Z_][A-Z0-9_]*=\S*\s+)+')


def doc_files() -> List[str]:
    return [os.path.join(ROOT, 'README.md')] + sorted(glob.glob(os.path.join(ROOT, 'docs', '*.md')))


def normalise(command: str) -> str:
    return ' '.join(command.split())


def _command(text: str) -> Optional[str]:
    text = normalise(_ENV.sub('', text.strip()))
    if text == 'make' or text.startswith(('make ', 'python tools/', 'bash tools/')):
        return text
    return None


def _strip_comment(line: str) -> str:
    # a shell comment starts at ' #' outside quotes
    quote = None
    for i, ch in enumerate(line):
        if ch in '\'"' and quote in (None, ch):
            quote = None if quote else ch
        elif ch == '#' and quote is None and (i == 0 or line[i - 1].isspace()):
            return line[:i]
    return line


def commands_in(path: str) -> List[str]:
    """The documented commands of one Markdown file, in order."""
    found: List[str] = []
    in_block, shell, pending = False, False, ''
    with open(path, encoding='utf-8') as f:
        lines = f.read().splitlines()
    for line in lines:
        fence = line.strip().startswith('```')
        if fence:
            in_block = not in_block
            shell = in_block and line.strip()[3:].strip().lower() not in ('python', 'py', 'json')
            continue
        if in_block:
            if not shell:
                continue
            text = _strip_comment(line).rstrip()
            if text.endswith('\\'):
                pending += text[:-1] + ' '
                continue
            command = _command(pending + text)
            pending = ''
            if command:
                found.append(command)
            continue
        for span in re.findall(r'`([^`]+)`', line):
            command = _command(span)
            if command:
                found.append(command)
    return found


def documented_commands() -> Dict[str, List[str]]:
    """``{command: [files that document it]}`` over README.md and docs/*.md."""
    out: Dict[str, List[str]] = {}
    for path in doc_files():
        if os.path.abspath(path) == os.path.abspath(REGISTRY):
            continue
        for command in commands_in(path):
            out.setdefault(command, []).append(os.path.relpath(path, ROOT))
    return out


def listed_commands() -> List[str]:
    """The commands docs/real_data_commands.md lists (``- `command` `` lines)."""
    with open(REGISTRY, encoding='utf-8') as f:
        return [normalise(m) for m in re.findall(r'^- `([^`]+)`', f.read(), flags=re.M)]


def run_documented(command: str, cwd: str = ROOT, timeout: int = 600,
                   env: Optional[dict] = None) -> subprocess.CompletedProcess:
    """Run a documented command exactly as the docs write it (output captured; no check of the
    exit status: the test asserts what it expects). Fails when the docs no longer contain it."""
    command = normalise(command)
    known = documented_commands()
    assert command in known, (f'{command!r} is not a documented command (README.md, docs/*.md); '
                              'update the test together with the docs')
    argv = shlex.split(command)
    if argv[0] == 'python':
        argv[0] = sys.executable
    full_env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    full_env.update(env or {})
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env=full_env)


def registered_by_tests() -> Dict[str, List[str]]:
    """``{command: [test files]}`` of the string literals passed to ``run_documented``."""
    import ast
    out: Dict[str, List[str]] = {}
    for path in glob.glob(os.path.join(ROOT, 'tests', '**', '*.py'), recursive=True):
        with open(path, encoding='utf-8') as f:
            tree = ast.parse(f.read(), path)
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and getattr(node.func, 'id',
                                                       getattr(node.func, 'attr', None))
                    == 'run_documented' and node.args
                    and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)):
                out.setdefault(normalise(node.args[0].value), []).append(
                    os.path.relpath(path, ROOT))
    return out
