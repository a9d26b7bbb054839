"""What a run produces: findings (with their fixes) and errors. Plain data, light to import:
a warm run that replays a cached result imports this and not LibCST."""

from __future__ import annotations

from typing import List, NamedTuple, Optional, Sequence, Tuple


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
            return f"{display_path}:{self.line}:{self.col or 1}: {kind}: {self.message}"
        return f"{display_path}: {kind}: {self.message}"


class LintResult(NamedTuple):
    findings: List[Finding]
    errors: List[LintError]
    files: int  # files linted
    warnings: Sequence[LintError] = ()  # e.g. a directory with no Python files (exit code unchanged)
