"""The project model: every file's facts joined, with names resolved through imports.

Rules ask it project-wide questions ("what does this expression name?", "which app object is this
receiver?", "who calls this function?"). It knows the framework only through ``symbols``.
"""

from __future__ import annotations

import builtins
import os
from typing import Callable, Dict, FrozenSet, Iterable, Iterator, List, NamedTuple, Optional, Set, Tuple

from .facts import Binding, CallFact, ClassFact, Expr, FileFacts, FunctionFact, ImportFact, Param
from .memo import memoized, none
from .symbols import SYMBOLS, symbol_of
from .valueflow import ValueFlow

_BUILTINS = frozenset(dir(builtins))
_MAX_HOPS = 25

# kinds of objects the model tracks
APP_KINDS = ("FastAPI", "Starlette", "APIRouter", "Router")


class ObjRef(NamedTuple):
    """An object the model can follow: where it is constructed, and what it is.

    key is (path, line, col) of the constructing call, or ("param", qualified function, param name)
    for a parameter whose callers could not all be followed.
    """

    kind: str
    key: tuple


class _Files(Dict[str, FileFacts]):
    """path -> facts. Iterating takes a snapshot: resolution may load more files meanwhile."""

    def values(self):  # type: ignore[override]
        return list(super().values())

    def items(self):  # type: ignore[override]
        return list(super().items())

    def __iter__(self):
        return iter(list(super().__iter__()))


class Project:
    def __init__(
        self,
        root: str,
        files: Iterable[FileFacts],
        known_paths: Iterable[str] = (),
        loader: Optional[Callable[[str], Optional[FileFacts]]] = None,
        text: Optional[Callable[[str], Optional[str]]] = None,
        relevant: Optional[Callable[[str], bool]] = None,
    ) -> None:
        """``files``: the facts of the files parsed up front. ``known_paths``: every Python file of
        the project (parsed or not); a module that name resolution reaches but that was not parsed
        is loaded on demand through ``loader``. ``text``: a project file's current text (the one a
        running ``--fix`` holds in memory, else the file's), for rules that read other files'
        text. ``relevant``: whether a file not parsed yet may do anything with the framework's
        objects (it names what the model tracks): the value flow parses only such modules."""
        self.root = os.path.abspath(root)
        self.files: Dict[str, FileFacts] = _Files()
        for f in files:
            if not f._scope_names:
                f.index()
            self.files[f.path] = f
        self.known_paths: Set[str] = set(known_paths) | set(self.files)
        self._loader = loader
        self._text = text
        self._relevant = relevant
        self._failed: Set[str] = set()
        self.primary: Dict[str, str] = {}  # path -> unique module id (dotted path under the root)
        self.package_name: Dict[str, str] = {}  # path -> the name Python would import it by
        self.modules: Dict[str, str] = {}  # module name -> path
        self._name_module()
        self._bindings: Dict[str, List[Tuple[FileFacts, Binding]]] = {}
        self._defs: Dict[str, Tuple[FileFacts, object]] = {}
        self._params: Dict[str, Tuple[FileFacts, FunctionFact, Param]] = {}
        self._calls_by_tail: Dict[str, List[Tuple[FileFacts, CallFact]]] = {}
        for f in self.files.values():
            self._index_file(f)
        self.memo: Dict[tuple, object] = {}  # answers of the model's questions (memo.py)
        self._flow: Optional[ValueFlow] = None
        # while set, name resolution reads only the files already parsed and packages' __init__
        # modules (the value flow resolves every name of the model; it loads another module only
        # when a value it follows flows there)
        self.offline = False
        # set by the engine when no file of the project names FastAPI or Starlette
        self.framework_free = False

    def facts_for(self, path: str) -> Optional[FileFacts]:
        """The facts of a project file, parsing it now if it was not parsed up front."""
        f = self.files.get(path)
        if f is not None or path in self._failed or self._loader is None or path not in self.known_paths:
            return f
        if self.offline and not path.endswith("__init__.py"):
            return None  # a package's __init__ is read even then: it is how names are re-exported
        f = self._loader(path)
        if f is None:
            self._failed.add(path)
            return None
        if not f._scope_names:
            f.index()
        self.files[path] = f
        self._index_file(f)
        return f

    @staticmethod
    def ref(kind: str, key: tuple) -> ObjRef:
        return ObjRef(kind, key)

    def flow(self) -> ValueFlow:
        """The project's value flow (valueflow.py), solved on first use."""
        if self._flow is None:
            self._flow = ValueFlow(self)
            self._flow.solve()
        return self._flow

    def with_file(self, facts: FileFacts) -> "Project":
        """The same project with ``facts`` in place of its file's facts (or added): a text other
        than the one on disk (flake8's, an editor's), or a file outside the model's tree."""
        files = [f for p, f in self.files.items() if p != facts.path] + [facts]
        project = Project(self.root, files, self.known_paths, self._loader, self._text, self._relevant)
        project.framework_free = self.framework_free
        return project

    def relevant(self, path: str) -> bool:
        """Whether a project file may do anything with the framework's objects (see __init__)."""
        return self._relevant(path) if self._relevant is not None else True

    def source_text(self, path: str) -> Optional[str]:
        """A project file's current text (None: it cannot be read)."""
        return self._text(path) if self._text is not None else None

    # ---------------------------------------------------------------------------------------
    # module names
    def _name_module(self) -> None:
        """Give every file a unique id (its dotted path under the root) and register the names
        imports may use for it: its package-based name (following ``__init__.py`` upwards) and
        every suffix of its path (for ``src/`` layouts and namespace packages)."""
        paths = sorted(self.known_paths)
        inits = {os.path.dirname(p) for p in paths if p.endswith("__init__.py")}
        aliases: List[Tuple[int, int, str, str]] = []
        for p in paths:
            d, base = os.path.split(p)
            stem = base[:-3] if base.endswith(".py") else base
            parts = [] if stem == "__init__" else [stem]
            while d in inits:
                d, pkg = os.path.split(d)
                if not pkg:
                    break
                parts.insert(0, pkg)
            self.package_name[p] = ".".join(parts) or stem
            rel = os.path.relpath(p, self.root)
            if rel.startswith(".."):
                rel = os.path.abspath(p).lstrip(os.sep)
            rel_parts = (rel[:-3] if rel.endswith(".py") else rel).split(os.sep)
            if len(rel_parts) > 1 and rel_parts[-1] == "__init__":
                rel_parts = rel_parts[:-1]
            self.primary[p] = ".".join(rel_parts)
            aliases.append((0, 0, self.package_name[p], p))
            for i in range(1, len(rel_parts)):
                # a suffix is a name only from a directory that can be on sys.path: not from inside a
                # package (zenml/deployers/server/fastapi/ is not ``fastapi``)
                if os.path.join(self.root, *rel_parts[:i]) not in inits:
                    aliases.append((1, i, ".".join(rel_parts[i:]), p))
        for p in paths:
            self.modules[self.primary[p]] = p
        for _prio, _i, name, p in sorted(aliases):
            if name:
                self.modules.setdefault(name, p)

    def module_name(self, facts: FileFacts) -> str:
        return self.primary[facts.path]

    def qualify(self, facts: FileFacts, qualname: str) -> str:
        mod = self.primary[facts.path]
        return f"{mod}.{qualname}" if qualname else mod

    def _index_file(self, f: FileFacts) -> None:
        mod = self.primary[f.path]
        for b in f.bindings:
            key = f"{mod}.{b.scope}.{b.name}" if b.scope else f"{mod}.{b.name}"
            self._bindings.setdefault(key, []).append((f, b))
        for fn in f.functions.values():
            self._defs[f"{mod}.{fn.qualname}"] = (f, fn)
            for prm in fn.params:
                self._params[f"{mod}.{fn.qualname}.{prm.name}"] = (f, fn, prm)
        for cls in f.classes.values():
            self._defs[f"{mod}.{cls.qualname}"] = (f, cls)
        for c in f.calls:
            callee = c.call.value
            tail = None
            if callee is not None and callee.kind == "name":
                tail = callee.value.rsplit(".", 1)[-1]
            elif callee is not None and callee.kind == "attr":
                tail = callee.args[0]
            if tail:
                self._calls_by_tail.setdefault(tail, []).append((f, c))

    # ---------------------------------------------------------------------------------------
    # lookups
    def definition(self, qname: Optional[str]):
        """(facts, FunctionFact | ClassFact) for a resolved qualified name, or None."""
        return self._defs.get(qname) if qname else None

    def function(self, qname: Optional[str]) -> Optional[Tuple[FileFacts, FunctionFact]]:
        d = self.definition(qname)
        return d if d and isinstance(d[1], FunctionFact) else None

    def klass(self, qname: Optional[str]) -> Optional[Tuple[FileFacts, ClassFact]]:
        d = self.definition(qname)
        return d if d and isinstance(d[1], ClassFact) else None

    def bindings(self, qname: Optional[str]) -> List[Tuple[FileFacts, Binding]]:
        return self._bindings.get(qname, []) if qname else []

    def param(self, qname: Optional[str]) -> Optional[Tuple[FileFacts, FunctionFact, Param]]:
        return self._params.get(qname) if qname else None

    def calls_named(self, tail: str) -> List[Tuple[FileFacts, CallFact]]:
        """Every call in the project whose callee's last name part is ``tail`` (``x.add_middleware``)."""
        return self._calls_by_tail.get(tail, [])

    def iter_calls(self) -> Iterator[Tuple[FileFacts, CallFact]]:
        for f in self.files.values():
            for c in f.calls:
                yield f, c

    # ---------------------------------------------------------------------------------------
    # name resolution
    def _scope_chain(self, facts: FileFacts, scope: str) -> List[str]:
        """The scopes whose names are visible from ``scope``, innermost first (class scopes are
        skipped except when we are directly in the class body)."""
        chain = [scope]
        parts = scope.split(".") if scope else []
        while parts:
            parts = parts[:-1]
            s = ".".join(parts)
            if s and s in facts.classes:
                continue
            chain.append(s)
        if chain[-1] != "":
            chain.append("")
        return chain

    def _import_target(self, facts: FileFacts, imp: ImportFact) -> str:
        if imp.level == 0:
            if imp.name is None:
                return imp.module
            return f"{imp.module}.{imp.name}" if imp.module else imp.name
        # relative: resolve by path
        d = os.path.dirname(facts.path)
        for _ in range(imp.level - 1):
            d = os.path.dirname(d)
        parts = imp.module.split(".") if imp.module else []
        base_path = os.path.join(d, *parts) if parts else d
        base_name = None
        for cand in (base_path + ".py", os.path.join(base_path, "__init__.py")):
            if cand in self.known_paths:
                base_name = self.primary[cand]
                break
        if base_name is None:
            # the package is not in the project; derive from our own module name
            mod = self.primary.get(facts.path, "")
            pkg_parts = mod.split(".")
            if not facts.is_package_init:
                pkg_parts = pkg_parts[:-1]
            if imp.level - 1:
                pkg_parts = pkg_parts[: len(pkg_parts) - (imp.level - 1)]
            base_name = ".".join(pkg_parts + parts)
        if imp.name is None:
            return base_name
        return f"{base_name}.{imp.name}" if base_name else imp.name

    def _module_prefix(self, qname: str) -> Tuple[Optional[FileFacts], str]:
        parts = qname.split(".")
        for i in range(len(parts), 0, -1):
            mod = ".".join(parts[:i])
            path = self.modules.get(mod)
            if path is not None:
                f = self.facts_for(path)
                if f is None:
                    return None, qname
                return f, ".".join(parts[i:])
        return None, qname

    def canonical(self, qname: Optional[str], _hops: int = 0) -> Optional[str]:
        """Follow re-exports and aliases until the name is where it is defined."""
        if not qname:
            return qname
        return self._canonical(qname, _hops, self.offline)

    @memoized(key=lambda qname, hops, offline: (qname, offline), guard=lambda qname, hops, offline: qname)
    def _canonical(self, qname: str, hops: int, offline: bool) -> Optional[str]:
        if hops > _MAX_HOPS:
            return qname
        facts, rest = self._module_prefix(qname)
        if facts is None:
            return qname
        mod = self.primary[facts.path]
        if not rest:
            return mod
        head, _, tail = rest.partition(".")
        entries = facts.lookup("", head)
        if not entries:
            for star in facts.lookup("", "*"):
                target = self._import_target(facts, star)
                cand = self.canonical(f"{target}.{rest}", hops + 1)
                if cand and self.definition(cand) or self.bindings(cand):
                    return cand
            return f"{mod}.{rest}"
        entry = entries[-1]
        if isinstance(entry, ImportFact):
            target = self._import_target(facts, entry)
            return self.canonical(f"{target}.{tail}" if tail else target, hops + 1)
        if isinstance(entry, Binding):
            if entry.value.kind == "name" and entry.value.value.split(".")[0] != head:
                target = self.resolve_name(facts, "", entry.value.value)
                if target:
                    return self.canonical(f"{target}.{tail}" if tail else target, hops + 1)
        return f"{mod}.{rest}"

    def resolve_name(self, facts: FileFacts, scope: str, dotted: str) -> Optional[str]:
        """The qualified name a dotted name used in ``scope`` of ``facts`` refers to."""
        return self._resolve_name(facts, scope, dotted, self.offline)

    @memoized(key=lambda facts, scope, dotted, offline: (facts.path, scope, dotted, offline), guard=none)
    def _resolve_name(self, facts: FileFacts, scope: str, dotted: str, offline: bool) -> Optional[str]:
        head, _, rest = dotted.partition(".")
        mod = self.primary[facts.path]

        def join(base: Optional[str]) -> Optional[str]:
            if base is None:
                return None
            return f"{base}.{rest}" if rest else base

        # self.attr inside a method
        fn = facts.function_at(scope)
        if fn is not None and rest and fn.receiver == head:
            attr, _, more = rest.partition(".")
            base = f"{mod}.{fn.class_qualname}.self.{attr}"
            if facts.lookup(fn.class_qualname, f"self.{attr}"):
                self._ensure_self_binding(facts, fn.class_qualname, attr, base)
                return f"{base}.{more}" if more else base
        for s in self._scope_chain(facts, scope):
            entries = facts.lookup(s, head)
            if not entries:
                continue
            # a dotted assignment such as ``app.state.x = ...`` is also bound under its full name
            entry = entries[-1]
            if isinstance(entry, ImportFact):
                if entry.local != head:
                    continue
                target = self._import_target(facts, entry)
                return self.canonical(join(target))
            if isinstance(entry, (FunctionFact, ClassFact)):
                return join(f"{mod}.{entry.qualname}")
            if isinstance(entry, Param):
                return join(f"{mod}.{s}.{head}")
            if isinstance(entry, Binding):
                v = entry.value
                if v.kind == "name" and v.value.split(".")[0] != head:
                    target = self.resolve_name(facts, s, v.value)
                    if target:
                        return join(target)
                return join(f"{mod}.{s}.{head}" if s else f"{mod}.{head}")
        # dotted imports: ``import a.b`` then ``a.b.C``
        if rest:
            for s in self._scope_chain(facts, scope):
                parts = dotted.split(".")
                for i in range(len(parts), 1, -1):
                    for entry in facts.lookup(s, ".".join(parts[:i])):
                        if isinstance(entry, ImportFact):
                            more = ".".join(parts[i:])
                            return self.canonical(f"{entry.module}.{more}" if more else entry.module)
        starred = self._from_star_import(facts, head)
        if starred is not None:
            return self.canonical(join(starred))
        if head in _BUILTINS:
            return join(f"builtins.{head}")
        return None

    def _from_star_import(self, facts: FileFacts, head: str) -> Optional[str]:
        """The qualified name ``head`` gets from a module-level ``from M import *`` (the last one that
        provides it, as Python binds them): a name that a project module defines or binds, or one
        of the framework names of symbols.py (``from starlette.middleware import *`` gives
        ``Middleware``)."""
        for star in reversed(facts.lookup("", "*")):
            if not isinstance(star, ImportFact):
                continue
            target = self._import_target(facts, star)
            if not target:
                continue
            cand = self.canonical(f"{target}.{head}")
            if not cand:
                continue
            if self._module_prefix(cand)[0] is not None:
                if self.definition(cand) or self.bindings(cand):
                    return cand
            elif symbol_of(cand) is not None:
                return cand
        return None

    def _ensure_self_binding(self, facts: FileFacts, cls: str, attr: str, key: str) -> None:
        if key not in self._bindings:
            self._bindings[key] = [(facts, b) for b in facts.lookup(cls, f"self.{attr}")]

    def resolve(self, facts: FileFacts, scope: str, expr: Optional[Expr]) -> Optional[str]:
        """The qualified name an expression denotes (names and attribute chains only)."""
        if expr is None:
            return None
        if expr.kind == "name":
            return self.resolve_name(facts, scope, expr.value)
        return None

    def symbol(self, facts: FileFacts, scope: str, expr: Optional[Expr]) -> Optional[str]:
        """The framework symbol id (see symbols.py) an expression names, or None."""
        return symbol_of(self.resolve(facts, scope, expr))

    def callee_symbol(self, facts: FileFacts, scope: str, call: Expr) -> Optional[str]:
        return self.symbol(facts, scope, call.value) if call.kind == "call" else None

    # ---------------------------------------------------------------------------------------
    # values
    def string_value(self, facts: FileFacts, scope: str, expr: Optional[Expr], _depth: int = 0) -> Optional[str]:
        """A string literal, or a name bound to one (module constants, across files)."""
        if expr is None or _depth > 8:
            return None
        if expr.kind == "str":
            return expr.value
        if expr.kind == "name":
            qname = self.resolve_name(facts, scope, expr.value)
            values = self.bindings(qname)
            if len(values) == 1:
                f, b = values[0]
                return self.string_value(f, b.scope, b.value, _depth + 1)
        return None

    def subclasses_symbol(self, qname: Optional[str], symbol_ids: Tuple[str, ...], _depth: int = 0) -> bool:
        """Is ``qname`` one of the symbols, or a project class deriving from one (any depth)?"""
        if not qname or _depth > 20:
            return False
        if symbol_of(qname) in symbol_ids:
            return True
        k = self.klass(qname)
        if k is None:
            return False
        facts, cls = k
        return any(
            self.subclasses_symbol(self.resolve(facts, cls.scope, base), symbol_ids, _depth + 1) for base in cls.bases
        )

    # ---------------------------------------------------------------------------------------
    # objects
    def objects(self, facts: FileFacts, scope: str, expr: Optional[Expr], _depth: int = 0) -> Set[ObjRef]:
        """The apps and routers an expression can evaluate to (the value flow's allocations of
        FastAPI, Starlette, APIRouter, Router and project subclasses; ``app.router``). A
        parameter or an annotated name the flow knows nothing about, annotated with an app class,
        is one object of its own (``("param", function, name)`` / ``("annotated", name)``)."""
        if expr is None:
            return set()
        return self._app_objects(facts, scope, expr)

    @memoized(key=lambda facts, scope, expr: (facts.path, scope, expr))
    def _app_objects(self, facts: FileFacts, scope: str, expr: Expr) -> Set[ObjRef]:
        flow = self.flow()
        out = {ref for ref in (flow.app_ref(o) for o in flow.objects(facts, scope, expr)) if ref is not None}
        if out or expr.kind != "name" or "." in expr.value:
            return out
        qname = self.resolve_name(facts, scope, expr.value)
        prm = self.param(qname)
        if prm is not None:
            pf, fn, p = prm
            kind = self._constructed_kind(self.resolve(pf, fn.qualname, p.annotation)) if p.annotation is not None else None
            if kind:
                out.add(ObjRef(kind, ("param", self.qualify(pf, fn.qualname), p.name)))
            return out
        for f, b in self.bindings(qname):
            if b.annotation is not None:
                kind = self._constructed_kind(self.resolve(f, b.scope, b.annotation))
                if kind:
                    out.add(ObjRef(kind, ("annotated", qname)))
        return out

    def items(
        self, facts: FileFacts, scope: str, expr: Optional[Expr], depth: int = 0, _seen: Optional[Set[str]] = None
    ) -> Iterator[Tuple[FileFacts, str, Expr]]:
        """The items of a list/tuple/set expression, following ``*spread``, names bound to one, and a
        parameter to what its call sites pass (its default where one omits it, or none calls it).

        Yields (facts, scope, item)."""
        if expr is None or depth > 12:
            return
        seen = set() if _seen is None else _seen
        if expr.kind == "seq":
            for item in expr.args:
                if item.kind == "star":
                    yield from self.items(facts, scope, item.value, depth + 1, seen)
                else:
                    yield facts, scope, item
            return
        if expr.kind != "name":
            return
        qname = self.resolve_name(facts, scope, expr.value)
        if qname is None or qname in seen:
            return
        seen.add(qname)
        bound = self.bindings(qname)
        for f, b in bound:
            yield from self.items(f, b.scope, b.value, depth + 1, seen)
        prm = self.param(qname) if not bound else None
        if prm is not None:
            for f, s, value in self.param_values(*prm):
                yield from self.items(f, s, value, depth + 1, seen)

    def param_values(
        self,
        facts: FileFacts,
        fn: FunctionFact,
        prm: Param,
        callers: Optional[Callable[[FileFacts, str], bool]] = None,
    ) -> List[Tuple[FileFacts, str, Expr]]:
        """What the project's calls of ``fn`` (those ``callers(facts, scope)`` accepts, if given) pass
        for ``prm`` (the default where a call omits it, or no call is found), as (facts, scope, value)."""
        if prm.kind not in ("posonly", "pos", "kwonly"):
            return []
        fq = self.qualify(facts, fn.qualname)
        index = fn.passed_index(prm.name)
        out: List[Tuple[FileFacts, str, Expr]] = []
        omitted = True
        calls = [
            (cf, c)
            for cf, c in self.calls_named(fn.name)
            if (callers is None or callers(cf, c.scope)) and self.resolve(cf, c.scope, c.call.value) == fq
        ]
        if calls:
            omitted = False
        for cf, c in calls:
            arg = c.call.kwarg(prm.name)
            if arg is None and (any(a.kind == "star" for a in c.call.args) or c.call.kwarg("**") is not None):
                continue  # ``f(*args)`` / ``f(**kwargs)``: unknown
            if arg is None and index is not None and 0 <= index < len(c.call.args):
                arg = c.call.args[index]
            if arg is not None:
                out.append((cf, c.scope, arg))
            else:
                omitted = True
        if omitted and prm.default is not None:
            out.append((facts, fn.scope, prm.default))
        return out

    def objects_of_name(self, qname: str, depth: int = 0) -> Set[ObjRef]:
        out: Set[ObjRef] = set()
        for f, b in self.bindings(qname):
            out |= self.objects(f, b.scope, b.value, depth + 1)
            if b.annotation is not None and not out:
                kind = self._constructed_kind(self.resolve(f, b.scope, b.annotation))
                if kind:
                    out.add(ObjRef(kind, ("annotated", qname)))
        if out:
            return out
        prm = self.param(qname)
        if prm is not None:
            return self._param_objects(qname, *prm, depth=depth)
        if qname.endswith(".router"):
            base = qname[: -len(".router")]
            return {ObjRef("FastAPI.router", o.key) for o in self.objects_of_name(base, depth + 1) if o.kind == "FastAPI"}
        return out

    def _param_objects(self, qname: str, facts: FileFacts, fn: FunctionFact, prm: Param, depth: int) -> Set[ObjRef]:
        out: Set[ObjRef] = set()
        fq = self.qualify(facts, fn.qualname)
        index = fn.passed_index(prm.name)
        calls = list(self.calls_named(fn.name))
        for alias in self._import_aliases(fn.name):  # ``from m import setup as setup_app``
            calls.extend(self.calls_named(alias))
        for cf, call in calls:
            if self.resolve(cf, call.scope, call.call.value) != fq:
                # a method called on ``self`` from another method of the same class
                is_self_call = (
                    fn.class_qualname is not None
                    and cf is facts
                    and call.scope.startswith(fn.class_qualname + ".")
                    and call.call.value is not None
                    and call.call.value.kind == "name"
                    and call.call.value.value == f"self.{fn.name}"
                )
                if not is_self_call:
                    continue
            arg = call.call.kwarg(prm.name)
            if arg is None and index is not None and 0 <= index < len(call.call.args):
                arg = call.call.args[index]
            if arg is not None:
                out |= self.objects(cf, call.scope, arg, depth + 1)
        if not out and prm.annotation is not None:
            kind = self._constructed_kind(self.resolve(facts, fn.qualname, prm.annotation))
            if kind:
                out.add(ObjRef(kind, ("param", fq, prm.name)))
        return out

    def _import_aliases(self, name: str) -> Set[str]:
        """The other local names ``from m import name as other`` binds anywhere in the project."""
        key = ("import-aliases", len(self.files))
        table = self.memo.get(key)
        if table is None:
            table = {}
            for f in list(self.files.values()):
                for imp in f.imports:
                    if imp.name and imp.local != imp.name and imp.local != "*":
                        table.setdefault(imp.name.rsplit(".", 1)[-1], set()).add(imp.local)
            self.memo[key] = table
        return table.get(name, set())  # type: ignore[union-attr]

    def _constructed_kind(self, callee: Optional[str]) -> Optional[str]:
        """The app kind a call to ``callee`` constructs (FastAPI subclasses count as FastAPI)."""
        if not callee:
            return None
        sym = symbol_of(callee)
        if sym in APP_KINDS:
            return sym
        for kind in ("FastAPI", "APIRouter", "Starlette", "Router"):
            if self.subclasses_symbol(callee, (kind,)):
                return kind
        return None

    def symbols(self) -> Dict[str, FrozenSet[str]]:
        return SYMBOLS
