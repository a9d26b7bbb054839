"""The on-disk cache: per-file facts between runs.

One file per project root, under the user cache directory (or ``--cache-dir`` /
``ASTACK_LINT_CACHE_DIR``), in a folder named after the tool version, the interpreter and a digest
of the tool's code (``keys.py``). An entry is reused when the file's size, mtime and ctime are
unchanged (a ``touch -r`` or ``cp -p`` keeps the mtime, not the ctime), or its content digest is; an
entry whose file changed less than ``RACY_NS`` before it was written is trusted by its digest only
(a second edit in the same timestamp tick keeps every stat field). Findings are not cached here:
they are recomputed from the (cached) facts of the whole project, so an edit in one file updates
findings in the others. Settings and resolved releases only affect that recomputation.
(``runs.py`` keeps whole results per project root, for runs in which nothing changed.)

The file holds plain data (``files.py``): the facts are written field by field and rebuilt into
the model's records, never unpickled. A missing, truncated, corrupt or wrong-shaped file or entry
is a miss; a cache directory that cannot be written or trusted gives one warning and the run goes
on without a cache.
"""

from __future__ import annotations

import hashlib
import os
import time
from typing import Any, Dict, Optional

from ..engine.store import Entry
from ..model.facts import Binding, CallFact, ClassFact, Expr, FileFacts, FunctionFact, ImportFact, Param, SubscriptAssign
from ..rules.registry import all_rules
from . import files
from .keys import default_cache_dir, version_dir

FORMAT = 2
RACY_NS = 2_000_000_000  # a file changed this recently when its entry was written: compare its digest
_new = tuple.__new__


def _expr(e: Any) -> Any:
    """An Expr as nested plain tuples (its value, arguments and keyword keys may be Exprs)."""
    value, args, kwargs = e.value, e.args, e.kwargs
    return (
        e.kind,
        _expr(value) if type(value) is Expr else value,
        tuple([_expr(a) if type(a) is Expr else a for a in args]) if args else (),
        tuple([(_expr(k) if type(k) is Expr else k, _expr(v) if type(v) is Expr else v) for k, v in kwargs])
        if kwargs else (),
        e.line,
        e.col,
    )


def _unexpr(t: tuple, tuple: Any = tuple, type: Any = type) -> Expr:
    kind, value, args, kwargs, line, col = t
    if type(value) is tuple:
        value = _unexpr(value)
    if args:
        args = tuple([_unexpr(a) if type(a) is tuple else a for a in args])
    if kwargs:
        kwargs = tuple([(_unexpr(k) if type(k) is tuple else k, _unexpr(v) if type(v) is tuple else v)
                        for k, v in kwargs])
    if type(kind) is not str or type(line) is not int or type(col) is not int:
        raise ValueError("not an expression")
    return _new(Expr, (kind, value, args, kwargs, line, col))


def _opt(e: Optional[Expr]) -> Any:
    return None if e is None else _expr(e)


def _unopt(t: Any) -> Optional[Expr]:
    return None if t is None else _unexpr(t)


def encode_facts(f: FileFacts) -> tuple:
    return (
        f.path,
        [tuple(i) for i in f.imports],
        [(fn.qualname, fn.scope, fn.name, fn.is_async, fn.is_generator,
          tuple([(p.name, _opt(p.annotation), _opt(p.default), p.kind) for p in fn.params]),
          tuple([_expr(d) for d in fn.decorators]), tuple([_expr(r) for r in fn.returns]),
          fn.class_qualname, fn.line, fn.col, fn.end_line) for fn in f.functions.values()],
        [(c.qualname, c.scope, c.name, tuple([_expr(b) for b in c.bases]), c.line, c.col) for c in f.classes.values()],
        [(b.scope, b.name, _expr(b.value), _opt(b.annotation), b.line, b.col) for b in f.bindings],
        [(s.scope, _expr(s.target), _expr(s.value), s.line, s.col) for s in f.subscript_assigns],
        [(c.scope, _expr(c.call), c.awaited, c.decorates, c.end_line, c.end_col) for c in f.calls],
        f.rule_error,
        None if not f.has_rule_data else files.encode(f.rule_data),
    )


def decode_facts(t: tuple) -> FileFacts:
    """The facts ``encode_facts`` wrote; raises (ValueError, TypeError, ...) on anything else."""
    path, imports, functions, classes, bindings, subs, calls, rule_error, rule_data = t
    if type(path) is not str:
        raise ValueError("not facts")
    f = FileFacts(path)
    f.imports = [ImportFact(*i) for i in imports]
    f.functions = {
        q: FunctionFact(q, s, n, a, g, tuple([Param(pn, _unopt(pa), _unopt(pd), pk) for pn, pa, pd, pk in params]),
                        tuple([_unexpr(d) for d in decs]), tuple([_unexpr(r) for r in rets]), cq, line, col, end)
        for q, s, n, a, g, params, decs, rets, cq, line, col, end in functions
    }
    f.classes = {q: ClassFact(q, s, n, tuple([_unexpr(b) for b in bases]), line, col)
                 for q, s, n, bases, line, col in classes}
    f.bindings = [Binding(s, n, _unexpr(v), _unopt(a), line, col) for s, n, v, a, line, col in bindings]
    f.subscript_assigns = [SubscriptAssign(s, _unexpr(tg), _unexpr(v), line, col) for s, tg, v, line, col in subs]
    f.calls = [CallFact(s, _unexpr(c), a, d, el, ec) for s, c, a, d, el, ec in calls]
    if rule_error is not None:
        message, line, col = rule_error
        f.rule_error = (str(message), line, col)
    if rule_data is not None:
        all_rules()  # the named tuples of rule data are the rule modules' own
        data = files.decode(rule_data)
        if type(data) is not dict:
            raise ValueError("not rule data")
        f.rule_data = data
    f.index()
    return f


def encode_entry(e: Entry, now_ns: int) -> tuple:
    racy = max(e.mtime_ns, e.ctime_ns) > now_ns - RACY_NS
    return (-1 if racy else e.mtime_ns, e.ctime_ns, e.size, e.digest, e.tokens,
            None if e.facts is None else encode_facts(e.facts), e.error, e.parsed, e.syntax_checked)


def decode_entry(t: tuple) -> Entry:
    mtime_ns, ctime_ns, size, digest, tokens, facts, error, parsed, syntax_checked = t
    if not (type(mtime_ns) is type(ctime_ns) is type(size) is int and type(digest) is str
            and type(tokens) is frozenset and all(type(x) is bytes for x in tokens)
            and type(parsed) is type(syntax_checked) is bool):
        raise ValueError("not an entry")
    if error is not None:
        message, line, col = error
        error = (str(message), line, col)
    return Entry(mtime_ns, size, digest, tokens, None if facts is None else decode_facts(facts), error, parsed,
                 syntax_checked, ctime_ns)


class DiskCache:
    def __init__(self, directory: str) -> None:
        self.root = directory
        self.directory = version_dir(directory, f"f{FORMAT}")
        self.path: Optional[str] = None
        self.under = ""  # the open root, with a trailing separator: its file holds the entries below it
        self.raw: Dict[str, Any] = {}  # path -> the entry as read, decoded on first use
        self.entries: Dict[str, Optional[Entry]] = {}
        self.disabled = False

    @classmethod
    def for_settings(cls, settings: Any) -> Optional["DiskCache"]:
        if settings.no_cache:
            return None
        return cls(settings.cache_dir or default_cache_dir())

    def open(self, root: str) -> None:
        """Load the cache of one project root (anything unreadable counts as empty)."""
        key = hashlib.blake2b(os.path.abspath(root).encode("utf-8", "surrogatepass"), digest_size=10).hexdigest()
        self.path = os.path.join(self.directory, f"{key}.facts")
        self.under = os.path.join(os.path.abspath(root), "")
        self.raw, self.entries = {}, {}
        if self.disabled:
            return
        reason = files.usable(self.root, self.directory, create=False)
        if reason is not None:
            if reason != "missing":
                self.disabled = True
                files.warn(reason)
            return
        data = files.read(self.path)
        if type(data) is tuple and len(data) == 3 and data[:2] == ("facts", FORMAT) and type(data[2]) is dict:
            self.raw = data[2]

    def get(self, path: str) -> Optional[Entry]:
        if path in self.entries:
            return self.entries[path]
        raw = self.raw.pop(path, None)
        entry = None
        if raw is not None:
            try:
                entry = decode_entry(raw)
            except Exception:  # an entry of the wrong shape: a miss
                entry = None
        self.entries[path] = entry
        return entry

    def save(self, entries: Dict[str, Any]) -> None:
        if self.disabled or self.path is None:
            return
        now = time.time_ns()
        try:
            # only this root's files: the store holds every root the run linted so far
            under = self.under
            keep = {p: encode_entry(e, now) for p, e in entries.items() if e.digest and p.startswith(under)}
        except Exception as exc:  # e.g. a fact that is not plain data: never fail the run
            self.disabled = True
            files.warn(f"cannot write the cache ({type(exc).__name__}: {exc})")
            return
        reason = files.usable(self.root, self.directory)
        if reason is not None:
            self.disabled = True
            files.warn(reason)
            return
        try:
            files.write(self.path, ("facts", FORMAT, keep))
            files.prune(self.root)
        except OSError as exc:
            self.disabled = True
            files.warn(f"cannot write the cache in {self.directory} ({exc.strerror or exc})")
        except Exception as exc:
            self.disabled = True
            files.warn(f"cannot write the cache ({type(exc).__name__}: {exc})")
