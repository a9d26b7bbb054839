"""The engine: find files, collect each parsed file's core facts from CPython's ``ast``, build the
project model, run the rules' checks (a file's LibCST tree and rule collectors only when a rule
first reads its rule data), filter. It knows no rule by name."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from _ast import PyCF_ONLY_AST  # not ``ast``: a replayed run never needs that module
from typing import TYPE_CHECKING, Any, Callable, Dict, FrozenSet, Iterable, Iterator, List, NamedTuple, Optional, Sequence, Set, Tuple

from .noqa import NoqaMap
from .options import DEFAULT_EXCLUDE_DIRS, Settings
from .results import Finding, LintError, LintResult  # noqa: F401 (LintError, LintResult: importable from here)
from .snapshot import note_dir
from .source import Source, SourceError, content_digest, read_bytes, read_source

if TYPE_CHECKING:  # imported where used: a warm run that replays a cached result never loads LibCST
    from .facts import FileFacts
    from .project import Project


def all_rules() -> List[Any]:
    from .rules import all_rules as rules

    return rules()

ROOT_MARKERS = ("pyproject.toml", "setup.cfg", "setup.py", ".git")
RECURSION_LIMIT = 20000


class AnalysisError(Exception):
    def __init__(self, message: str, line: Optional[int] = None, col: Optional[int] = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.col = col


# ---------------------------------------------------------------------------------------------
# discovery


def find_root(path: str, cwd: Optional[str] = None, marked: Optional[Dict[str, bool]] = None) -> str:
    """The project root of a file: the nearest directory with a root marker, else the cwd.
    ``marked``: whether each directory holds a marker, kept between calls of one run."""
    d = os.path.abspath(path if os.path.isdir(path) else os.path.dirname(path) or ".")
    while True:
        has = marked.get(d) if marked is not None else None
        if has is None:
            has = any(os.path.exists(os.path.join(d, m)) for m in ROOT_MARKERS)
            if marked is not None:
                marked[d] = has
        if has:
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
        note_dir(dirpath)
        dirnames[:] = sorted(d for d in dirnames if not _skip_dir(dirpath, d, settings))
        for name in sorted(filenames):
            if not name.endswith(".py"):
                continue
            full = os.path.join(dirpath, name)
            if not settings.is_excluded(full):
                out.append(os.path.abspath(full))
    return out


def discover(
    paths: Sequence[str],
    settings: Settings,
    warnings: Optional[List[LintError]] = None,
    walked: Optional[Dict[str, List[str]]] = None,
) -> Tuple[List[str], List[LintError]]:
    """The Python files to lint under these paths (``walked``: each directory's files, kept)."""
    targets: List[str] = []
    errors: List[LintError] = []
    for p in paths:
        if not os.path.lexists(p):
            errors.append(LintError(os.path.abspath(p), "no such file or directory"))
            continue
        if os.path.isdir(p):
            n_errors = len(errors)
            found = walk_python_files(p, settings, errors)
            if walked is not None:
                walked[os.path.abspath(p)] = found
            if not found and len(errors) == n_errors and warnings is not None:
                warnings.append(LintError(os.path.abspath(p), "no Python files found"))
            targets.extend(found)
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


# LibCST's native parser, and its Python-side traversal under RECURSION_LIMIT, recurse on the C
# stack: valid but deep code (a 10,000-term ``and``) overflowed the main thread's stack and the
# process died with SIGSEGV, taking every other file's findings (and a flake8 worker) with it.
# So each file is analysed in a thread with a large stack; too deep then ends in RecursionError.
PARSE_STACK_SIZE = 256 * 1024 * 1024


def analyse(path: str, source: Source) -> FileFacts:
    """The file's core facts, from CPython's ``ast`` (see core.py). The rule collectors' data
    (a LibCST traversal) is collected from this same source the first time a rule asks for it."""
    facts = _deep(_analyse, path, source)
    facts.rule_loader = _SourceRules(source)
    return facts


def rule_data_for(path: str, source: Source) -> Dict[str, Any]:
    """Parse once with LibCST and run every rule's collector in one batched traversal: what they
    recorded, by rule code. Raises AnalysisError when LibCST cannot parse or traverse the file."""
    return _deep(_rule_data, path, source)  # type: ignore[no-any-return]


class _SourceRules:
    """A FileFacts.rule_loader over a source held in memory (flake8's text, a fixed text)."""

    def __init__(self, source: Source) -> None:
        self.source = source

    def __call__(self, facts: FileFacts) -> Dict[str, Any]:
        return load_rule_data(facts, lambda: self.source)


def load_rule_data(facts: FileFacts, source: Callable[[], Source]) -> Dict[str, Any]:
    """Collect ``facts``' rule data from ``source()``; on failure, record why in ``facts.rule_error``
    (the file then counts as not linted) and return nothing."""
    try:
        return rule_data_for(facts.path, source())
    except SourceError as exc:
        facts.rule_error = (str(exc), None, None)
    except AnalysisError as exc:
        facts.rule_error = (exc.message, exc.line, exc.col)
    except Exception as exc:  # never let one file stop the run
        facts.rule_error = (f"internal error while analysing ({describe_exception(exc)})", None, None)
    return {}


def _deep(func: Callable[..., Any], *args: Any) -> Any:
    """Run ``func`` in a thread with a large stack (see PARSE_STACK_SIZE)."""
    import threading

    box: List[Any] = []

    def target() -> None:
        try:
            box.append((True, func(*args)))
        except BaseException as exc:  # re-raised in the caller's thread
            box.append((False, exc))

    try:
        old_size = threading.stack_size(PARSE_STACK_SIZE)
    except (ValueError, RuntimeError):  # the platform cannot: run here
        target()
    else:
        try:
            worker: Optional[threading.Thread] = threading.Thread(target=target, name="astack-lint-parse", daemon=True)
            worker.start()  # type: ignore[union-attr]
        except RuntimeError:  # cannot reserve such a stack: run here
            worker = None
        finally:
            threading.stack_size(old_size)
        if worker is None:
            target()
        else:
            worker.join()
    ok, value = box[0]
    if ok:
        return value
    raise value


def _analyse(path: str, source: Source) -> FileFacts:
    from .core import collect

    # CPython's verdict at the process's own recursion limit (where Python itself would give up on
    # a deep expression); then our own walk of the tree, which may go deeper
    tree = cpython_tree(path, source.text)
    try:
        with _deep_recursion():
            return collect(path, source.text, tree)
    except RecursionError:
        raise AnalysisError("too deeply nested to analyse") from None


@contextmanager
def _deep_recursion() -> Iterator[None]:
    """The recursion limit at RECURSION_LIMIT for a while (in a thread with a large stack)."""
    old = sys.getrecursionlimit()
    if old < RECURSION_LIMIT:
        sys.setrecursionlimit(RECURSION_LIMIT)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def _rule_data(path: str, source: Source) -> Dict[str, Any]:
    import libcst as cst
    from libcst.metadata import MetadataWrapper

    from .facts import FileContext, FileFacts, ScopeTracker

    with _deep_recursion():
        try:
            module = cst.parse_module(source.text)
        except (cst.ParserSyntaxError, cst.CSTValidationError) as exc:  # the latter: two bare excepts
            raise _syntax_error(path, source.text, exc) from None
        except RecursionError:
            raise AnalysisError("too deeply nested to parse") from None
        ctx = FileContext(FileFacts(path), module)
        visitors: List[Any] = [ScopeTracker(ctx)]
        rule_visitors = []
        for rule in all_rules():
            if rule.collector is not None:
                v = rule.collector(ctx)
                rule_visitors.append((rule.code, v))
                visitors.append(v)
        try:
            MetadataWrapper(module, unsafe_skip_copy=True).visit_batched(visitors)
        except RecursionError:
            raise AnalysisError("too deeply nested to analyse") from None
        except Exception as exc:
            # LibCST's position metadata turns a RecursionError into a KeyError (whose str() is the
            # repr of a node: the whole deep tree)
            if _from_recursion(exc):
                raise AnalysisError("too deeply nested to analyse") from None
            raise
        return {code: v.data for code, v in rule_visitors}


def _from_recursion(exc: BaseException) -> bool:
    """Whether a RecursionError is somewhere in the chain (one KeyError per level unwound)."""
    seen: Set[int] = set()
    cur: Optional[BaseException] = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, RecursionError):
            return True
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return False


def describe_exception(exc: BaseException, limit: int = 200) -> str:
    """One short line for an unexpected exception: its str() may be huge, span lines, or fail."""
    try:
        text = " ".join(str(exc).split())
    except Exception:  # a RecursionError from a deep repr, or anything else
        text = ""
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def cpython_tree(path: str, text: str) -> Any:
    """CPython's AST of the text (not bytecode: cheap), or AnalysisError with CPython's verdict.
    Warnings are silenced: a SyntaxWarning (an invalid escape sequence) is printed by Python, never
    an error, except under ``-W error``, where compile() would raise it."""
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return compile(text, path, "exec", PyCF_ONLY_AST, dont_inherit=True)
    except SyntaxError as exc:
        raise AnalysisError(f"syntax error: {exc.msg or 'invalid syntax'}", exc.lineno or 1, exc.offset or 1) from None
    except (ValueError, RecursionError, MemoryError) as exc:  # NUL bytes, too deep
        raise AnalysisError(f"syntax error: {str(exc) or type(exc).__name__}") from None


def cpython_syntax_error(path: str, text: str) -> Optional[AnalysisError]:
    """CPython's parser's verdict, as an error, or None when it accepts the text."""
    try:
        cpython_tree(path, text)
    except AnalysisError as exc:
        return exc
    return None


def _syntax_error(path: str, text: str, exc: Exception) -> AnalysisError:
    try:
        compile(text, path, "exec", PyCF_ONLY_AST, dont_inherit=True)
    except SyntaxError as py_exc:
        msg = py_exc.msg or "invalid syntax"
        return AnalysisError(f"syntax error: {msg}", py_exc.lineno or 1, py_exc.offset or 1)
    except (ValueError, RecursionError, MemoryError) as py_exc:  # NUL bytes, too deep
        return AnalysisError(f"syntax error: {py_exc}")
    try:  # some errors only the compiler reports (a bare except: before another handler)
        compile(text, path, "exec", dont_inherit=True)
    except SyntaxError as py_exc:
        return AnalysisError(f"syntax error: {py_exc.msg or 'invalid syntax'}", py_exc.lineno or 1, py_exc.offset or 1)
    except (ValueError, RecursionError, MemoryError):
        pass
    line = getattr(exc, "raw_line", None) or getattr(exc, "editor_line", None)
    col = getattr(exc, "raw_column", None)
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else "parse error"
    return AnalysisError(
        f"LibCST cannot parse this file, though Python accepts it ({first}); it was not linted",
        line,
        (col + 1) if isinstance(col, int) else None,
    )


# A file feeds the project model up front when it names the framework AND something the model
# tracks (apps, routers, dependencies, middleware, mounts, background tasks, uploads, lifespan).
# Everything else is parsed only if name resolution reaches it, or a rule's prefilter wants it.
FRAMEWORK_TOKENS = (b"fastapi", b"starlette")
STRUCTURE_TOKENS = (
    b"FastAPI",
    b"Router",
    b"Starlette",
    b"Depends",
    b"Security",
    b"include_router",
    b"iddleware",
    b"ount",
    b"Host",
    b"BackgroundTask",
    b"add_task",
    b"dependency_overrides",
    b"UploadFile",
    b"Response",
    b"lifespan",
    b"on_event",
    b"routes",
)
MODEL_TOKENS = FRAMEWORK_TOKENS + STRUCTURE_TOKENS


def feeds_model(present: FrozenSet[bytes]) -> bool:
    return any(t in present for t in FRAMEWORK_TOKENS) and any(t in present for t in STRUCTURE_TOKENS)


def token_universe() -> Tuple[bytes, ...]:
    """Every byte string a prefilter asks about: the model's and every rule's."""
    toks = set(MODEL_TOKENS)
    for rule in all_rules():
        toks.update(rule.tokens)
    return tuple(sorted(toks))


class Entry(NamedTuple):
    """What the store knows about one file."""

    mtime_ns: int
    size: int
    digest: str
    tokens: frozenset  # which prefilter tokens occur in the file
    facts: Optional[FileFacts]  # set once parsed
    error: Optional[Tuple[str, Optional[int], Optional[int]]]  # (message, line, col) when it cannot be linted
    parsed: bool  # facts/error come from a full parse
    syntax_checked: bool  # error (or None) comes at least from a CPython compile


def _analyse_path(path: str) -> Tuple[str, Optional[FileFacts], Optional[Tuple[str, Optional[int], Optional[int]]]]:
    """Parse and collect one file (runs in worker processes too)."""
    try:
        source = read_source(path)
    except SourceError as exc:
        return path, None, (str(exc), None, None)
    try:
        return path, analyse(path, source), None
    except AnalysisError as exc:
        return path, None, (exc.message, exc.line, exc.col)
    except Exception as exc:  # never let one file stop the run
        return path, None, (f"internal error while analysing ({describe_exception(exc)})", None, None)


class Store:
    """Per-file facts: in memory for the process, and on disk between runs (see cache.py).

    A file is parsed only when its facts are needed; until then the store knows its size, mtime,
    content digest and which prefilter tokens it contains."""

    def __init__(self, settings: Optional[Settings] = None, disk: Any = None) -> None:
        self.settings = settings or Settings()
        self.disk = disk
        self.entries: Dict[str, Entry] = {}
        self._tokens: Optional[Tuple[bytes, ...]] = None
        self._dirty = False

    @property
    def tokens(self) -> Tuple[bytes, ...]:
        if self._tokens is None:
            self._tokens = token_universe()
        return self._tokens

    def _fresh(self, path: str, raw: bytes, st: os.stat_result) -> Entry:
        digest = content_digest(raw)
        old = self.entries.get(path)
        if old is None and self.disk is not None:
            old = self.disk.get(path)
        if old is not None and old.digest == digest:
            entry = old._replace(mtime_ns=st.st_mtime_ns, size=st.st_size)
        else:
            present = frozenset(t for t in self.tokens if t in raw)
            entry = Entry(st.st_mtime_ns, st.st_size, digest, present, None, None, False, False)
        self._put(path, entry)
        return entry

    def _put(self, path: str, entry: Entry) -> None:
        self.entries[path] = entry
        self._dirty = True

    def scan(self, path: str) -> Entry:
        """The file's entry, reading it only when its size or mtime changed."""
        try:
            st = os.stat(path)
        except OSError as exc:
            reason = "broken symbolic link" if os.path.islink(path) else f"cannot read: {exc.strerror or exc}"
            return Entry(0, 0, "", frozenset(), None, (reason, None, None), True, True)
        for cand in (self.entries.get(path), self.disk.get(path) if self.disk is not None else None):
            if cand is not None and cand.mtime_ns == st.st_mtime_ns and cand.size == st.st_size and cand.digest:
                if path not in self.entries:
                    self.entries[path] = cand
                return cand
        try:
            raw = read_bytes(path)  # never blocks on a FIFO, never reads a huge file
        except SourceError as exc:
            return Entry(0, 0, "", frozenset(), None, (str(exc), None, None), True, True)
        return self._fresh(path, raw, st)

    def parse_many(self, paths: Sequence[str], jobs: int = 1) -> None:
        """Make sure these files are parsed (in parallel when worth it)."""
        todo = [p for p in dict.fromkeys(paths) if not self.scan(p).parsed]
        if not todo:
            return
        results: List[Tuple[str, Optional[FileFacts], Any]] = []
        if jobs > 1 and len(todo) >= 8:
            try:
                from concurrent.futures import ProcessPoolExecutor

                with ProcessPoolExecutor(max_workers=jobs) as pool:
                    results = list(pool.map(_analyse_path, todo, chunksize=max(1, len(todo) // (jobs * 4))))
            except (OSError, ImportError, RuntimeError):  # no processes here: do it ourselves
                results = []
        if not results:
            results = [_analyse_path(p) for p in todo]
        for path, facts, error in results:
            if facts is not None:
                facts.rule_loader = self._load_rule_data  # not the parsed text: read again if needed
            entry = self.entries.get(path) or self.scan(path)
            self._put(path, entry._replace(facts=facts, error=error, parsed=True, syntax_checked=True))

    def facts(self, path: str) -> Tuple[Optional[FileFacts], Optional[Tuple[str, Optional[int], Optional[int]]]]:
        self.parse_many([path], 1)
        entry = self.entries.get(path) or self.scan(path)
        facts = entry.facts
        if facts is not None and facts.rule_loader is None and not facts.has_rule_data:
            facts.rule_loader = self._load_rule_data  # facts from the disk cache
        return facts, entry.error

    def source(self, path: str) -> Source:
        return read_source(path)

    def _load_rule_data(self, facts: FileFacts) -> Dict[str, Any]:
        """The rule collectors' data of a parsed file, collected when a rule first asks for it;
        kept in the facts (and so in the disk cache)."""
        path = facts.path
        entry = self.entries.get(path)

        def source() -> Source:
            src = self.source(path)
            if entry is not None and entry.digest and content_digest(src.raw) != entry.digest:
                raise SourceError("changed while being linted")
            return src

        data = load_rule_data(facts, source)
        self._dirty = True
        return data

    def syntax_error(self, path: str) -> Optional[Tuple[str, Optional[int], Optional[int]]]:
        """For a file that is not parsed with LibCST: can Python read and compile it?"""
        entry = self.scan(path)
        if entry.parsed or entry.syntax_checked:
            return entry.error
        error = None
        try:
            refused = cpython_syntax_error(path, read_source(path).text)
            if refused is not None:
                error = (refused.message, refused.line, refused.col)
        except SourceError as exc:
            error = (str(exc), None, None)
        self._put(path, entry._replace(error=error, syntax_checked=True))
        return error

    def text(self, path: str) -> Optional[str]:
        try:
            return read_source(path).text
        except SourceError:
            return None

    def save(self) -> None:
        if self.disk is not None and self._dirty:
            self.disk.save(self.entries)
            self._dirty = False


# kept for callers that only need the in-memory behaviour
FactsCache = Store


# ---------------------------------------------------------------------------------------------
# running the rules


def mentions_framework(tokens: Iterable[FrozenSet[bytes]]) -> bool:
    """Whether any of these files (their prefilter tokens) names FastAPI or Starlette."""
    return any(t in present for present in tokens for t in FRAMEWORK_TOKENS)


def runnable_rules(project: Project, settings: Settings, only_selected: bool = True) -> List[Any]:
    """The rules that can report anything in this project: selected ones (unless flake8 selects),
    and in a project that never names the framework only those that do not need it."""
    free = getattr(project, "framework_free", False)
    return [
        r
        for r in all_rules()
        if (not only_selected or settings.is_selected(r.code)) and not (free and r.needs_framework)
    ]


def check_file(
    project: Project,
    facts: FileFacts,
    settings: Settings,
    only_selected: bool = True,
    present: Optional[FrozenSet[bytes]] = None,
) -> List[Finding]:
    """Run the rules on one file of the model. ``present``: the file's prefilter tokens; a rule whose
    prefilter the file fails cannot report there and is not run (None: run every rule)."""
    from .rule import CheckContext

    findings: List[Finding] = []
    for rule in runnable_rules(project, settings, only_selected):
        if present is not None and not rule.wants(project, facts.path, present, settings):
            continue
        ctx = CheckContext(rule, project, facts, settings)
        try:
            result = rule.check(ctx)
            if result is not None:
                ctx.findings.extend(result)
        except Exception as exc:  # pragma: no cover - a rule bug must not stop the run
            print(
                f"astack-lint: internal error in {rule.code} on {facts.path}: {describe_exception(exc)}",
                file=sys.stderr,
            )
            continue
        findings.extend(ctx.findings)
    return findings


def known_files(
    root: str, settings: Settings, targets: Sequence[str], walked: Optional[Dict[str, List[str]]] = None
) -> List[str]:
    """Every file the project model of ``root`` may read: the root's Python files and the targets."""
    found = walked.get(os.path.abspath(root)) if walked is not None else None
    if found is None:
        found = walk_python_files(root, settings)
    return list(dict.fromkeys(found + list(targets)))


def prefilter_on() -> bool:
    """Whether files are parsed, and rules run, only where their prefilter tokens occur (the
    tests compare runs with and without: ASTACK_LINT_NO_PREFILTER=1)."""
    return not os.environ.get("ASTACK_LINT_NO_PREFILTER")


def build_project(
    root: str,
    settings: Settings,
    store: Store,
    targets: Iterable[str] = (),
    jobs: int = 1,
    known: Optional[Sequence[str]] = None,
) -> Project:
    """The project model of ``root``: files that mention FastAPI or Starlette are parsed up front;
    other modules only when name resolution reaches them; a linted file when a selected rule's
    prefilter wants it."""
    from .project import Project

    targets = list(targets)
    if known is None:
        known = known_files(root, settings, targets)
    entries = {p: store.scan(p) for p in known}
    prefilter = prefilter_on()
    # no file names FastAPI or Starlette: rules that need them neither parse files nor run
    framework_free = prefilter and not mentions_framework(e.tokens for e in entries.values())
    if not prefilter:
        model = known
    else:
        model = [p for p in known if feeds_model(entries[p].tokens)]
    store.parse_many(model, jobs)

    def loader(path: str) -> Optional[FileFacts]:
        return store.facts(path)[0]

    def make(paths: Iterable[str]) -> Project:
        facts = [store.facts(p)[0] for p in sorted(set(paths))]
        project = Project(root, [f for f in facts if f is not None], known, loader)
        project.framework_free = framework_free
        return project

    project = make(model)
    rules = runnable_rules(project, settings)
    wanted = [
        t
        for t in targets
        if t not in project.files and any(r.wants(project, t, entries[t].tokens, settings) for r in rules)
    ]
    if wanted:
        store.parse_many(wanted, jobs)
        project = make(list(project.files) + wanted)
    return project


def lint_paths(paths: Sequence[str], settings: Optional[Settings] = None, cache: Optional[Store] = None) -> LintResult:
    """Lint files and directories; each file is judged within its whole project."""
    settings = settings or Settings()
    runs = None
    if cache is None:
        from .cache import DiskCache

        disk = DiskCache.for_settings(settings)
        cache = Store(settings, disk)
        if disk is not None:
            from .runcache import RunCache

            runs = RunCache(disk.directory)
    store = cache
    jobs = settings.jobs or (os.cpu_count() or 1)
    warnings: List[LintError] = []
    walked: Dict[str, List[str]] = {}
    targets, errors = discover(list(paths) or ["."], settings, warnings, walked)
    by_root: Dict[str, List[str]] = {}
    roots: Dict[str, str] = {}
    marked: Dict[str, bool] = {}
    for t in targets:
        d = os.path.dirname(t)
        if d not in roots:
            roots[d] = find_root(t, marked=marked)
        by_root.setdefault(roots[d], []).append(t)
    findings: List[Finding] = []
    linted = 0
    for root in sorted(by_root):
        root_targets = by_root[root]
        known = known_files(root, settings, root_targets, walked)
        if runs is not None:
            hit = runs.load(root, root_targets, settings, known)
            if hit is not None:
                findings.extend(hit[0])
                errors.extend(hit[1])
                linted += hit[2]
                continue
        if store.disk is not None:
            store.disk.open(root)
        project = build_project(root, settings, store, root_targets, jobs, known)
        root_findings: List[Finding] = []
        root_errors: List[LintError] = []
        root_linted = 0
        checked: List[FileFacts] = []
        for path in root_targets:
            facts = project.files.get(path)
            err = store.entries[path].error if facts is None and store.entries.get(path, None) else None
            if facts is None and err is None:
                err = store.syntax_error(path)
            if err is not None:
                root_errors.append(LintError(path, err[0], err[1], err[2]))
                continue
            root_linted += 1
            if facts is None:
                continue  # no selected rule can report anything here
            checked.append(facts)
            text = store.text(path)
            noqa = NoqaMap(text or "")
            if noqa.file_ignored and not settings.disable_noqa:
                continue
            present = store.entries[path].tokens if prefilter_on() and path in store.entries else None
            for f in check_file(project, facts, settings, present=present):
                if not settings.disable_noqa and noqa.suppresses(f.line, f.code):
                    continue
                if settings.per_file_ignored(path, f.code):
                    continue
                root_findings.append(f)
        # a file whose rule data a rule needed (here or from another file) but LibCST could not
        # collect is not linted: one error, none of its findings
        refused = {f.path: f.rule_error for f in checked if f.rule_error is not None}
        if refused:
            root_findings = [f for f in root_findings if f.path not in refused]
            for path, (message, line, col) in sorted(refused.items()):
                root_errors.append(LintError(path, message, line, col))
                root_linted -= 1
        store.save()
        findings.extend(root_findings)
        errors.extend(root_errors)
        linted += root_linted
        if runs is not None:
            files = {}
            for p in known:
                e = store.entries.get(p)
                if e is None or not e.digest:
                    break  # unreadable now: do not record a result that depends on it
                files[p] = (e.mtime_ns, e.size, e.digest)
            else:
                runs.save(root, root_targets, settings, files, (root_findings, root_errors, root_linted))
    findings.sort(key=Finding.sort_key)
    errors.sort(key=lambda e: (e.path, e.line or 0))
    return LintResult(findings, errors, linted, warnings)
