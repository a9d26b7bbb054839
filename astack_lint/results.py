"""What a run produces: findings (with their fixes), errors, and what it read. Plain data, light
to import: a warm run that replays a cached result imports this and not LibCST."""

from __future__ import annotations

import os
import re
from typing import List, NamedTuple, Optional, Sequence, Set, Tuple

_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape_controls(text: str) -> str:
    """``text`` with every control character (C0, DEL, C1) written as a backslash escape: ``\\n``,
    ``\\r``, ``\\t``, else ``\\xNN``."""
    return _CONTROLS.sub(lambda m: _NAMED.get(m.group(), f"\\x{ord(m.group()):02x}"), text)


class Edit(NamedTuple):
    """Replace the text between two (line, col) positions (1-based line, 0-based column)."""

    start: Tuple[int, int]
    end: Tuple[int, int]
    text: str


class Fix(NamedTuple):
    edits: Tuple[Edit, ...]
    applicability: str  # "safe" or "unsafe"
    message: str = ""


class Finding(NamedTuple):
    code: str
    message: str
    path: str  # absolute path
    line: int  # 1-based
    col: int  # 0-based (displayed 1-based)
    end_line: Optional[int] = None
    end_col: Optional[int] = None
    fix: Optional[Fix] = None

    def sort_key(self) -> tuple:
        return (self.path, self.line, self.col, self.code, self.message)


class LintError(NamedTuple):
    path: str
    message: str
    line: Optional[int] = None
    col: Optional[int] = None  # 1-based

    def format(self, display_path: str, kind: str = "error") -> str:
        if self.line is not None:
            return escape_controls(f"{display_path}:{self.line}:{self.col or 1}: {kind}: {self.message}")
        return escape_controls(f"{display_path}: {kind}: {self.message}")


class ReadLog:
    """What a run read besides the Python files it lints, filled by the code that reads: the
    directories it walked or looked in, and every other file it opened or looked for by name (a
    config file, lock and requirements files, an environment's site-packages). The whole-command
    replay (``cache/replay.py``) watches exactly these."""

    def __init__(self) -> None:
        self.dirs: Set[str] = set()
        self.files: Set[str] = set()

    def dir(self, path: str) -> None:
        self.dirs.add(os.path.abspath(path))

    def file(self, path: str) -> None:
        self.files.add(os.path.abspath(path))


class LintResult(NamedTuple):
    findings: List[Finding]
    errors: List[LintError]
    files: int  # files linted
    warnings: Sequence[LintError] = ()  # e.g. a directory with no Python files (exit code unchanged)


class AnalysisError(Exception):
    """A file that cannot be analysed: a syntax error (CPython's verdict), too deep to parse, ..."""

    def __init__(self, message: str, line: Optional[int] = None, col: Optional[int] = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.col = col


def describe_exception(exc: BaseException, limit: int = 200) -> str:
    """One short line for an unexpected exception: its str() may be huge, span lines, or fail."""
    try:
        text = " ".join(str(exc).split())
    except Exception:  # a RecursionError from a deep repr, or anything else
        text = ""
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
