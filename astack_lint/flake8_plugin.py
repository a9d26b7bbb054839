"""The flake8 plugin: ``flake8 --select AXS``. Same rules, same options, same findings as the CLI.

flake8 hands us one file at a time; one engine session per process keeps each project root's model
(``Session.file_findings``). flake8 does the noqa, select/ignore and per-file-ignores filtering.
"""

from __future__ import annotations

import atexit
import os
import sys
from typing import Any, ClassVar, Dict, Iterator, List, Optional, Tuple

from . import __version__
from .cache.facts import DiskCache
from .config.options import OPTIONS, ConfigError, Settings
from .config.values import coerce
from .engine.run import Session
from .engine.store import Store
from .results import Finding, describe_exception
from .source import MAX_FILE_BYTES


class Plugin:
    name = "astack-lint"
    version = __version__

    settings: ClassVar[Settings] = Settings()
    _session: ClassVar[Optional[Session]] = None

    def __init__(self, tree: Any, filename: str = "", lines: Optional[List[str]] = None) -> None:
        self.filename = filename
        self.lines = lines

    @classmethod
    def add_options(cls, manager: Any) -> None:
        for spec in OPTIONS:
            if not spec.plugin:
                continue
            kwargs: Dict[str, Any] = {"parse_from_config": True, "help": spec.help, "default": spec.default}
            if spec.kind == "bool":
                kwargs["action"] = "store_true"
            elif spec.kind in ("strs", "codes", "globs"):
                kwargs["comma_separated_list"] = True
            manager.add_option(f"--{spec.name}", **kwargs)

    @classmethod
    def parse_options(cls, options: Any) -> None:
        values: Dict[str, Any] = {}
        for spec in OPTIONS:
            if spec.plugin:
                value = getattr(options, spec.dest, None)
                if value is not None:
                    try:
                        values[spec.dest] = coerce(spec, value, f"flake8 option {spec.name}")
                    except ConfigError as exc:
                        print(f"astack-lint: {exc}", file=sys.stderr)
        # the model is built from the same files flake8 would lint
        for dest in ("exclude", "extend_exclude"):
            value = getattr(options, dest, None)
            if value:
                values[dest] = [v for v in value if v not in (".svn", "CVS", ".bzr", ".hg", ".git", "__pycache__", ".tox", ".nox", ".eggs", "*.egg")]
        cls.settings = Settings.from_values(values)
        cls._session = None

    def run(self) -> Iterator[Tuple[int, int, str, type]]:
        try:
            too_large = self._too_large()
            if too_large:  # as the CLI: one line, not linted (LibCST's tree is ~100x the source)
                print(f"astack-lint: {_one_line(self.filename)}: {too_large}; not checked", file=sys.stderr)
                return
            findings = self._findings()
        except Exception as exc:  # never abort a flake8 run; one short line whatever the exception says
            try:
                what = describe_exception(exc)
            except Exception:
                what = type(exc).__name__
            print(f"astack-lint: internal error on {_one_line(self.filename)}: {what}", file=sys.stderr)
            return
        for f in findings:
            yield f.line, f.col, f"{f.code} {f.message}", type(self)

    def _too_large(self) -> Optional[str]:
        """The reason flake8's text (or the file, when flake8 gives no lines) is not linted, if it is too large."""
        if self.lines is None:
            try:
                size = os.stat(self.filename).st_size
            except (OSError, ValueError, TypeError):
                return None
        else:
            size = sum(len(line) for line in self.lines)  # characters: from a quarter of the bytes to all
            if size * 4 > MAX_FILE_BYTES:
                size = sum(len(line.encode("utf-8", "surrogatepass")) for line in self.lines)
        if size > MAX_FILE_BYTES:
            return f"too large to lint ({size} bytes; the limit is {MAX_FILE_BYTES})"
        return None

    def _findings(self) -> List[Finding]:
        session = Plugin._session
        if session is None:
            session = Plugin._session = Session(self.settings, Store(self.settings, DiskCache.for_settings(self.settings)))
            if session.store.disk is not None:
                atexit.register(session.store.save)
        text = "".join(self.lines) if self.lines is not None else None
        return session.file_findings(self.filename, text)


def _one_line(text: object) -> str:
    """A file name (or anything) on one line: control characters escaped."""
    s = str(text)
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in s) if not s.isprintable() else s
