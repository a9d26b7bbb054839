"""Options, declared once: each is a field of ``Settings`` whose metadata says how the CLI,
pyproject.toml and the flake8 plugin spell it (``OPTIONS`` is read off those fields).

``Settings`` is frozen: a run's options never change under it, and ``key()`` (what a cached
result depends on) is derived from the fields, leaving out those that only shape the report.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import os
import re
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple

CODE_SELECTOR = re.compile(r"^[A-Z]{1,3}[0-9]{0,3}$", re.ASCII)


class ConfigError(Exception):
    """A bad option value or config key: exit 2 with this message."""


class OptionSpec(NamedTuple):
    name: str  # kebab-case, as in pyproject.toml and on the command line
    kind: str  # "codes", "globs", "strs", "bool", "str", "int", "version", "per-file-ignores"
    default: Any
    help: str
    plugin: bool  # also registered with flake8 (flake8 has its own select/ignore/exclude/...)
    metavar: str = ""
    choices: Tuple[str, ...] = ()  # for kind "str": the values allowed
    report_only: bool = False  # shapes the report or the run, never a finding: not part of Settings.key()
    cli_only: bool = False  # on the command line only: a config file cannot turn it on

    @property
    def dest(self) -> str:
        return self.name.replace("-", "_")


def _option(kind: str, help: str, *, default: Any = None, plugin: bool = False, metavar: str = "",
            choices: Tuple[str, ...] = (), report_only: bool = False, cli_only: bool = False) -> Any:
    meta = {"kind": kind, "help": help, "plugin": plugin, "metavar": metavar, "choices": choices,
            "report_only": report_only, "cli_only": cli_only}
    return dataclasses.field(default=default, metadata={"option": meta})


Codes = Optional[Tuple[str, ...]]
PerFileIgnores = Optional[Tuple[Tuple[str, Tuple[str, ...]], ...]]


@dataclasses.dataclass(frozen=True)
class Settings:
    """The resolved options for a run (``base_dir``: where relative patterns are anchored, the
    config file's directory or the working directory)."""

    select: Codes = _option("codes", "codes or prefixes to report (default: all AXS rules)", metavar="CODES")
    ignore: Codes = _option("codes", "codes or prefixes not to report", metavar="CODES")
    extend_select: Codes = _option("codes", "add to the selected codes", metavar="CODES")
    extend_ignore: Codes = _option("codes", "add to the ignored codes", metavar="CODES")
    exclude: Codes = _option("globs", "file or directory patterns to skip (replaces the user list)", metavar="PATTERNS")
    extend_exclude: Codes = _option("globs", "more patterns to skip", metavar="PATTERNS")
    per_file_ignores: PerFileIgnores = _option(
        "per-file-ignores", 'codes to ignore per file pattern, flake8 style: "tests/*:AXS104 app/legacy.py:AXS1"',
        metavar="MAPPING")
    exit_zero: bool = _option("bool", "exit 0 even when there are findings", default=False, report_only=True)
    disable_noqa: bool = _option("bool", "report findings even on lines with # noqa", default=False)
    output_format: str = _option(
        "str", "how to print findings: text, json, sarif (SARIF 2.1.0, for code scanning) or github "
        "(GitHub Actions annotations)", default="text", metavar="{text,json,sarif,github}",
        choices=("text", "json", "sarif", "github"), report_only=True)
    statistics: bool = _option("bool", "print a count per code instead of the findings", default=False, report_only=True)
    show_source: bool = _option("bool", "print the offending line, with a caret under the column", default=False,
                                report_only=True)
    follow_symlinks: bool = _option(
        "bool", "walk into symbolic links to directories (default: a link to a directory is skipped, as ruff "
        "and flake8 do; a file reached twice is linted once, under its own name)", default=False)
    dependency_functions: Codes = _option(
        "strs", "glob patterns of qualified function names to treat as FastAPI dependencies "
        "(for libraries whose dependencies are used in another repository), e.g. 'mylib.deps.*'",
        plugin=True, metavar="PATTERNS")
    fastapi_version: Optional[str] = _option(
        "version", "the FastAPI release(s) the project runs: a version or a PEP 440 specifier, e.g. 0.110.0 or "
        "'>=0.100,<0.120' (default: read from lock files, requirements, pyproject.toml)", plugin=True, metavar="SPEC")
    starlette_version: Optional[str] = _option(
        "version", "the Starlette release(s) the project runs, like --fastapi-version", plugin=True, metavar="SPEC")
    jobs: Optional[int] = _option(
        "int", "files parsed in parallel by this many processes (default and most: the cores available; 1: no parallelism)",
        metavar="N", report_only=True)
    cache_dir: Optional[str] = _option(
        "str", "where to keep the per-file cache (default: $ASTACK_LINT_CACHE_DIR, else the user cache directory)",
        plugin=True, metavar="DIR", report_only=True)
    no_cache: bool = _option("bool", "neither read nor write the cache", default=False, plugin=True, report_only=True)
    fix: bool = _option(
        "bool", "apply the safe fixes, then report the findings that remain (standard error counts what was fixed)",
        default=False, cli_only=True)
    unsafe_fixes: bool = _option(
        "bool", "with --fix or --diff: apply the unsafe fixes too (they change what the program does at run time)",
        default=False, cli_only=True)
    diff: bool = _option(
        "bool", "print the unified diff of what --fix would change, write nothing (exit 1 when there is a diff)",
        default=False, cli_only=True)
    base_dir: str = ""
    config_path: Optional[str] = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "base_dir", os.path.abspath(self.base_dir or os.getcwd()))
        for spec in OPTIONS:  # lists from a config file or flake8 become tuples: frozen all the way down
            value = getattr(self, spec.dest)
            if isinstance(value, list):
                if spec.kind == "per-file-ignores":
                    value = tuple((pattern, tuple(codes)) for pattern, codes in value)
                set_(self, spec.dest, tuple(value))

    @classmethod
    def from_values(cls, values: Optional[Dict[str, Any]] = None, base_dir: Optional[str] = None,
                    config_path: Optional[str] = None) -> "Settings":
        """Settings from option values by ``dest`` (as ``coerce`` gives them); the rest default."""
        unknown = set(values or ()) - set(OPTIONS_BY_DEST)
        if unknown:
            raise TypeError(f"unknown options: {sorted(unknown)}")
        return cls(**dict(values or {}), base_dir=base_dir or "", config_path=config_path)

    def replace(self, **changes: Any) -> "Settings":
        return dataclasses.replace(self, **changes)

    def key(self) -> str:
        """What a cached result depends on: every option that can change a finding, where relative
        patterns are anchored, and the config file."""
        kept = [(s.dest, repr(getattr(self, s.dest))) for s in OPTIONS if not s.report_only]
        return repr((kept, self.base_dir, self.config_path))

    # selection, as flake8 decides it ------------------------------------------------------
    def is_selected(self, code: str, extra_ignore: Sequence[str] = ()) -> bool:
        """flake8's DecisionEngine: an explicit choice (--select/--extend-select, --ignore/
        --extend-ignore) beats the implicit default selection of every AXS code; between two
        explicit matches the longest prefix wins, and a tie ignores."""
        explicit = [s for s in (self.select or ()) + (self.extend_select or ()) if code.startswith(s)]
        implicit = ["AXS"] if self.select is None and code.startswith("AXS") else []
        ignore = (self.ignore or ()) + (self.extend_ignore or ()) + tuple(extra_ignore)
        ign = [i for i in ignore if code.startswith(i)]
        if not ign:
            return bool(explicit or implicit)
        if not explicit:
            return False
        return max(len(s) for s in explicit + implicit) > max(len(i) for i in ign)

    # excludes ------------------------------------------------------------------------------
    def exclude_patterns(self) -> List[str]:
        return list(self.exclude or ()) + list(self.extend_exclude or ())

    def is_excluded(self, path: str) -> bool:
        pats = self.exclude_patterns()
        if not pats:
            return False
        absolute = os.path.abspath(path)
        base = os.path.basename(absolute.rstrip(os.sep))
        rel = os.path.relpath(absolute, self.base_dir)
        for pat in pats:
            pat = pat.rstrip("/") or pat
            if fnmatch.fnmatch(base, pat):
                return True
            full = os.path.normpath(os.path.join(self.base_dir, pat)) if not os.path.isabs(pat) else pat
            if fnmatch.fnmatch(absolute, full) or fnmatch.fnmatch(rel, pat):
                return True
        return False

    def per_file_ignored(self, path: str, code: str) -> bool:
        """As flake8: of the patterns that match the file, the longest (after making patterns with a
        '/' absolute) applies alone, and its codes join --extend-ignore for that file."""
        entries = self.per_file_ignores or ()
        if not entries:
            return False
        absolute = os.path.abspath(path)
        rel = os.path.relpath(absolute, self.base_dir)
        base = os.path.basename(absolute)
        best: Optional[Tuple[int, Tuple[str, ...]]] = None
        for pattern, codes in entries:
            full = os.path.normpath(os.path.join(self.base_dir, pattern))
            if fnmatch.fnmatch(rel, pattern) or fnmatch.fnmatch(absolute, full) or fnmatch.fnmatch(base, pattern):
                size = len(full) if "/" in pattern else len(pattern)
                if best is None or size > best[0]:
                    best = (size, tuple(codes))
        if best is None or not code.startswith(best[1]):
            return False
        return not self.is_selected(code, best[1])

    def dependency_function(self, qualnames: Sequence[str]) -> bool:
        """Does ``dependency-functions`` name a function known by one of these qualified names?"""
        patterns = self.dependency_functions or ()
        return any(fnmatch.fnmatchcase(q, p) for p in patterns for q in qualnames)


def _spec(f: "dataclasses.Field[Any]") -> OptionSpec:
    meta = f.metadata["option"]
    return OptionSpec(f.name.replace("_", "-"), meta["kind"], f.default, meta["help"], meta["plugin"], meta["metavar"],
                      meta["choices"], meta["report_only"], meta["cli_only"])


OPTIONS: Tuple[OptionSpec, ...] = tuple(_spec(f) for f in dataclasses.fields(Settings) if "option" in f.metadata)
OPTIONS_BY_NAME: Dict[str, OptionSpec] = {o.name: o for o in OPTIONS}
OPTIONS_BY_DEST: Dict[str, OptionSpec] = {o.dest: o for o in OPTIONS}
# fixes: on the command line only (a config file cannot turn them on), never under flake8
CLI_ONLY = tuple(o.name for o in OPTIONS if o.cli_only)


def display_value(spec: OptionSpec, value: Any) -> str:
    """An option's value as ``--show-settings`` prints it (lists as lists)."""
    if value is None:
        return "(default)"
    if spec.kind == "per-file-ignores":
        return repr([(pattern, list(codes)) for pattern, codes in value])
    if isinstance(value, tuple):
        return repr(list(value))
    return repr(value)
