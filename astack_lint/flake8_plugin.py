"""The flake8 plugin: ``flake8 --select AXS``. Same rules, same options, same findings as the CLI.

flake8 hands us one file at a time; the project model is built once per process for the file's
project root and reused. flake8 does the noqa, select/ignore and per-file-ignores filtering.
"""

from __future__ import annotations

import os
import sys
from typing import Any, ClassVar, Dict, Iterator, List, Optional, Tuple

from . import __version__
from .options import OPTIONS, ConfigError, Settings, coerce


class Plugin:
    name = "astack-lint"
    version = __version__

    settings: ClassVar[Settings] = Settings()
    _projects: ClassVar[Dict[str, Any]] = {}
    _cache: ClassVar[Any] = None

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
        cls.settings = Settings(values)
        cls._projects = {}

    def run(self) -> Iterator[Tuple[int, int, str, type]]:
        try:
            too_large = self._too_large()
            if too_large:  # as the CLI: one line, not linted (LibCST's tree is ~100x the source)
                print(f"astack-lint: {_one_line(self.filename)}: {too_large}; not checked", file=sys.stderr)
                return
            findings = self._findings()
        except Exception as exc:  # never abort a flake8 run; one short line whatever the exception says
            try:
                from .engine import describe_exception

                what = describe_exception(exc)
            except Exception:
                what = type(exc).__name__
            print(f"astack-lint: internal error on {_one_line(self.filename)}: {what}", file=sys.stderr)
            return
        for f in findings:
            yield f.line, f.col, f"{f.code} {f.message}", type(self)

    def _too_large(self) -> Optional[str]:
        """The reason flake8's text (or the file, when flake8 gives no lines) is not linted, if it is too large."""
        from .source import MAX_FILE_BYTES

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

    def _findings(self) -> list:
        from .cache import DiskCache
        from .engine import Store, analyse, build_project, check_file, find_root, prefilter_on, runnable_rules
        from .project import Project
        from .source import Source, SourceError, read_source

        if Plugin._cache is None:
            Plugin._cache = Store(self.settings, DiskCache.for_settings(self.settings))
            if Plugin._cache.disk is not None:
                import atexit

                atexit.register(Plugin._cache.save)
        store = Plugin._cache
        path = os.path.abspath(self.filename)
        root = find_root(path)
        project = Plugin._projects.get(root)
        if project is None:
            if store.disk is not None:
                store.disk.open(root)
            project = build_project(root, self.settings, store, [])
            store.save()
            Plugin._projects[root] = project
        try:
            disk = read_source(path)
        except SourceError:
            disk = None
        if self.lines is not None and (disk is None or disk.text != "".join(self.lines)):
            # flake8 read something else (stdin, or the file changed since): lint flake8's text
            text = "".join(self.lines)
            raw = text.encode("utf-8", "surrogatepass")
            present = frozenset(t for t in store.tokens if t in raw)
            try:
                facts = analyse(path, Source(text, "utf-8", False, raw))
            except Exception:
                return []  # flake8 reports syntax errors itself
        else:
            present = store.scan(path).tokens
            facts = project.files.get(path)
            if facts is None:
                entry = store.scan(path)
                rules = runnable_rules(project, self.settings, only_selected=False)
                if not any(r.wants(project, path, entry.tokens, self.settings) for r in rules):
                    return []
                # a project file is added to the model in place (as name resolution loads modules)
                facts = project.facts_for(path) if path in project.known_paths else store.facts(path)[0]
                if facts is None:
                    return []  # flake8 reports syntax errors itself
        if project.files.get(path) is not facts:  # flake8's own text, or a file outside the model's tree
            files = [f for p, f in project.files.items() if p != path] + [facts]
            framework_free = project.framework_free
            project = Project(root, files, project.known_paths, project._loader)
            project.framework_free = framework_free
            Plugin._projects[root] = project
        if not prefilter_on():
            present = None
        findings = check_file(project, facts, self.settings, only_selected=False, present=present)
        if facts.rule_error is not None:
            return []  # LibCST could not read the file for a rule that needs its tree: not linted, as in the CLI
        return findings


def _one_line(text: object) -> str:
    """A file name (or anything) on one line: control characters escaped."""
    s = str(text)
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in s) if not s.isprintable() else s
