"""Which FastAPI and Starlette releases a project can run, and what that means for a rule.

Resolution, per linted file (``Resolver.for_path``): the first source that answers wins, and it answers for
both packages at once (so a project never gets its FastAPI from one file and its Starlette from
another):

1. the options ``fastapi-version`` / ``starlette-version`` (a version or a specifier);
2. walking up from the file's directory to its project root, the nearest directory that answers,
   where within one directory a lock file (uv.lock, poetry.lock, pdm.lock, Pipfile.lock,
   pylock.toml) beats the requirements files (``requirements*.txt``, ``requirements/*.txt``,
   following ``-r`` and ``-c``), which beat pyproject.toml (``[project]`` dependencies, optional
   dependencies, ``[dependency-groups]``, Poetry's groups, Hatch's environments, PDM's dev
   dependencies), which beat setup.cfg (``install_requires``, ``extras_require``), setup.py (its
   ``setup(install_requires=...)`` read from the syntax tree, never run) and the metadata of a
   build at the project root (``PKG-INFO``, ``*.dist-info/METADATA``,
   ``*.egg-info/requires.txt``). A pyproject.toml of a uv workspace member yields to the
   workspace's uv.lock further up when that lock lists the member;
3. the project's own environment: the distributions of the interpreter running the linter when it
   runs inside the project (``sys.prefix`` is under the project root), else an environment found
   under the project root whatever runs the linter (``VIRTUAL_ENV``, uv's, Hatch's or PDM's
   in-project environment, ``.venv`` / ``venv`` / ``env`` with a ``pyvenv.cfg``: see
   ``environments.py``), read from its ``*.dist-info/METADATA``, never imported; so the command
   line, flake8 and pre-commit's isolated environment agree;
4. nothing known: every release is possible.

A source "answers" when it constrains fastapi (or fastapi-slim) or starlette. FastAPI's own pins
of Starlette (``data.STARLETTE_PINS``) narrow Starlette when only FastAPI is known, and
each package by the other when both are.

What the sources say is read in ``sources.py``; what it means (possible releases, affected
ranges, messages) is ``versions.py``.
"""

from __future__ import annotations

import os
from typing import Dict, List, Optional, Tuple

from ..layout import CONFIG_FILE
from ..results import ReadLog
from .environments import environment_answer
from .metadata_sources import packaging_answer
from .sources import _inside, _installed_answer, _workspace_lock, directory_answer
from .versions import PACKAGES, Answer, Constraint, Releases, Source, from_answer, parse_option


def option_answer(fastapi_version: Optional[str], starlette_version: Optional[str]) -> Optional[Answer]:
    """What the options ``fastapi-version`` / ``starlette-version`` say (None: neither is set)."""
    constraints: Dict[str, Constraint] = {}
    texts: Dict[str, str] = {}
    exact: Dict[str, bool] = {}
    detail = []
    for pkg, value in zip(PACKAGES, (fastapi_version, starlette_version)):
        if value is None or value == "":
            continue
        constraints[pkg] = parse_option(value)
        texts[pkg] = str(value)
        exact[pkg] = False
        detail.append(str(value))
    if not constraints:
        return None
    # the option's text is what messages quote
    return Answer(Source("option", "", "; ".join(detail)), constraints, texts, exact)


class Resolver:
    """Release resolution for one run (or one flake8 process): every directory's answer is read
    once, every file consulted is written to ``reads``."""

    def __init__(
        self,
        fastapi_version: Optional[str] = None,
        starlette_version: Optional[str] = None,
        reads: Optional[ReadLog] = None,
    ) -> None:
        self.option = option_answer(fastapi_version, starlette_version)
        self.reads = reads
        self._dirs: Dict[str, Optional[Answer]] = {}
        self._installed: Dict[str, Optional[Answer]] = {}
        self._real_roots: Dict[str, str] = {}
        self._releases: Dict[Tuple[str, str], Releases] = {}

    def _walk(self, start: str, root: str) -> List[str]:
        """The directories from ``start`` up to the project root (only ``start`` when it lies outside)."""
        dirs = []
        d = os.path.abspath(start)
        root = os.path.abspath(root)
        real_root = self._real_roots.get(root)
        if real_root is None:  # the same root for every start: resolve its real path once
            real_root = self._real_roots[root] = os.path.normcase(os.path.realpath(root))
        inside = _inside(d, root, real_root)
        while True:
            dirs.append(d)
            if not inside or os.path.normcase(d) == os.path.normcase(root):
                break
            parent = os.path.dirname(d)
            if parent == d:
                break
            d = parent
        return dirs

    def answer(self, start: str, root: str) -> Optional[Answer]:
        """The first source that answers for a file in directory ``start`` of the project at ``root``."""
        if self.option is not None:
            return self.option
        at_root = os.path.normcase(os.path.abspath(root))
        for d in self._walk(start, root):
            if d not in self._dirs:
                self._dirs[d] = directory_answer(d, self.reads) or packaging_answer(d, self.reads, os.path.normcase(d) == at_root)
            ans = self._dirs[d]
            if ans is not None:
                if ans.source.kind != "lock" and os.path.basename(ans.source.path) == CONFIG_FILE:
                    ws = _workspace_lock(d, self.reads)
                    if ws is not None:
                        return ws
                return ans
        if root not in self._installed:
            self._installed[root] = _installed_answer(root, self.reads) or environment_answer(root, self.reads)
        return self._installed[root]

    def for_path(self, path: str, root: str) -> Releases:
        """The releases a file (or a directory) of the project at ``root`` can run."""
        start = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
        key = (start, root)
        found = self._releases.get(key)
        if found is None:
            found = self._releases[key] = from_answer(self.answer(start, root), root)
        return found
