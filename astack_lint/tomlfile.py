"""TOML files (pyproject.toml, uv.lock, pdm.lock, ...): ``tomllib``, or ``tomli`` before 3.11."""

from __future__ import annotations

import sys
from typing import Any, Dict

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.9/3.10
    import tomli as tomllib

TOMLDecodeError = tomllib.TOMLDecodeError
# what reading a TOML file may raise
ERRORS = (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError, RecursionError)


def load(path: str) -> Dict[str, Any]:
    with open(path, "rb") as fh:
        return tomllib.load(fh)
