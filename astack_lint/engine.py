"""The engine: find files, parse each once, collect facts in one batched traversal, build the
project model, run the rules' checks, filter. It knows no rule by name."""

from __future__ import annotations

import ast
import os
import sys
from typing import Dict, Iterable, List, NamedTuple, Optional, Sequence, Set, Tuple

from .facts import CoreCollector, FileContext, FileFacts
from .noqa import NoqaMap
from .options import DEFAULT_EXCLUDE_DIRS, Settings
from .project import Project
from .rule import CheckContext, Finding
from .rules import all_rules
from .source import Source, SourceError, read_source

ROOT_MARKERS = ("pyproject.toml", "setup.cfg", "setup.py", ".git")
RECURSION_LIMIT = 20000


class LintError(NamedTuple):
    path: str
    message: str
    line: Optional[int] = None
    col: Optional[int] = None  # 1-based

    def format(self, display_path: str) -> str:
        if self.line is not None:
            return f"{display_path}:{self.line}:{self.col or 1}: error: {self.message}"
        return f"{display_path}: error: {self.message}"


class LintResult(NamedTuple):
    findings: List[Finding]
    errors: List[LintError]
    files: int  # files linted


class AnalysisError(Exception):
    def __init__(self, message: str, line: Optional[int] = None, col: Optional[int] = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.col = col


# ---------------------------------------------------------------------------------------------
# discovery


def find_root(path: str, cwd: Optional[str] = None) -> str:
    """The project root of a file: the nearest directory with a root marker, else the cwd."""
    d = os.path.abspath(path if os.path.isdir(path) else os.path.dirname(path) or ".")
    while True:
        if any(os.path.exists(os.path.join(d, m)) for m in ROOT_MARKERS):
            return d
        parent = os.path.dirname(d)
        if parent == d:
            base = os.path.abspath(cwd or os.getcwd())
            start = os.path.abspath(path if os.path.isdir(path) else os.path.dirname(path) or ".")
            inside = start == base or start.startswith(base.rstrip(os.sep) + os.sep)
            return base if inside else start
        d = parent


def _skip_dir(dirpath: str, name: str, settings: Settings) -> bool:
    if name in DEFAULT_EXCLUDE_DIRS or name.endswith(".egg-info"):
        return True
    full = os.path.join(dirpath, name)
    if os.path.isfile(os.path.join(full, "pyvenv.cfg")):
        return True
    return settings.is_excluded(full)


def walk_python_files(top: str, settings: Settings, errors: Optional[List[LintError]] = None) -> List[str]:
    out: List[str] = []
    seen: Set[Tuple[int, int]] = set()

    def onerror(exc: OSError) -> None:
        if errors is not None and exc.filename and os.path.abspath(exc.filename) != os.path.abspath(top):
            errors.append(LintError(os.path.abspath(exc.filename), f"cannot read directory: {exc.strerror}"))

    for dirpath, dirnames, filenames in os.walk(top, onerror=onerror, followlinks=True):
        try:
            st = os.stat(dirpath)
            ident = (st.st_dev, st.st_ino)
        except OSError:
            dirnames[:] = []
            continue
        if ident in seen:  # a symlink loop
            dirnames[:] = []
            continue
        seen.add(ident)
        dirnames[:] = sorted(d for d in dirnames if not _skip_dir(dirpath, d, settings))
        for name in sorted(filenames):
            if not name.endswith(".py"):
                continue
            full = os.path.join(dirpath, name)
            if not settings.is_excluded(full):
                out.append(os.path.abspath(full))
    return out


def discover(paths: Sequence[str], settings: Settings) -> Tuple[List[str], List[LintError]]:
    targets: List[str] = []
    errors: List[LintError] = []
    for p in paths:
        if not os.path.lexists(p):
            errors.append(LintError(os.path.abspath(p), "no such file or directory"))
            continue
        if os.path.isdir(p):
            targets.extend(walk_python_files(p, settings, errors))
        elif os.path.exists(p):
            if not settings.is_excluded(p):
                targets.append(os.path.abspath(p))
        else:
            errors.append(LintError(os.path.abspath(p), "broken symbolic link"))
    seen: Set[str] = set()
    unique = []
    for t in targets:
        if t not in seen:
            seen.add(t)
            unique.append(t)
    return unique, errors


# ---------------------------------------------------------------------------------------------
# analysis of one file


def analyse(path: str, source: Source) -> FileFacts:
    """Parse once, run the core collector and every rule's collector in one batched traversal."""
    import libcst as cst
    from libcst.metadata import MetadataWrapper

    old_limit = sys.getrecursionlimit()
    if old_limit < RECURSION_LIMIT:
        sys.setrecursionlimit(RECURSION_LIMIT)
    try:
        try:
            module = cst.parse_module(source.text)
        except cst.ParserSyntaxError as exc:
            raise _syntax_error(path, source.text, exc) from None
        except RecursionError:
            raise AnalysisError("too deeply nested to parse") from None
        facts = FileFacts(path)
        ctx = FileContext(facts, module)
        visitors = [CoreCollector(ctx)]
        rule_visitors = []
        for rule in all_rules():
            if rule.collector is not None:
                v = rule.collector(ctx)
                rule_visitors.append((rule.code, v))
                visitors.append(v)
        try:
            wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
            wrapper.visit_batched(visitors)
        except RecursionError:
            raise AnalysisError("too deeply nested to analyse") from None
        for code, v in rule_visitors:
            facts.rule_data[code] = v.data
        facts.index()
        return facts
    finally:
        sys.setrecursionlimit(old_limit)


def _syntax_error(path: str, text: str, exc: Exception) -> AnalysisError:
    try:
        compile(text, path, "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
    except SyntaxError as py_exc:
        msg = py_exc.msg or "invalid syntax"
        return AnalysisError(f"syntax error: {msg}", py_exc.lineno or 1, py_exc.offset or 1)
    except (ValueError, RecursionError, MemoryError) as py_exc:  # NUL bytes, too deep
        return AnalysisError(f"syntax error: {py_exc}")
    line = getattr(exc, "raw_line", None) or getattr(exc, "editor_line", None)
    col = getattr(exc, "raw_column", None)
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else "parse error"
    return AnalysisError(
        f"LibCST cannot parse this file, though Python accepts it ({first}); it was not linted",
        line,
        (col + 1) if isinstance(col, int) else None,
    )


class FactsCache:
    """In-process facts, keyed by path and content, shared by every project built in a process."""

    def __init__(self) -> None:
        self._entries: Dict[str, Tuple[bytes, object]] = {}

    def get(self, path: str, source: Optional[Source] = None) -> Tuple[Optional[FileFacts], Optional[Source], Optional[AnalysisError]]:
        if source is None:
            try:
                source = read_source(path)
            except SourceError as exc:
                return None, None, AnalysisError(str(exc))
        hit = self._entries.get(path)
        if hit is not None and hit[0] == source.raw:
            result = hit[1]
        else:
            try:
                result = analyse(path, source)
            except AnalysisError as exc:
                result = exc
            except Exception as exc:  # never let one file stop the run
                result = AnalysisError(f"internal error while analysing ({type(exc).__name__}: {exc})")
            self._entries[path] = (source.raw, result)
        if isinstance(result, AnalysisError):
            return None, source, result
        return result, source, None  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------------
# running the rules


def check_file(project: Project, facts: FileFacts, settings: Settings, only_selected: bool = True) -> List[Finding]:
    findings: List[Finding] = []
    for rule in all_rules():
        if only_selected and not settings.is_selected(rule.code):
            continue
        ctx = CheckContext(rule, project, facts, settings)
        try:
            result = rule.check(ctx)
            if result is not None:
                ctx.findings.extend(result)
        except Exception as exc:  # pragma: no cover - a rule bug must not stop the run
            print(
                f"astack-lint: internal error in {rule.code} on {facts.path}: {type(exc).__name__}: {exc}",
                file=sys.stderr,
            )
            continue
        findings.extend(ctx.findings)
    return findings


def build_project(root: str, settings: Settings, cache: FactsCache, extra: Iterable[str] = ()) -> Project:
    files = walk_python_files(root, settings)
    paths = list(dict.fromkeys(list(files) + [p for p in extra if p not in files]))
    facts_list = []
    for p in paths:
        facts, _src, _err = cache.get(p)
        if facts is not None:
            facts_list.append(facts)
    return Project(root, facts_list)


def lint_paths(paths: Sequence[str], settings: Optional[Settings] = None, cache: Optional[FactsCache] = None) -> LintResult:
    """Lint files and directories; each file is judged within its whole project."""
    settings = settings or Settings()
    cache = cache or FactsCache()
    targets, errors = discover(list(paths) or ["."], settings)
    by_root: Dict[str, List[str]] = {}
    for t in targets:
        by_root.setdefault(find_root(t), []).append(t)
    findings: List[Finding] = []
    linted = 0
    for root in sorted(by_root):
        root_targets = by_root[root]
        project = build_project(root, settings, cache, root_targets)
        for path in root_targets:
            facts, source, err = cache.get(path)
            if err is not None:
                errors.append(LintError(path, err.message, err.line, err.col))
                continue
            assert facts is not None and source is not None
            linted += 1
            noqa = NoqaMap(source.text)
            if noqa.file_ignored and not settings.disable_noqa:
                continue
            for f in check_file(project, facts, settings):
                if not settings.disable_noqa and noqa.suppresses(f.line, f.code):
                    continue
                if settings.per_file_ignored(path, f.code):
                    continue
                findings.append(f)
    findings.sort(key=Finding.sort_key)
    errors.sort(key=lambda e: (e.path, e.line or 0))
    return LintResult(findings, errors, linted)
