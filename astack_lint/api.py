"""The library: lint or fix from Python, with the same caches as the command line.

    from astack_lint.api import Settings, lint_paths
    result = lint_paths(["src/"], Settings(select=("AXS2",)))
    for finding in result.findings: ...
"""

from __future__ import annotations

from typing import Optional, Sequence

from .cache.facts import DiskCache
from .cache.runs import RunCache
from .config.options import Settings
from .engine.fix import FixReport, OverlayStore
from .engine.fix import fix_paths as _fix_paths
from .engine.run import Session
from .engine.store import Store
from .results import Finding, LintError, LintResult

__all__ = ["Finding", "FixReport", "LintError", "LintResult", "Settings", "fix_paths", "lint_paths"]


def lint_paths(paths: Sequence[str], settings: Optional[Settings] = None, store: Optional[Store] = None) -> LintResult:
    """Lint files and directories; each file is judged within its whole project. Without ``store``,
    the per-file facts and per-root results are cached as the command line caches them (unless
    ``settings.no_cache``); with one, only that store is used."""
    settings = settings or Settings()
    if store is not None:
        return Session(settings, store).lint(paths)
    disk = DiskCache.for_settings(settings)
    runs = RunCache(disk.directory) if disk is not None else None
    return Session(settings, Store(settings, disk), runs).lint(paths)


def fix_paths(paths: Sequence[str], settings: Optional[Settings] = None, unsafe: bool = False, write: bool = True) -> FixReport:
    """``--fix`` (``write=False``: ``--diff``) from Python: see ``engine/fix.py``."""
    settings = settings or Settings()
    return _fix_paths(paths, settings, OverlayStore(settings, DiskCache.for_settings(settings)), unsafe=unsafe, write=write)
