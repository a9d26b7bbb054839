"""Per-file facts: in memory for the process, and on disk between runs through a ``disk`` object
the application gives (``cache/facts.py``); the engine builds no cache itself.

A file is parsed only when its facts are needed; until then the store knows its size, mtime,
content digest and which prefilter tokens it contains."""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
from typing import Any, Dict, FrozenSet, Iterator, List, NamedTuple, Optional, Sequence, Tuple

from ..config.options import Settings
from ..model.facts import FileFacts
from ..results import AnalysisError, describe_exception
from ..rules.registry import all_rules
from ..source import Source, SourceError, content_digest, read_bytes, read_source
from .parse import analyse, cpython_syntax_error, load_rule_data

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
    ctime_ns: int = 0  # with the mtime and size, what says the file is unchanged without reading it


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


@contextlib.contextmanager
def _safe_path_for_children() -> Iterator[None]:
    """Worker processes started by "spawn" or "forkserver" (the default on macOS and Windows, and on
    Linux from Python 3.14) run ``python -c ...`` in the working directory, which puts it first on
    their ``sys.path`` before they import ``multiprocessing``: a linted repository's own
    ``multiprocessing.py`` would run. PYTHONSAFEPATH (Python >= 3.11) keeps it off."""
    before = os.environ.get("PYTHONSAFEPATH")
    if before is None:
        os.environ["PYTHONSAFEPATH"] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("PYTHONSAFEPATH", None)


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
        ctime_ns = getattr(st, "st_ctime_ns", -1)  # none for a text held in memory
        old = self.entries.get(path)
        if old is None and self.disk is not None:
            old = self.disk.get(path)
        if old is not None and old.digest == digest:
            entry = old._replace(mtime_ns=st.st_mtime_ns, size=st.st_size, ctime_ns=ctime_ns)
        else:
            present = frozenset(t for t in self.tokens if t in raw)
            entry = Entry(st.st_mtime_ns, st.st_size, digest, present, None, None, False, False, ctime_ns)
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
            if (cand is not None and cand.mtime_ns == st.st_mtime_ns and cand.size == st.st_size
                    and cand.ctime_ns == st.st_ctime_ns and cand.digest):
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
                with _safe_path_for_children(), concurrent.futures.ProcessPoolExecutor(max_workers=jobs) as pool:
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

        data = load_rule_data(facts, source, all_rules())
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



