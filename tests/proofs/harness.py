"""Helpers for proof tests: lint an app's source, then run the very same source with real FastAPI.

A proof test shows, for one rule, that the flagged pattern really fails the way the message says
(TestClient against the real framework), and that the suggested fix works and is not flagged.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import sys
import textwrap
from pathlib import Path
from types import ModuleType
from typing import Dict, List, Tuple

_counter = itertools.count()


def write_project(root: Path, files: Dict[str, str]) -> Path:
    """Write files (dedented) under root, with a pyproject.toml marking the project root."""
    (root / "pyproject.toml").write_text('[project]\nname = "proof"\n')
    for name, text in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return root


def lint(root: Path, *paths: str, **options) -> List[Tuple[str, int, str]]:
    """[(path relative to root, line, code)] as the library reports them."""
    from astack_lint.api import Settings, lint_paths

    result = lint_paths([str(root / p) for p in (paths or ("",))], Settings.from_values(options, base_dir=str(root)))
    assert not result.errors, result.errors
    return [(os.path.relpath(f.path, root).replace(os.sep, "/"), f.line, f.code) for f in result.findings]


def codes(root: Path, *paths: str, **options) -> List[str]:
    return sorted(code for _p, _l, code in lint(root, *paths, **options))


def load(root: Path, module: str = "app") -> ModuleType:
    """Import ``root/<module>.py`` (with ``root`` on sys.path, so its sibling modules import too)."""
    name = f"{module}"
    path = root / (module.replace(".", "/") + ".py")
    sys.path.insert(0, str(root))
    try:
        for key in [k for k in sys.modules if k == module.split(".")[0] or k.startswith(module.split(".")[0] + ".")]:
            del sys.modules[key]
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec and spec.loader
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
        return mod
    finally:
        sys.path.remove(str(root))
