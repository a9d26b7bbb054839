"""Which files to lint, and which project each belongs to.

A file's project root is the nearest directory holding a root marker (``layout.ROOT_MARKERS``),
else the working directory. Walking a directory skips ``layout.DEFAULT_EXCLUDE_DIRS``,
``*.egg-info``, virtual environments and the user's excludes; every directory walked is written to
the run's ``ReadLog``.
"""

from __future__ import annotations

import os
from typing import Dict, List, Optional, Sequence, Set, Tuple

from ..config.options import Settings
from ..layout import DEFAULT_EXCLUDE_DIRS, ROOT_MARKERS, VENV_MARKER
from ..results import LintError, ReadLog


def find_root(path: str, cwd: Optional[str] = None, marked: Optional[Dict[str, bool]] = None) -> str:
    """The project root of a file: the nearest directory with a root marker, else the cwd.
    ``marked``: whether each directory holds a marker, kept between calls of one run."""
    d = os.path.abspath(path if os.path.isdir(path) else os.path.dirname(path) or ".")
    while True:
        has = marked.get(d) if marked is not None else None
        if has is None:
            has = any(os.path.exists(os.path.join(d, m)) for m in ROOT_MARKERS)
            if marked is not None:
                marked[d] = has
        if has:
            return d
        parent = os.path.dirname(d)
        if parent == d:
            base = os.path.abspath(cwd or os.getcwd())
            start = os.path.abspath(path if os.path.isdir(path) else os.path.dirname(path) or ".")
            inside = start == base or start.startswith(base.rstrip(os.sep) + os.sep)
            return base if inside else start
        d = parent


def _skip_dir(dirpath: str, name: str, settings: Settings, reads: Optional[ReadLog]) -> bool:
    if name in DEFAULT_EXCLUDE_DIRS or name.endswith(".egg-info"):
        return True
    full = os.path.join(dirpath, name)
    marker = os.path.join(full, VENV_MARKER)
    if os.path.isfile(marker):
        if reads is not None:
            reads.file(marker)  # the directory is walked again once it is gone
        return True
    return settings.is_excluded(full)


def walk_python_files(
    top: str, settings: Settings, errors: Optional[List[LintError]] = None, reads: Optional[ReadLog] = None
) -> List[str]:
    out: List[str] = []
    seen: Set[Tuple[int, int]] = set()

    def onerror(exc: OSError) -> None:
        if errors is not None and exc.filename and os.path.abspath(exc.filename) != os.path.abspath(top):
            errors.append(LintError(os.path.abspath(exc.filename), f"cannot read directory: {exc.strerror}"))

    for dirpath, dirnames, filenames in os.walk(top, onerror=onerror, followlinks=True):
        try:
            st = os.stat(dirpath)
            ident = (st.st_dev, st.st_ino)
        except OSError:
            dirnames[:] = []
            continue
        if ident in seen:  # a symlink loop
            dirnames[:] = []
            continue
        seen.add(ident)
        if reads is not None:
            reads.dir(dirpath)
        dirnames[:] = sorted(d for d in dirnames if not _skip_dir(dirpath, d, settings, reads))
        for name in sorted(filenames):
            if not name.endswith(".py"):
                continue
            full = os.path.join(dirpath, name)
            if not settings.is_excluded(full):
                out.append(os.path.abspath(full))
    return out


def discover(
    paths: Sequence[str],
    settings: Settings,
    warnings: Optional[List[LintError]] = None,
    walked: Optional[Dict[str, List[str]]] = None,
    reads: Optional[ReadLog] = None,
) -> Tuple[List[str], List[LintError]]:
    """The Python files to lint under these paths (``walked``: each directory's files, kept)."""
    targets: List[str] = []
    errors: List[LintError] = []
    for p in paths:
        if not os.path.lexists(p):
            errors.append(LintError(os.path.abspath(p), "no such file or directory"))
            continue
        if os.path.isdir(p):
            n_errors = len(errors)
            found = walk_python_files(p, settings, errors, reads)
            if walked is not None:
                walked[os.path.abspath(p)] = found
            if not found and len(errors) == n_errors and warnings is not None:
                warnings.append(LintError(os.path.abspath(p), "no Python files found"))
            targets.extend(found)
        elif os.path.exists(p):
            if not settings.is_excluded(p):
                targets.append(os.path.abspath(p))
        else:
            errors.append(LintError(os.path.abspath(p), "broken symbolic link"))
    seen: Set[str] = set()
    unique = []
    for t in targets:
        if t not in seen:
            seen.add(t)
            unique.append(t)
    return unique, errors


def known_files(
    root: str,
    settings: Settings,
    targets: Sequence[str],
    walked: Optional[Dict[str, List[str]]] = None,
    reads: Optional[ReadLog] = None,
) -> List[str]:
    """Every file the project model of ``root`` may read: the root's Python files and the targets."""
    found = walked.get(os.path.abspath(root)) if walked is not None else None
    if found is None:
        found = walk_python_files(root, settings, reads=reads)
    return list(dict.fromkeys(found + list(targets)))
