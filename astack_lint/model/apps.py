"""Derived views of the project model about apps: middleware registrations, what an app serves.

Built from the generic facts (calls, bindings) through the project's name resolution; memoized on
the project (``memo.py``).
"""

from __future__ import annotations

from typing import Any, Dict, FrozenSet, List, NamedTuple, Optional, Set, Tuple

from .dependencies import dependency_of_param, depends_symbol, resolve_callable
from .facts import CallFact, Expr, FileFacts, FunctionFact, Param
from .memo import empty_dict, memoized
from .project import ObjRef, Project


class MiddlewareReg(NamedTuple):
    facts: FileFacts
    scope: str
    how: str  # "add_middleware" | "Middleware" | "wrap" (the class called on an app)
    call: Expr  # the call that registers it
    cls: Optional[Expr]  # the middleware class expression
    args: tuple  # positional arguments after the class (for "wrap": after the app)
    kwargs: tuple
    targets: Set[ObjRef]  # the apps it is registered on (empty when unknown)

    def arg(self, name: str, index: int) -> Optional[Expr]:
        """A middleware constructor argument by keyword, or by its position after ``app``."""
        value = None
        for k, v in self.kwargs:
            if k == name:
                value = v
        if value is None and 0 <= index < len(self.args) and self.args[index].kind != "star":
            value = self.args[index]
        return value


def _first(call: Expr, keyword: str) -> Tuple[Optional[Expr], tuple, tuple]:
    """The first argument (positional or by ``keyword``) and the rest of the arguments."""
    kwargs = tuple((k, v) for k, v in call.kwargs if k != keyword)
    if call.args and call.args[0].kind != "star":
        return call.args[0], call.args[1:], kwargs
    return call.kwarg(keyword), call.args, kwargs


@memoized()
def middleware_registrations(project: Project) -> List[MiddlewareReg]:
    regs: List[MiddlewareReg] = []
    for facts, c in project.calls_named("add_middleware"):
        callee = c.call.value
        if callee is None or callee.kind not in ("name", "attr"):
            continue
        receiver = _receiver(callee)
        cls, rest, kwargs = _first(c.call, "middleware_class")
        targets = project.objects(facts, c.scope, receiver) if receiver is not None else set()
        regs.append(MiddlewareReg(facts, c.scope, "add_middleware", c.call, cls, rest, kwargs, targets))
    for facts, c in project.calls_named("Middleware"):
        if project.callee_symbol(facts, c.scope, c.call) != "Middleware":
            continue
        cls, rest, kwargs = _first(c.call, "cls")
        regs.append(MiddlewareReg(facts, c.scope, "Middleware", c.call, cls, rest, kwargs, _list_owner(project, facts, c)))
    return regs


def _receiver(callee: Expr) -> Optional[Expr]:
    if callee.kind == "name" and "." in callee.value:
        return Expr("name", callee.value.rsplit(".", 1)[0], line=callee.line, col=callee.col)
    if callee.kind == "attr":
        return callee.value
    return None


def _list_owner(project: Project, facts: FileFacts, c: CallFact) -> Set[ObjRef]:
    """The apps whose ``middleware=[...]`` list holds this ``Middleware(...)`` call: the list
    written at the constructor, a name bound to one, or a list the code appends to or extends
    (value flow)."""
    out: Set[ObjRef] = set()
    for f, call in _constructor_calls(project):
        if f is not facts:
            continue
        mw = call.call.kwarg("middleware")
        if mw is not None and _contains(project, f, call.scope, mw, c.call):
            out |= project.objects(f, call.scope, call.call)
    site = (facts.path, c.call.line, c.call.col)
    return out | _middleware_lists(project).get(site, set())


@memoized()
def _middleware_lists(project: Project) -> Dict[Tuple[str, int, int], Set[ObjRef]]:
    """The site of every ``Middleware(...)`` allocation in an app's ``middleware=`` list -> those apps."""
    flow = project.flow()
    flow.solve()
    out: Dict[Tuple[str, int, int], Set[ObjRef]] = {}
    for o in range(len(flow.objs)):
        ref = flow.app_ref(o)
        if ref is None or ref.kind not in SERVING_KINDS:
            continue
        for x in flow.members(flow.fields(o, "middleware=")):
            ob = flow.objs[x]
            if ob.kind == "alloc" and flow.kind_of(x) == "Middleware":
                out.setdefault(ob.key[1:], set()).add(ref)
    return out


@memoized()
def _constructor_calls(project: Project) -> List[Tuple[FileFacts, CallFact]]:
    found = []
    for f, c in project.iter_calls():
        if c.call.kwarg("middleware") is not None or c.call.kwarg("routes") is not None:
            if project.objects(f, c.scope, c.call):
                found.append((f, c))
    return found


def _contains(project: Project, facts: FileFacts, scope: str, container: Expr, needle: Expr, depth: int = 0) -> bool:
    if depth > 6:
        return False
    if container == needle:
        return True
    if container.kind == "seq":
        return any(_contains(project, facts, scope, item, needle, depth + 1) for item in container.args)
    if container.kind == "star":
        return _contains(project, facts, scope, container.value, needle, depth + 1)
    if container.kind == "name":
        for f, b in project.bindings(project.resolve_name(facts, scope, container.value)):
            if _contains(project, f, b.scope, b.value, needle, depth + 1):
                return True
    return False


def seq_items(project: Project, facts: FileFacts, scope: str, expr: Optional[Expr], depth: int = 0):
    """The items of a list/tuple expression, following names bound to lists and ``*spread``.

    Yields (facts, scope, item)."""
    if expr is None or depth > 6:
        return
    if expr.kind == "seq":
        for item in expr.args:
            if item.kind == "star":
                yield from seq_items(project, facts, scope, item.value, depth + 1)
            else:
                yield facts, scope, item
    elif expr.kind == "name":
        for f, b in project.bindings(project.resolve_name(facts, scope, expr.value)):
            yield from seq_items(project, f, b.scope, b.value, depth + 1)


# ---------------------------------------------------------------------------------------------
# which app serves what: apps, the routers they include, their mounts, endpoints, middleware

HTTP_ROUTE_DECORATORS = ("get", "post", "put", "patch", "delete", "options", "head", "trace", "api_route", "route")
WS_ROUTE_DECORATORS = ("websocket", "websocket_route")
ROUTE_ADDERS = {
    "add_api_route": "http",
    "add_route": "http",
    "add_api_websocket_route": "websocket",
    "add_websocket_route": "websocket",
}
ROUTING_KINDS = ("FastAPI", "Starlette", "APIRouter", "Router", "FastAPI.router")
SERVING_KINDS = ("FastAPI", "Starlette")  # what can be served and carry middleware
_CTOR_NAMES = ("FastAPI", "Starlette", "APIRouter", "Router")


def node_of(ref: ObjRef) -> ObjRef:
    """An app's ``.router`` serves exactly what the app serves: one node for both."""
    return ObjRef("FastAPI", ref.key) if ref.kind == "FastAPI.router" else ref


class Endpoint(NamedTuple):
    facts: FileFacts
    fn: FunctionFact
    owner: ObjRef  # the app or router node it is registered on
    kind: str  # "http" | "websocket"
    line: int  # where it is registered
    col: int


class AppModel:
    """Apps and routers as nodes; ``children`` are included routers and mounted apps."""

    def __init__(self) -> None:
        self.ctors: Dict[ObjRef, Tuple[FileFacts, CallFact]] = {}
        self.children: Dict[ObjRef, Set[ObjRef]] = {}
        self.endpoints: Dict[ObjRef, List[Endpoint]] = {}
        self.middleware: Dict[ObjRef, List[MiddlewareReg]] = {}
        self._served: Dict[ObjRef, FrozenSet[ObjRef]] = {}
        self._serving: Optional[Dict[Tuple[str, str], Set[ObjRef]]] = None

    @property
    def apps(self) -> List[ObjRef]:
        nodes = set(self.ctors) | set(self.children) | set(self.endpoints) | set(self.middleware)
        return sorted((n for n in nodes if n.kind in SERVING_KINDS), key=repr)

    def served(self, node: ObjRef) -> FrozenSet[ObjRef]:
        """The node and every router or app it serves, transitively."""
        node = node_of(node)
        if node not in self._served:
            seen = {node}
            todo = [node]
            while todo:
                for child in self.children.get(todo.pop(), ()):
                    if child not in seen:
                        seen.add(child)
                        todo.append(child)
            self._served[node] = frozenset(seen)
        return self._served[node]

    def endpoints_served(self, app: ObjRef) -> List[Endpoint]:
        out: List[Endpoint] = []
        for n in self.served(app):
            out.extend(self.endpoints.get(n, ()))
        return sorted(out, key=lambda e: (e.facts.path, e.fn.line, e.line))

    def serving_apps(self, facts: FileFacts, fn: FunctionFact) -> Set[ObjRef]:
        """The apps (FastAPI/Starlette nodes, including apps mounted in others) serving ``fn`` as an
        HTTP endpoint."""
        if self._serving is None:
            table: Dict[Tuple[str, str], Set[ObjRef]] = {}
            for app in self.apps:
                for e in self.endpoints_served(app):
                    if e.kind == "http":
                        table.setdefault((e.facts.path, e.fn.qualname), set()).add(app)
            self._serving = table
        return self._serving.get((facts.path, fn.qualname), set())

    def all_endpoints(self) -> List[Endpoint]:
        out = [e for es in self.endpoints.values() for e in es]
        return sorted(out, key=lambda e: (e.facts.path, e.fn.line, e.line))


@memoized(guard=empty_dict)
def lifespan_aliases(project: Project) -> Dict[ObjRef, ObjRef]:
    """The first parameter of an app's lifespan function is that app: ``("param", lifespan, "app")``
    refs (which the project model gives a parameter nobody in the project calls) -> the app node."""
    out: Dict[ObjRef, ObjRef] = {}
    for f, c, o in app_constructors(project):
        lifespan = c.call.kwarg("lifespan")
        if lifespan is None or lifespan.kind == "const" or o.kind not in SERVING_KINDS:
            continue
        for lf, lfn in resolve_callable(project, f, c.scope, lifespan):
            firsts = [p for p in lfn.params if p.kind in ("posonly", "pos")]
            if firsts:
                ref_key = ("param", project.qualify(lf, lfn.qualname), firsts[0].name)
                for kind in SERVING_KINDS:
                    out.setdefault(ObjRef(kind, ref_key), node_of(o))
    return out


def canonical_node(project: Project, ref: ObjRef) -> ObjRef:
    node = node_of(ref)
    return lifespan_aliases(project).get(node, node)


def _nodes(project: Project, facts: FileFacts, scope: str, expr: Optional[Expr], kinds=ROUTING_KINDS) -> Set[ObjRef]:
    if expr is None:
        return set()
    return {canonical_node(project, o) for o in project.objects(facts, scope, expr) if o.kind in kinds}


def _callee_receiver(call: Expr) -> Tuple[Optional[str], Optional[Expr]]:
    """(method name, receiver) of ``recv.method(...)``."""
    callee = call.value
    if callee is None:
        return None, None
    if callee.kind == "name" and "." in callee.value:
        return callee.value.rsplit(".", 1)[1], _receiver(callee)
    if callee.kind == "attr":
        return callee.args[0], callee.value
    return None, None


def _arg(call: Expr, index: int, keyword: str) -> Optional[Expr]:
    value = call.kwarg(keyword)
    if value is None and 0 <= index < len(call.args) and call.args[index].kind != "star":
        value = call.args[index]
    return value


def _function_of(project: Project, facts: FileFacts, scope: str, expr: Optional[Expr]) -> Optional[Tuple[FileFacts, FunctionFact]]:
    if expr is None or expr.kind != "name":
        return None
    return project.function(project.resolve_name(facts, scope, expr.value))


def functions_of(project: Project, facts: FileFacts, scope: str, expr: Optional[Expr]) -> List[Tuple[FileFacts, FunctionFact]]:
    """The project functions calling ``expr`` runs, as the value flow knows them: a function, a
    bound or unbound method, a ``functools.partial`` of one, what a project decorator returns, a
    class's ``__init__``, an instance's ``__call__``."""
    if expr is None:
        return []
    flow = project.flow()
    return flow.callables(flow.objects(facts, scope, expr))


@memoized()
def app_constructors(project: Project) -> List[Tuple[FileFacts, CallFact, ObjRef]]:
    """Every call that constructs an app or router (FastAPI, Starlette, APIRouter, Router and
    project subclasses of them), with the object it makes."""
    names = set(_CTOR_NAMES)
    for f in project.files.values():
        for cls in f.classes.values():
            if project._constructed_kind(project.qualify(f, cls.qualname)):
                names.add(cls.name)
    found = []
    for name in sorted(names):
        for f, c in project.calls_named(name):
            for o in project.objects(f, c.scope, c.call):
                if o.key == (f.path, c.call.line, c.call.col):
                    found.append((f, c, o))
    return found


@memoized(seed=AppModel)  # cycle guard: the partial model while building
def app_model(project: Project, model: AppModel) -> AppModel:
    """Apps and routers, what they include and mount, their endpoints and middleware. Called as
    ``app_model(project)``: ``model`` is the memo's seed, filled here."""
    for f, c, o in app_constructors(project):
        model.ctors.setdefault(node_of(o), (f, c))

    def add_child(parents: Set[ObjRef], children: Set[ObjRef]) -> None:
        for p in parents:
            for ch in children:
                if ch != p:
                    model.children.setdefault(p, set()).add(ch)

    registered: Set[Tuple[ObjRef, str, str, str]] = set()

    def add_endpoint(owners: Set[ObjRef], facts: Optional[FileFacts], fns: List[Tuple[FileFacts, FunctionFact]], kind: str,
                     at: Expr) -> None:
        for fn in fns:
            for o in owners:
                key = (o, fn[0].path, fn[1].qualname, kind)
                if key not in registered:  # a route both written in a routes= list and seen by the value flow
                    registered.add(key)
                    model.endpoints.setdefault(o, []).append(Endpoint(fn[0], fn[1], o, kind, at.line, at.col))

    # include_router / mount / host on an app or router
    for method in ("include_router", "mount", "host"):
        for f, c in project.calls_named(method):
            name, recv = _callee_receiver(c.call)
            if name != method or recv is None:
                continue
            parents = _nodes(project, f, c.scope, recv)
            if not parents:
                continue
            target = _arg(c.call, 0, "router") if method == "include_router" else _arg(c.call, 1, "app")
            add_child(parents, _nodes(project, f, c.scope, target))
    # routes=[...] of apps and routers: Route / Mount / Host items, *router.routes spreads
    for f, c, o in app_constructors(project):
        routes = c.call.kwarg("routes")
        if routes is not None:
            _route_items(project, model, f, c.scope, routes, {node_of(o)}, add_child, add_endpoint, 0)
    # decorators: @app.get(...), @router.websocket(...)
    for f in project.files.values():
        for c in f.calls:
            if c.decorates is None:
                continue
            name, recv = _callee_receiver(c.call)
            if name in HTTP_ROUTE_DECORATORS:
                kind = "http"
            elif name in WS_ROUTE_DECORATORS:
                kind = "websocket"
            else:
                continue
            fn = f.functions.get(c.decorates)
            if fn is None:
                continue
            owners = _nodes(project, f, c.scope, recv)
            add_endpoint(owners, f, [(f, fn)], kind, c.call)
    # app.add_api_route("/x", f), router.add_route("/x", f)
    for method, kind in ROUTE_ADDERS.items():
        for f, c in project.calls_named(method):
            name, recv = _callee_receiver(c.call)
            if name != method or recv is None:
                continue
            owners = _nodes(project, f, c.scope, recv)
            if owners:
                add_endpoint(owners, f, functions_of(project, f, c.scope, _arg(c.call, 1, "endpoint")), kind, c.call)
    _flow_routes(project, model, add_child, add_endpoint)
    for reg in app_middleware(project):
        for t in reg.targets:
            if t.kind in SERVING_KINDS or t.kind == "FastAPI.router":
                model.middleware.setdefault(canonical_node(project, t), []).append(reg)
    return model


def _flow_routes(project: Project, model: AppModel, add_child: Any, add_endpoint: Any) -> None:
    """What the value flow says the apps' and routers' route lists hold: ``routes=`` given to a
    constructor (a list built anywhere, a function's return value), and routes appended to a
    router's ``.routes``: ``Route`` (an endpoint), ``Mount`` / ``Host`` (a mounted app, its own
    routes), another router's ``.routes`` (that router)."""
    flow = project.flow()
    flow.solve()
    lists: List[Tuple[Set[ObjRef], int]] = []
    for o in range(len(flow.objs)):
        ob = flow.objs[o]
        ref = flow.app_ref(o)
        if ref is not None and ob.kind == "alloc":
            lists.append(({node_of(ref)}, o))
        elif ob.kind == "routes":
            owner = flow.app_ref(ob.key[0])
            if owner is not None:
                for x in flow.elements(o):
                    lists.append(({node_of(owner)}, -x - 1))  # an item appended to the router's .routes
    for owners, start in lists:
        todo = flow.members(flow.fields(start, "routes=") if start >= 0 else [-start - 1])
        seen: Set[int] = set()
        while todo:
            x = todo.pop()
            if x in seen:
                continue
            seen.add(x)
            ob = flow.objs[x]
            if ob.kind == "routes":
                child = flow.app_ref(ob.key[0])
                if child is not None:
                    add_child(owners, {node_of(child)})
            elif ob.kind == "alloc":
                kind = flow.kind_of(x)
                site = Expr("call", None, (), (), ob.key[2], ob.key[3])
                if kind in ("Mount", "Host"):
                    add_child(owners, {node_of(r) for r in (flow.app_ref(a) for a in flow.fields(x, "app=")) if r is not None})
                    todo.extend(flow.members(flow.fields(x, "routes=")))
                elif kind == "Route":
                    ws = ob.key[0].endswith("WebSocketRoute")
                    add_endpoint(owners, None, flow.callables(flow.fields(x, "endpoint=")), "websocket" if ws else "http", site)


def _route_items(project, model, facts, scope, expr, owners, add_child, add_endpoint, depth) -> None:
    if expr is None or depth > 6:
        return
    if expr.kind == "name":
        if expr.value.endswith(".routes"):
            add_child(owners, _nodes(project, facts, scope, Expr("name", expr.value[: -len(".routes")])))
            return
        for f, b in project.bindings(project.resolve_name(facts, scope, expr.value)):
            _route_items(project, model, f, b.scope, b.value, owners, add_child, add_endpoint, depth + 1)
        return
    if expr.kind == "attr" and expr.args == ("routes",):
        add_child(owners, _nodes(project, facts, scope, expr.value))
        return
    if expr.kind == "star":
        _route_items(project, model, facts, scope, expr.value, owners, add_child, add_endpoint, depth + 1)
        return
    if expr.kind == "seq":
        for item in expr.args:
            _route_items(project, model, facts, scope, item, owners, add_child, add_endpoint, depth + 1)
        return
    if expr.kind != "call":
        return
    sym = project.callee_symbol(facts, scope, expr)
    if sym in ("Mount", "Host"):
        add_child(owners, _nodes(project, facts, scope, _arg(expr, 1, "app")))
        _route_items(project, model, facts, scope, expr.kwarg("routes"), owners, add_child, add_endpoint, depth + 1)
    elif sym == "Route":
        qname = project.resolve(facts, scope, expr.value) or ""
        kind = "websocket" if qname.endswith("WebSocketRoute") else "http"
        add_endpoint(owners, facts, functions_of(project, facts, scope, _arg(expr, 1, "endpoint")), kind, expr)


@memoized()
def app_middleware(project: Project) -> List[MiddlewareReg]:
    """Every middleware registration, with the app it is on: ``middleware_registrations`` plus the
    ``http`` decorator (``@app.middleware("http")`` and ``app.middleware("http")(f)``, how="http")
    and a BaseHTTPMiddleware subclass wrapping an app (``Timing(app)``, how="wrap")."""
    regs: List[MiddlewareReg] = list(middleware_registrations(project))
    for f, c in project.calls_named("middleware"):
        name, recv = _callee_receiver(c.call)
        if name != "middleware" or recv is None:
            continue
        kind = _arg(c.call, 0, "middleware_type")
        if project.string_value(f, c.scope, kind) != "http":
            continue
        targets = {o for o in project.objects(f, c.scope, recv) if o.kind in SERVING_KINDS}
        if targets:
            regs.append(MiddlewareReg(f, c.scope, "http", c.call, None, (), (), targets))
    names = {"BaseHTTPMiddleware"}
    for f in project.files.values():
        for cls in f.classes.values():
            if cls.bases and project.subclasses_symbol(project.qualify(f, cls.qualname), ("BaseHTTPMiddleware",)):
                names.add(cls.name)
    for name in sorted(names):
        for f, c in project.calls_named(name):
            app = _arg(c.call, 0, "app")
            if app is None or not is_base_http_class(project, f, c.scope, c.call.value):
                continue
            targets = {o for o in project.objects(f, c.scope, app) if o.kind in SERVING_KINDS}
            if targets:
                regs.append(MiddlewareReg(f, c.scope, "wrap", c.call, c.call.value, c.call.args[1:], c.call.kwargs, targets))
    return regs


def is_base_http_class(project: Project, facts: FileFacts, scope: str, expr: Optional[Expr]) -> bool:
    """Is ``expr`` BaseHTTPMiddleware or a subclass of it (any depth, across files)?"""
    if expr is None:
        return False
    return project.subclasses_symbol(project.resolve(facts, scope, expr), ("BaseHTTPMiddleware",))


def is_base_http(project: Project, reg: MiddlewareReg) -> bool:
    """Does this registration put a BaseHTTPMiddleware in front of its app? The class is what the
    value flow says the argument may be (a name, a variable, a loop over classes); an
    ``@app.middleware("http")`` is one unless the app's ``middleware`` method was replaced (a
    project that patches it to register its own kind of middleware)."""
    if reg.how == "http":
        return not _middleware_method_replaced(project, reg)
    if is_base_http_class(project, reg.facts, reg.scope, reg.cls):
        return True
    return any(project.subclasses_symbol(q, ("BaseHTTPMiddleware",)) for q in middleware_classes(project, reg))


def middleware_classes(project: Project, reg: MiddlewareReg) -> List[str]:
    """The qualified names of the classes a registration's class argument may be (value flow)."""
    if reg.cls is None:
        return []
    flow = project.flow()
    out = set()
    for o in flow.objects(reg.facts, reg.scope, reg.cls):
        ob = flow.objs[o]
        if ob.kind in ("class", "sym"):
            out.add(ob.key[0])
    return sorted(out)


def _middleware_method_replaced(project: Project, reg: MiddlewareReg) -> bool:
    flow = project.flow()
    return any(flow.fields(o, "middleware") for t in reg.targets for o in flow.allocs_at(t.key))


def describe_middleware(project: Project, reg: MiddlewareReg) -> str:
    """A short human name for a registration: ``@app.middleware("http")``, ``add_middleware(Timing)``."""
    if reg.how == "http":
        callee = reg.call.value.value if reg.call.value is not None and reg.call.value.kind == "name" else "app.middleware"
        return f'{"@" if _decorates(reg) else ""}{callee}("http")'
    cls = reg.cls.value if reg.cls is not None and reg.cls.kind == "name" else "..."
    if reg.how == "add_middleware":
        return f"add_middleware({cls})"
    if reg.how == "Middleware":
        return f"Middleware({cls})"
    return f"{cls}(app)"


def _decorates(reg: MiddlewareReg) -> bool:
    for c in reg.facts.calls:
        if c.call == reg.call:
            return c.decorates is not None
    return False


# ---------------------------------------------------------------------------------------------
# annotations, dependencies, what an endpoint reaches

_WRAPPERS = ("Optional", "Union", "List", "list", "Sequence", "Iterable", "Tuple", "tuple", "Set", "set")


def annotation_symbols(
    project: Project, facts: FileFacts, scope: str, ann: Optional[Expr], _depth: int = 0, wrappers: bool = True
) -> Set[str]:
    """The framework symbols a parameter annotation names, looking through ``Annotated[T, ...]``
    (also a type alias bound to one), string annotations and, with ``wrappers``,
    ``Optional``/``Union``/``List[...]``."""
    if ann is None or _depth > 6:
        return set()
    if ann.kind == "str":
        text = ann.value.strip()
        if text.replace(".", "").replace("_", "").isalnum():
            return annotation_symbols(project, facts, scope, Expr("name", text), _depth + 1, wrappers)
        return set()
    if ann.kind == "name":
        sym = project.symbol(facts, scope, ann)
        if sym:
            return {sym}
        bound = project.bindings(project.resolve_name(facts, scope, ann.value))
        if len(bound) == 1 and bound[0][1].value.kind == "sub":  # an alias: X = Annotated[T, ...]
            f, b = bound[0]
            return annotation_symbols(project, f, b.scope, b.value, _depth + 1, wrappers)
        return set()
    if ann.kind == "sub" and ann.value is not None:
        base = project.resolve(facts, scope, ann.value) or ""
        if project.symbol(facts, scope, ann.value) == "Annotated":
            return annotation_symbols(project, facts, scope, ann.args[0], _depth + 1, wrappers) if ann.args else set()
        if wrappers and base.rsplit(".", 1)[-1] in _WRAPPERS and base.startswith(("typing.", "builtins.", "collections.abc.")):
            out: Set[str] = set()
            for a in ann.args:
                out |= annotation_symbols(project, facts, scope, a, _depth + 1, wrappers)
            return out
    return set()


# FastAPI injects these only for the bare class (or Annotated[Class, ...]), not Optional[Class]
_INJECTED_EXACTLY = ("BackgroundTasks", "Request", "WebSocket")


def param_has_type(project: Project, facts: FileFacts, fn: FunctionFact, prm: Param, symbol: str) -> bool:
    wrappers = symbol not in _INJECTED_EXACTLY
    if symbol in annotation_symbols(project, facts, fn.scope, prm.annotation, wrappers=wrappers):
        return True
    if symbol == "BackgroundTasks":
        # FastAPI injects a BackgroundTasks for any subclass annotation too (lenient_issubclass; seen
        # in langflow-base: LimitVertexBuildBackgroundTasks)
        return _project_subclass(project, facts, fn.scope, prm.annotation, symbol)
    return False


def _project_subclass(project: Project, facts: FileFacts, scope: str, ann: Optional[Expr], symbol: str) -> bool:
    """Is the annotation (bare, or ``Annotated[X, ...]``) a project class deriving from ``symbol``?"""
    if ann is not None and ann.kind == "sub" and ann.value is not None and ann.args:
        if project.symbol(facts, scope, ann.value) == "Annotated":
            ann = ann.args[0]
    if ann is None or ann.kind != "name":
        return False
    qname = project.resolve(facts, scope, ann)
    return project.klass(qname) is not None and project.subclasses_symbol(qname, (symbol,))


def param_of(project: Project, facts: FileFacts, scope: str, dotted: str) -> Optional[Tuple[FileFacts, FunctionFact, Param]]:
    """The parameter a (dotted name's first part) used in ``scope`` refers to, if it is one."""
    head = dotted.split(".", 1)[0]
    return project.param(project.resolve_name(facts, scope, head))


def dependencies_of(project: Project, facts: FileFacts, fn: FunctionFact) -> List[Tuple[FileFacts, FunctionFact]]:
    """The functions FastAPI runs as dependencies of ``fn`` through its parameters (see dependencies.py)."""
    out = []
    for prm in fn.params:
        dep = dependency_of_param(project, facts, fn, prm)
        if dep is not None:
            out.append((dep[0], dep[1]))
    return out


def _decorator_dependencies(project: Project, facts: FileFacts, fn: FunctionFact) -> List[Tuple[FileFacts, FunctionFact]]:
    """``dependencies=[Depends(f)]`` on the route decorators of ``fn``."""
    out: List[Tuple[FileFacts, FunctionFact]] = []
    for c in facts.calls:
        if c.decorates != fn.qualname:
            continue
        for f, s, item in seq_items(project, facts, c.scope, c.call.kwarg("dependencies")):
            if depends_symbol(project, f, s, item) and item.args:
                out.extend(resolve_callable(project, f, s, _arg(item, 0, "dependency")))
    return out


@memoized(key=lambda facts, fn: (facts.path, fn.qualname))
def calls_within(project: Project, facts: FileFacts, fn: FunctionFact) -> List[CallFact]:
    """The calls in ``fn``'s body, nested functions included."""
    prefix = fn.qualname + "."
    return [c for c in facts.calls if (c.scope == fn.qualname or c.scope.startswith(prefix)) and c.decorates != fn.qualname]


class Reached(NamedTuple):
    facts: FileFacts
    fn: FunctionFact
    how: str  # "endpoint" | "dependency" | "call"


@memoized(key=lambda facts, fn, max_depth=4: (facts.path, fn.qualname, max_depth))
def reached_from(project: Project, facts: FileFacts, fn: FunctionFact, max_depth: int = 4) -> List[Reached]:
    """``fn`` (an endpoint) and the project functions a request to it runs: its dependencies
    (transitively: FastAPI runs them) and the functions they call by name, up to ``max_depth``
    calls deep. A function reached by a call does not run its ``Depends`` defaults."""
    out = [Reached(facts, fn, "endpoint")]
    seen = {(facts.path, fn.qualname)}
    todo = [(facts, fn, True, 0)]  # (facts, function, run by FastAPI, call depth)
    while todo and len(out) < 400:
        f, g, by_fastapi, depth = todo.pop(0)
        found = []
        if by_fastapi:
            deps = dependencies_of(project, f, g)
            if g is fn:
                deps = deps + _decorator_dependencies(project, f, g)
            found = [(d, "dependency") for d in deps]
        if depth < max_depth:
            for c in calls_within(project, f, g):
                for target in functions_of(project, f, c.scope, c.call.value):
                    found.append((target, "call"))
        for (tf, tfn), how in found:
            if (tf.path, tfn.qualname) not in seen:
                seen.add((tf.path, tfn.qualname))
                out.append(Reached(tf, tfn, how))
                todo.append((tf, tfn, how == "dependency", depth + (how == "call")))
    return out


# ---------------------------------------------------------------------------------------------
# background tasks


class TaskUse(NamedTuple):
    """One place that schedules a background task for the response."""

    facts: FileFacts
    scope: str
    how: str  # "add_task" (on an injected BackgroundTasks) | "background=" | ".background ="
    line: int
    col: int
    receiver: Optional[Tuple[FileFacts, FunctionFact, Param]]  # the injected BackgroundTasks parameter
    call: Optional[Expr]  # add_task(...) call, or the response call that gets background=
    # the parameters FastAPI injects the BackgroundTasks into that reach this use (value flow)
    origins: Tuple[Tuple[FileFacts, FunctionFact, Param], ...] = ()


def task_origins(project: Project, facts: FileFacts, scope: str, expr: Optional[Expr]) -> Tuple[bool, Tuple[Tuple[FileFacts, FunctionFact, Param], ...]]:
    """Whether ``expr`` may hold a BackgroundTask / BackgroundTasks (value flow), and the
    parameters whose injected BackgroundTasks it may be."""
    if expr is None:
        return False, ()
    flow = project.flow()
    task = False
    origins: Dict[str, Tuple[FileFacts, FunctionFact, Param]] = {}
    for o in flow.objects(facts, scope, expr):
        kind = flow.kind_of(o)
        if kind not in ("BackgroundTask", "BackgroundTasks"):
            continue
        task = True
        ob = flow.objs[o]
        if ob.kind == "injected":
            q = f"{ob.key[1]}.{ob.key[2]}"
            prm = project.param(q)
            if prm is not None:
                origins[q] = prm
    return task, tuple(origins[q] for q in sorted(origins))


def injected_tasks_param(project: Project, facts: FileFacts, scope: str, expr: Optional[Expr]):
    """The ``BackgroundTasks``-typed parameter a name denotes, if it does."""
    if expr is None or expr.kind != "name" or "." in expr.value:
        return None
    prm = param_of(project, facts, scope, expr.value)
    if prm is not None and param_has_type(project, *prm, "BackgroundTasks"):
        return prm
    return None


def is_task_value(project: Project, facts: FileFacts, scope: str, expr: Optional[Expr], _depth: int = 0) -> bool:
    """Does ``expr`` hold a BackgroundTask/BackgroundTasks (a construction, a name bound to one, or the
    injected BackgroundTasks)?"""
    if expr is None or _depth > 4:
        return False
    if expr.kind == "call":
        return project.callee_symbol(facts, scope, expr) in ("BackgroundTask", "BackgroundTasks")
    if expr.kind == "name":
        if injected_tasks_param(project, facts, scope, expr) is not None:
            return True
        bound = project.bindings(project.resolve_name(facts, scope, expr.value))
        return bool(bound) and all(is_task_value(project, f, b.scope, b.value, _depth + 1) for f, b in bound)
    return False


def is_response_call(project: Project, facts: FileFacts, scope: str, expr: Optional[Expr]) -> bool:
    """A call constructing a Response class (FastAPI's, Starlette's, or a project subclass)."""
    if expr is None or expr.kind != "call":
        return False
    return project.subclasses_symbol(project.resolve(facts, scope, expr.value), ("Response", "StreamingResponse"))


@memoized()
def task_uses(project: Project) -> List[TaskUse]:
    """Every place in the project that schedules a background task for a response: ``add_task`` on
    an injected ``BackgroundTasks`` parameter, a response constructed with ``background=`` a task,
    ``resp.background = task`` on a response the code constructed."""
    uses: List[TaskUse] = []
    for f, c in project.calls_named("add_task"):
        name, recv = _callee_receiver(c.call)
        if name != "add_task":
            continue
        prm = injected_tasks_param(project, f, c.scope, recv)
        _task, origins = task_origins(project, f, c.scope, recv)
        if prm is None and origins:
            prm = next((o for o in origins if o[1].qualname == c.scope), origins[0])
        if prm is not None:
            uses.append(TaskUse(f, c.scope, "add_task", c.call.line, c.call.col, prm, c.call, origins))
    for f in project.files.values():
        for c in f.calls:
            bg = c.call.kwarg("background")
            if bg is None or bg.kind == "const":
                continue
            if not is_response_call(project, f, c.scope, c.call):
                continue
            task, origins = task_origins(project, f, c.scope, bg)
            if task or is_task_value(project, f, c.scope, bg):
                uses.append(TaskUse(f, c.scope, "background=", c.call.line, c.call.col, injected_tasks_param(project, f, c.scope, bg),
                                    c.call, origins))
        for b in f.bindings:
            if not b.name.endswith(".background") or b.name.count(".") != 1:
                continue
            recv = b.name.split(".", 1)[0]
            bound = project.bindings(project.resolve_name(f, b.scope, recv))
            if bound and all(is_response_call(project, bf, bb.scope, bb.value) for bf, bb in bound):
                if is_task_value(project, f, b.scope, b.value):
                    uses.append(TaskUse(f, b.scope, ".background =", b.line, b.col, injected_tasks_param(project, f, b.scope, b.value), None))
    uses.sort(key=lambda u: (u.facts.path, u.line, u.col))
    return uses


def enclosing_function(facts: FileFacts, scope: str) -> Optional[FunctionFact]:
    """The outermost function whose body holds ``scope`` (a nested function belongs to it)."""
    parts = scope.split(".") if scope else []
    for i in range(1, len(parts) + 1):
        fn = facts.functions.get(".".join(parts[:i]))
        if fn is not None:
            return fn
    return None


@memoized()
def endpoints_reaching(project: Project) -> Dict[Tuple[str, str], List[Tuple[Endpoint, Reached]]]:
    """(path, function qualname) -> the HTTP endpoints that run that function (itself, as a
    dependency, or by calling it)."""
    table: Dict[Tuple[str, str], List[Tuple[Endpoint, Reached]]] = {}
    present: Dict[Tuple[str, str], Set[int]] = {}  # ids of the endpoint functions in each entry
    for e in app_model(project).all_endpoints():
        if e.kind != "http":
            continue
        for r in reached_from(project, e.facts, e.fn):
            k = (r.facts.path, r.fn.qualname)
            ids = present.setdefault(k, set())
            if id(e.fn) not in ids:
                ids.add(id(e.fn))
                table.setdefault(k, []).append((e, r))
    return table


def task_endpoints(project: Project, use: TaskUse) -> List[Tuple[Endpoint, Reached]]:
    """The HTTP endpoints whose request schedules this task: those that run the code where it is
    scheduled, those whose injected BackgroundTasks reaches it (value flow: passed on to helpers
    and services), and those that return the response it is attached to."""
    out = list(endpoints_running(project, use.facts, use.scope))
    for f, fn, _prm in use.origins:
        out.extend(endpoints_running(project, f, fn.qualname))
    if use.how == "background=" and use.call is not None:
        flow = project.flow()
        site = (use.facts.path, use.call.line, use.call.col)
        for e in app_model(project).all_endpoints():
            if e.kind != "http":
                continue
            for o in flow.returns(project.qualify(e.facts, e.fn.qualname)):
                ob = flow.objs[o]
                if ob.kind == "alloc" and ob.key[1:] == site:
                    out.extend(endpoints_running(project, e.facts, e.fn.qualname))
                    break
    seen: Set[int] = set()
    unique = []
    for item in out:
        if id(item[0].fn) not in seen:
            seen.add(id(item[0].fn))
            unique.append(item)
    return unique


def endpoints_running(project: Project, facts: FileFacts, scope: str) -> List[Tuple[Endpoint, Reached]]:
    """The HTTP endpoints that run code in ``scope`` (in the function, or a function nested in it)."""
    table = endpoints_reaching(project)
    parts = scope.split(".") if scope else []
    out: List[Tuple[Endpoint, Reached]] = []
    ids: Set[int] = set()
    for i in range(len(parts), 0, -1):
        q = ".".join(parts[:i])
        if q in facts.functions:
            for item in table.get((facts.path, q), ()):
                if id(item[0].fn) not in ids:
                    ids.add(id(item[0].fn))
                    out.append(item)
    return out
