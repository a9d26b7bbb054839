"""Which functions are FastAPI dependencies, and how they are used.

A function is a dependency when the project passes it to ``Depends(...)`` or ``Security(...)``
(resolved through the project model, so a user's own ``Depends`` never counts): as a parameter
default, inside ``Annotated[T, Depends(f)]`` (also through a type alias bound elsewhere), in
``dependencies=[Depends(f)]`` lists, or as a value of ``app.dependency_overrides[k] = f``.
``Depends(Checker())`` makes ``Checker.__call__`` the dependency; ``Depends(SomeClass)`` makes
``SomeClass.__init__`` the callable; ``Depends(factory(...))`` follows the factory's return values;
``Depends(functools.partial(f, ...))`` is ``f``. The option ``dependency-functions`` (glob patterns of
qualified names) marks more functions, for libraries whose dependencies are used elsewhere.

Everything here is memoized on the project (``memo.py``).
"""

from __future__ import annotations

from typing import Dict, Iterable, List, NamedTuple, Optional, Set, Tuple

from .facts import Expr, FileFacts, FunctionFact, Param
from .memo import empty_list, memoized, none
from .project import Project

DEP_SYMBOLS = ("Depends", "Security")
_PARTIALS = ("functools.partial",)
_MAX_DEPTH = 10


class DepUse(NamedTuple):
    """One place that makes a function a dependency."""

    path: str  # the file holding the Depends(...) call (or the override assignment)
    line: int
    col: int
    scope: str  # "request" (the default) or "function" (``Depends(f, scope="function")``)
    how: str  # "Depends", "Security" or "override"
    websocket: bool = False  # in a websocket route's decorator / registration, or a websocket endpoint's parameter


Target = Tuple[FileFacts, FunctionFact]


# ---------------------------------------------------------------------------------------------
# resolving what a Depends(...) argument calls


def _method(project: Project, cls_qname: Optional[str], name: str, depth: int = 0) -> Optional[Target]:
    """The method ``name`` of a project class, looked up through its project bases."""
    if not cls_qname or depth > _MAX_DEPTH:
        return None
    k = project.klass(cls_qname)
    if k is None:
        return None
    facts, cls = k
    fn = facts.functions.get(f"{cls.qualname}.{name}")
    if fn is not None:
        return facts, fn
    for base in cls.bases:
        found = _method(project, project.resolve(facts, cls.scope, base), name, depth + 1)
        if found is not None:
            return found
    return None


def _instance_class(project: Project, facts: FileFacts, scope: str, expr: Optional[Expr]) -> Optional[str]:
    """The project class an expression constructs (``Checker(...)``), or None."""
    if expr is None or expr.kind != "call":
        return None
    qname = project.resolve(facts, scope, expr.value)
    return qname if project.klass(qname) is not None else None


def resolve_callable(project: Project, facts: FileFacts, scope: str, expr: Optional[Expr], _depth: int = 0) -> List[Target]:
    """The project functions a dependency expression calls when FastAPI calls it."""
    if expr is None or _depth > _MAX_DEPTH:
        return []
    return _unique_callables(project, facts, scope, expr, _depth)


@memoized(key=lambda facts, scope, expr, depth: (facts.path, scope, expr), guard=empty_list)
def _unique_callables(project: Project, facts: FileFacts, scope: str, expr: Expr, depth: int) -> List[Target]:
    out = _resolve_callable(project, facts, scope, expr, depth + 1)
    seen: Set[Tuple[str, str]] = set()
    unique = []
    for f, fn in out:
        if (f.path, fn.qualname) not in seen:
            seen.add((f.path, fn.qualname))
            unique.append((f, fn))
    return unique


def _resolve_callable(project: Project, facts: FileFacts, scope: str, expr: Expr, depth: int) -> List[Target]:
    if expr.kind == "call":
        callee = project.resolve(facts, scope, expr.value)
        if callee in _PARTIALS and expr.args:
            return resolve_callable(project, facts, scope, expr.args[0], depth)
        if project.klass(callee) is not None:
            # an instance: FastAPI calls its __call__
            found = _method(project, callee, "__call__")
            return [found] if found else []
        fn = project.function(callee)
        if fn is not None:
            # a factory: the dependency is what it returns
            ff, fact = fn
            out: List[Target] = []
            for r in fact.returns:
                out.extend(resolve_callable(project, ff, fact.qualname, r, depth))
            return out
        return []
    if expr.kind != "name":
        return []
    qname = project.resolve_name(facts, scope, expr.value)
    if not qname:
        return []
    fn = project.function(qname)
    if fn is not None:
        return [fn]
    if project.klass(qname) is not None:
        found = _method(project, qname, "__init__")
        return [found] if found else []
    out = []
    for f, b in project.bindings(qname):
        if b.value.kind == "call":
            cls = _instance_class(project, f, b.scope, b.value)
            if cls is not None:
                found = _method(project, cls, "__call__")
                if found:
                    out.append(found)
                continue
        out.extend(resolve_callable(project, f, b.scope, b.value, depth))
    if out:
        return out
    # ``instance.method`` where ``instance = SomeClass(...)``
    if "." in qname:
        base, _, attr = qname.rpartition(".")
        for f, b in project.bindings(base):
            cls = _instance_class(project, f, b.scope, b.value)
            found = _method(project, cls, attr) if cls else None
            if found:
                out.append(found)
    return out


def _dep_call_target(call: Expr) -> Optional[Expr]:
    """The dependency argument of a Depends/Security call (None for ``Depends()``)."""
    if call.args and call.args[0].kind != "star":
        return call.args[0]
    return call.kwarg("dependency")


def _call_scope(project: Project, facts: FileFacts, scope: str, call: Expr) -> str:
    arg = call.kwarg("scope")
    if arg is None:
        return "request"
    value = project.string_value(facts, scope, arg)
    return "function" if value == "function" else "request"


def depends_symbol(project: Project, facts: FileFacts, scope: str, expr: Optional[Expr]) -> Optional[str]:
    """"Depends" / "Security" when ``expr`` is a call to FastAPI's Depends / Security, else None."""
    if expr is None or expr.kind != "call":
        return None
    sym = project.callee_symbol(facts, scope, expr)
    return sym if sym in DEP_SYMBOLS else None


# ---------------------------------------------------------------------------------------------
# every use in the project


def _candidate_tails(facts: FileFacts) -> Set[str]:
    tails = set(DEP_SYMBOLS)
    for imp in facts.imports:
        if imp.name and imp.name.rsplit(".", 1)[-1] in DEP_SYMBOLS:
            tails.add(imp.local)
    for b in facts.bindings:
        if b.value.kind == "name" and b.value.value.rsplit(".", 1)[-1] in DEP_SYMBOLS:
            tails.add(b.name.rsplit(".", 1)[-1])
    return tails


def _call_tail(call: Expr) -> Optional[str]:
    callee = call.value
    if callee is None:
        return None
    if callee.kind == "name":
        return callee.value.rsplit(".", 1)[-1]
    if callee.kind == "attr" and callee.args:
        return callee.args[0]
    return None


_WS_TAILS = ("websocket", "websocket_route", "add_api_websocket_route", "add_websocket_route")


def _nested_calls(expr: Optional[Expr], out: Set[Tuple[int, int]], depth: int = 0) -> None:
    if expr is None or depth > 12 or not isinstance(expr, Expr):
        return
    if expr.kind == "call":
        out.add((expr.line, expr.col))
    for sub in (expr.value,) + tuple(expr.args) + tuple(v for _k, v in expr.kwargs):
        if isinstance(sub, Expr):
            _nested_calls(sub, out, depth + 1)


def _websocket_sites(facts: FileFacts) -> Tuple[Set[Tuple[int, int]], Set[str]]:
    """Where a Depends(...) belongs to a websocket route: positions of the calls nested in
    ``@app.websocket(...)`` / ``add_api_websocket_route(...)`` arguments, and the functions such a
    decorator decorates (their parameters' defaults)."""
    calls: Set[Tuple[int, int]] = set()
    functions: Set[str] = set()
    for c in facts.calls:
        if _call_tail(c.call) in _WS_TAILS:
            for arg in tuple(c.call.args) + tuple(v for _k, v in c.call.kwargs):
                _nested_calls(arg, calls)
            if c.decorates:
                functions.add(c.decorates)
    return calls, functions


def _is_overrides(expr: Optional[Expr]) -> bool:
    if expr is None:
        return False
    if expr.kind == "name":
        return expr.value == "dependency_overrides" or expr.value.endswith(".dependency_overrides")
    return expr.kind == "attr" and expr.args == ("dependency_overrides",)


@memoized(seed=dict)  # re-entrancy guard: the table being built
def dependency_uses(project: Project, uses: Dict[str, List[DepUse]]) -> Dict[str, List[DepUse]]:
    """Qualified function id (``project.qualify(facts, fn.qualname)``) -> the places that make it a
    dependency. Called as ``dependency_uses(project)``: ``uses`` is the memo's seed, filled here."""

    def add(targets: Iterable[Target], use: DepUse) -> None:
        for f, fn in targets:
            uses.setdefault(project.qualify(f, fn.qualname), []).append(use)

    overrides: List[Tuple[FileFacts, str, Optional[Expr], Expr, int, int]] = []
    for facts in project.files.values():
        tails = _candidate_tails(facts)
        ws_calls, ws_functions = _websocket_sites(facts)
        for c in facts.calls:
            tail = _call_tail(c.call)
            if tail in tails:
                sym = depends_symbol(project, facts, c.scope, c.call)
                if sym is not None:
                    target = _dep_call_target(c.call)
                    if target is not None:
                        scope = _call_scope(project, facts, c.scope, c.call)
                        ws = (c.call.line, c.call.col) in ws_calls or c.scope in ws_functions
                        use = DepUse(facts.path, c.call.line, c.call.col, scope, sym, ws)
                        add(resolve_callable(project, facts, c.scope, target), use)
                    continue
            # app.dependency_overrides.update({k: f})
            if tail == "update" and c.call.args and c.call.args[0].kind == "dict":
                callee = c.call.value
                base = None
                if callee is not None and callee.kind == "name" and "." in callee.value:
                    base = Expr("name", callee.value.rsplit(".", 1)[0])
                elif callee is not None and callee.kind == "attr":
                    base = callee.value
                if _is_overrides(base):
                    for k, v in c.call.args[0].kwargs:
                        overrides.append((facts, c.scope, k, v, c.call.line, c.call.col))
        for sa in facts.subscript_assigns:
            if sa.target.kind == "sub" and _is_overrides(sa.target.value):
                k = sa.target.args[0] if sa.target.args else None
                overrides.append((facts, sa.scope, k, sa.value, sa.line, sa.col))
        for b in facts.bindings:
            # app.dependency_overrides = {k: f}
            if (b.name == "dependency_overrides" or b.name.endswith(".dependency_overrides")) and b.value.kind == "dict":
                for k, v in b.value.kwargs:
                    overrides.append((facts, b.scope, k, v, b.line, b.col))

    for facts, scope, k, v, line, col in overrides:
        # the override runs wherever the original does, with the original's scope
        scopes = set()
        for f, fn in resolve_callable(project, facts, scope, k):
            scopes |= {u.scope for u in uses.get(project.qualify(f, fn.qualname), [])}
        for s in sorted(scopes or {"request"}):
            add(resolve_callable(project, facts, scope, v), DepUse(facts.path, line, col, s, "override"))
    return uses


# ---------------------------------------------------------------------------------------------
# questions about one function


def _names(project: Project, facts: FileFacts, fn: FunctionFact) -> Tuple[str, str]:
    pkg = project.package_name.get(facts.path, "")
    return project.qualify(facts, fn.qualname), (f"{pkg}.{fn.qualname}" if pkg else fn.qualname)


def matches_option(project: Project, settings, facts: FileFacts, fn: FunctionFact) -> bool:
    if settings is None or not settings.dependency_functions:
        return False
    return settings.dependency_function(_names(project, facts, fn))


def is_dependency(project: Project, settings, facts: FileFacts, fn: FunctionFact) -> bool:
    """Is ``fn`` used as a FastAPI dependency in the project (or named by ``dependency-functions``)?"""
    if project.qualify(facts, fn.qualname) in dependency_uses(project):
        return True
    return matches_option(project, settings, facts, fn)


def dependency_scopes(project: Project, settings, facts: FileFacts, fn: FunctionFact, http_only: bool = False) -> Set[str]:
    """The scopes ("request", "function") the function is used with; {"request"} for a function
    marked only by ``dependency-functions``; empty when it is not a dependency. ``http_only``: leave
    out uses in websocket routes."""
    uses = dependency_uses(project).get(project.qualify(facts, fn.qualname), [])
    scopes = {u.scope for u in uses if not (http_only and u.websocket)}
    if not uses and matches_option(project, settings, facts, fn):
        scopes = {"request"}
    return scopes


def _annotated_dependency(
    project: Project, facts: FileFacts, scope: str, ann: Optional[Expr], depth: int = 0
) -> Optional[Tuple[FileFacts, str, Expr, Expr]]:
    """For ``Annotated[T, Depends(f)]`` (directly or through an alias): (facts, scope, T, the call)."""
    if ann is None or depth > _MAX_DEPTH:
        return None
    if ann.kind == "sub" and ann.args and project.symbol(facts, scope, ann.value) == "Annotated":
        for extra in ann.args[1:]:
            if depends_symbol(project, facts, scope, extra):
                return facts, scope, ann.args[0], extra
        return None
    if ann.kind == "name":
        for f, b in project.bindings(project.resolve_name(facts, scope, ann.value)):
            found = _annotated_dependency(project, f, b.scope, b.value, depth + 1)
            if found is not None:
                return found
    return None


@memoized(key=lambda facts, fn, param: (facts.path, fn.qualname, param.name), guard=none)
def dependency_of_param(
    project: Project, facts: FileFacts, fn: FunctionFact, param: Param
) -> Optional[Tuple[FileFacts, FunctionFact, str]]:
    """The dependency function an endpoint's (or dependency's) parameter receives its value from,
    with the scope ("request" / "function"): ``x = Depends(f)``, ``x: Annotated[T, Depends(f)]``,
    ``x: SessionDep``. None when the parameter is not a dependency or its function is unknown."""
    result = None
    where: Optional[Tuple[FileFacts, str, Optional[Expr], Expr]] = None
    if depends_symbol(project, facts, fn.qualname, param.default):
        where = (facts, fn.qualname, param.annotation, param.default)  # type: ignore[assignment]
    else:
        found = _annotated_dependency(project, facts, fn.scope, param.annotation)
        if found is not None:
            where = found
    if where is not None:
        f, scope, typ, call = where
        target = _dep_call_target(call)
        if target is None:
            target = typ  # ``Depends()``: the annotated class itself
            if target is not None and target.kind == "sub":
                inner = _annotated_dependency(project, f, scope, target)
                target = inner[2] if inner else None
        targets = resolve_callable(project, f, scope, target)
        if targets:
            tf, tfn = targets[0]
            result = (tf, tfn, _call_scope(project, f, scope, call))
    return result


# ---------------------------------------------------------------------------------------------
# what FastAPI sees of a decorated dependency

# FastAPI unwraps ``functools.wraps`` wrappers (``inspect.unwrap``) to decide whether a dependency
# is a generator from this release on; before it, it calls the wrapper and injects what it returns
UNWRAPS_FROM = "0.123.5"
_TRANSPARENT_DECORATORS = ("builtins.staticmethod", "builtins.classmethod")


def _returned_names(fn: FunctionFact) -> Optional[Set[str]]:
    """The names every return of ``fn`` hands back (None: it returns something else too, or nothing)."""
    if not fn.returns or fn.is_generator:
        return None
    names = set()
    for r in fn.returns:
        if r is None or r.kind != "name":
            return None
        names.add(r.value)
    return names


def _decorator_fact(project: Project, facts: FileFacts, scope: str, deco: Expr) -> Optional[Tuple[FileFacts, FunctionFact]]:
    """The project function a decorator expression applies: ``@deco`` itself, or for
    ``@factory(...)`` the one nested function the factory returns (None: unknown)."""
    if deco.kind != "call":
        return project.function(project.resolve(facts, scope, deco))
    factory = project.function(project.resolve(facts, scope, deco.value))
    if factory is None:
        return None
    ff, fact = factory
    names = _returned_names(fact)
    if names is None or len(names) != 1:
        return None
    found = ff.functions.get(f"{fact.qualname}.{names.pop()}")
    return (ff, found) if found is not None else None


def _decorator_kind(project: Project, facts: FileFacts, scope: str, deco: Expr) -> Optional[str]:
    """"same": the decorator hands back what it decorates (``return fn``, a registry);
    "wraps": it returns a plain (not async, not generator) nested function decorated with
    ``functools.wraps(<what it decorates>)``; None: anything else."""
    if project.resolve(facts, scope, deco) in _TRANSPARENT_DECORATORS:
        return "same"
    found = _decorator_fact(project, facts, scope, deco)
    if found is None:
        return None
    df, dfn = found
    passed = dfn.passed_positional
    names = _returned_names(dfn)
    if not passed or names is None:
        return None
    wrapped = passed[0]
    if names == {wrapped}:
        return "same"
    if len(names) != 1:
        return None
    inner = df.functions.get(f"{dfn.qualname}.{next(iter(names))}")
    if inner is None or inner.is_async or inner.is_generator:
        return None
    for d in inner.decorators:
        if (
            d.kind == "call"
            and project.resolve(df, inner.scope, d.value) == "functools.wraps"
            and len(d.args) == 1
            and d.args[0].kind == "name"
            and d.args[0].value == wrapped
        ):
            return "wraps"
    return None


def seen_as_generator_from(project: Project, facts: FileFacts, fn: FunctionFact) -> Optional[str]:
    """For a generator function handed to ``Depends``: the FastAPI specifier of the releases that
    treat it as a dependency with yield. ``""``: every release (no decorator, or only decorators
    that hand it back: ``staticmethod``, ``classmethod``, a registry's ``return fn``);
    ``">=0.123.5"``: behind decorators that wrap it with ``functools.wraps`` (older releases call
    the wrapper and inject the generator object: no setup, no cleanup); None: another decorator,
    which may turn it into anything (``@contextmanager``, a cache): left alone."""
    since = ""
    for d in fn.decorators:
        kind = _decorator_kind(project, facts, fn.scope, d)
        if kind is None:
            return None
        if kind == "wraps":
            since = f">={UNWRAPS_FROM}"
    return since


def wants_generator_file(rule, project: Project, path: str, present, settings=None) -> bool:
    """Prefilter for the dependency rules: a file not yet parsed can only be reported when it holds
    a generator (``yield``) and either a function the project uses as a dependency or the
    ``dependency-functions`` option may name one of its functions. (A module that holds a
    dependency is normally parsed already: resolving ``Depends(f)`` loads it.)"""
    if b"yield" not in present:
        return False
    if settings is not None and settings.dependency_functions:
        return True
    module = project.primary.get(path)
    if module is None:
        return True
    prefix = module + "."
    return any(q.startswith(prefix) for q in dependency_uses(project))
