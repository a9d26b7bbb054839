"""TOML files (pyproject.toml, uv.lock, pdm.lock, ...): ``tomllib``, or ``tomli`` before 3.11. Only a
regular file is read (never a FIFO or a device), of at most ``MAX_TOML_BYTES``."""

from __future__ import annotations

import sys
from typing import Any, Dict

from .source import SourceError, read_bytes

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.9/3.10
    import tomli as tomllib

TOMLDecodeError = tomllib.TOMLDecodeError
# what reading a TOML file may raise
ERRORS = (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError, RecursionError, SourceError, MemoryError)
# the largest lock file or pyproject.toml read (real ones stay far below)
MAX_TOML_BYTES = 20 * 1024 * 1024


def load(path: str) -> Dict[str, Any]:
    return tomllib.loads(read_bytes(path, MAX_TOML_BYTES, "read").decode("utf-8"))
