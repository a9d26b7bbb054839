"""Which files to lint, and which project each belongs to.

A file's project root is the nearest directory holding a root marker (``layout.marks_root``),
else the directory given on the command line that holds it, or a file's own directory (never the
working directory, never the file system's root). Walking a directory skips ``layout.DEFAULT_EXCLUDE_DIRS``,
``*.egg-info``, virtual environments and the user's excludes, and follows no symbolic link to a
directory unless ``follow-symlinks`` is on; a file reached twice (by its own name and through a
link) is listed once, under its own name; every directory walked is written to the run's
``ReadLog``.
"""

from __future__ import annotations

import os
from typing import Dict, List, Optional, Sequence, Set, Tuple

from ..config.options import Settings
from ..layout import DEFAULT_EXCLUDE_DIRS, VENV_MARKER, marks_root
from ..results import LintError, ReadLog


def find_root(path: str, cwd: Optional[str] = None, marked: Optional[Dict[str, bool]] = None,
              unmarked: Optional[str] = None) -> str:
    """The project root of a file: the nearest directory with a root marker; else ``unmarked`` (the
    command line's: the directory given, or the directory of the file given), else the cwd when the
    file is below it (never the file system's root), else the file's directory. ``marked``:
    whether each directory holds a marker, kept between calls of one run."""
    start = os.path.abspath(path if os.path.isdir(path) else os.path.dirname(path) or ".")
    d = start
    while True:
        has = marked.get(d) if marked is not None else None
        if has is None:
            has = marks_root(d)
            if marked is not None:
                marked[d] = has
        if has:
            return d
        parent = os.path.dirname(d)
        if parent == d:
            if unmarked is not None:
                return os.path.abspath(unmarked)
            base = os.path.abspath(cwd or os.getcwd())
            inside = start == base or start.startswith(base.rstrip(os.sep) + os.sep)
            return base if inside and not _is_fs_root(base) else start
        d = parent


def unmarked_root(target: str, given: Sequence[str]) -> str:
    """The root of a file without a project marker above it, for a run given ``given``: the
    deepest directory given that holds it, else the file's own directory."""
    best = ""
    for g in given:
        g = os.path.abspath(g)
        if os.path.isdir(g) and (target.startswith(g.rstrip(os.sep) + os.sep)) and len(g) > len(best):
            best = g
    return best or os.path.dirname(target)


def _is_fs_root(path: str) -> bool:
    return os.path.dirname(path) == path


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
    follow = settings.follow_symlinks
    chains: Dict[str, Tuple[str, ...]] = {}  # (following links) each directory -> the real paths from the top
    through: Set[str] = set()  # (following links) directories reached through a link below the top
    linked: Set[str] = set()  # files whose path goes through a link below the top

    def onerror(exc: OSError) -> None:
        if errors is not None and exc.filename and os.path.abspath(exc.filename) != os.path.abspath(top):
            errors.append(LintError(os.path.abspath(exc.filename), f"cannot read directory: {exc.strerror}"))

    for dirpath, dirnames, filenames in os.walk(top, onerror=onerror, followlinks=follow):
        via_link = False
        if follow:
            real = os.path.realpath(dirpath)
            chain = chains.get(os.path.dirname(dirpath), ()) + (real,)
            if real in chain[:-1]:  # a symbolic link back to a directory above: a loop
                dirnames[:] = []
                continue
            chains[dirpath] = chain
            via_link = dirpath != top and (os.path.dirname(dirpath) in through or os.path.islink(dirpath))
            if via_link:
                through.add(dirpath)
        if reads is not None:
            reads.dir(dirpath)
        dirnames[:] = sorted(d for d in dirnames if not _skip_dir(dirpath, d, settings, reads))
        for name in sorted(filenames):
            if not name.endswith(".py"):
                continue
            full = os.path.join(dirpath, name)
            if not settings.is_excluded(full):
                path = os.path.abspath(full)
                out.append(path)
                if via_link or os.path.islink(full):
                    linked.add(path)
    return once_each(out, top, linked) if linked else out


def once_each(paths: Sequence[str], top: Optional[str] = None, linked: Optional[Set[str]] = None) -> List[str]:
    """``paths`` without a file reached twice (through a symbolic link and by its own name, or
    through two links): it stays once, under the path that goes through no link (else the first),
    in the order given. ``top``: the directory walked, and ``linked`` the paths that go through a
    link below it (the others' real paths follow from the top's); without them, every path's real
    path is looked up."""
    if top is not None and linked is not None:
        real_top, abs_top = os.path.realpath(top), os.path.abspath(top)

        def real_of(p: str) -> str:
            if p in linked:  # type: ignore[operator]
                return os.path.realpath(p)
            return os.path.normpath(os.path.join(real_top, os.path.relpath(p, abs_top)))

        def direct(p: str) -> bool:
            return p not in linked  # type: ignore[operator]
    else:
        def real_of(p: str) -> str:
            return os.path.realpath(p)

        def direct(p: str) -> bool:
            return os.path.normpath(os.path.join(os.path.realpath(os.path.dirname(p)), os.path.basename(p))) == real_of(p)

    by_real: Dict[str, List[str]] = {}
    for p in dict.fromkeys(paths):
        by_real.setdefault(os.path.normcase(real_of(p)), []).append(p)
    keep: Set[str] = set()
    for group in by_real.values():
        keep.add(([p for p in group if direct(p)] or group)[0])
    return [p for p in dict.fromkeys(paths) if p in keep]


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
    if len(paths) > 1:  # the same file named twice, or reached from two of the paths
        targets = once_each(targets)
    return targets, errors


def known_files(
    root: str,
    settings: Settings,
    targets: Sequence[str],
    walked: Optional[Dict[str, List[str]]] = None,
    reads: Optional[ReadLog] = None,
) -> List[str]:
    """Every file the project model of ``root`` may read: the root's Python files and the targets."""
    found = walked.get(os.path.abspath(root)) if walked is not None else None
    if found is None and _is_fs_root(os.path.abspath(root)):
        found = []  # the whole file system is never a project's tree: only the targets
    if found is None:
        found = walk_python_files(root, settings, reads=reads)
    return list(dict.fromkeys(found + list(targets)))
