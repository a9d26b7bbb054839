"""Value flow: what each expression of the project may hold, and what each call may reach.

One flow-insensitive, context-insensitive inclusion (Andersen-style) analysis over the core facts
of the whole project, solved once per project with a worklist to a fixed point. Rules and the app
model ask it instead of following hand-written shapes:

- ``objects(facts, scope, expr)``: the abstract objects an expression may hold;
- ``callees(facts, call)``: the project functions a call may reach;
- ``events``: every call of a framework method on a framework object (``app.include_router(r)``,
  ``router.add_api_route(path, f)``, ``app.add_middleware(X)``, ``tasks.add_task(f)``, the route
  and ``middleware("http")`` decorators), with the objects its arguments may hold.

Abstract objects (``Obj``): an allocation (a class called at a call site: project classes and the
framework's, with the constructor arguments the framework keeps as fields), a project function, a
project class, a bound method, an unbound method, a framework name (``Sym``), a method or decorator
of a framework object, a value FastAPI injects into an endpoint's or a dependency's parameter
(``BackgroundTasks``, ``Request``, ...), a container (list, tuple, set, dict literal), ``Annotated``.

What flows: assignments; attribute stores and loads (``self.x`` is one field of every instance of
the class, stores from outside too), class attributes and methods through the project's bases;
parameters and returns across files, defaults included; ``*`` unpacking stops it; containers (their
items, ``for`` loops and comprehensions over them (a name target: ``for a, b in`` binds nothing),
subscripts, ``append``/``extend``/``insert``, ``list(x)``, ``sorted(x)`` and the like); ``functools.partial``
(the callable it wraps); decorators that are project functions (what they return; the framework's
route decorators return the function); ``await``; classes called (``__init__``), instances called
(``__call__``); ``lifespan=`` (FastAPI calls it with the app); ``Depends(f)`` (the parameter
holds what calling ``f`` returns). Names from outside the project are ``Sym`` objects, what their
calls return is unknown and stays out of every set: a rule is silent where the sets are empty.

What keeps it small on the largest trees, where payload dicts, requests and value objects are
handed through every helper: a literal with items is an object only once one of them holds an
object (``[1, 2]`` is nothing; an empty one is an object when it is assigned, to receive items);
every endpoint's ``Request`` / ``WebSocket`` is one object (``BackgroundTasks``, ``Response`` and
``UploadFile`` stay the parameter's own); a project class has its own object per call site for its
first ``MAX_SITES`` sites, one for the rest; a node holding more than ``MAX_LITERALS`` containers
holds one standing for the rest, whose items are all of theirs (reading it gives the same).

The solver has a budget (``MAX_STEPS`` propagations per project): beyond it the sets are partial
and ``truncated`` says so. Everything is deterministic (files, facts and objects in a fixed order).
"""

from __future__ import annotations

import re
from typing import Any, Callable, Dict, Iterable, List, NamedTuple, Optional, Set, Tuple

from .facts import CallFact, Expr, FileFacts, FunctionFact, comp_scope
from .symbols import symbol_of

MAX_STEPS = 2_000_000  # propagations of one object to one node; ordinary projects need a few 10,000
# the instances of a project class (not the framework's) made at its first few call sites are told
# apart; beyond them, one object stands for the rest
MAX_SITES = 8
# containers (list, tuple, dict literals) one node holds before one container stands for the rest
MAX_LITERALS = 16
# files parsed because they call, by name, a project function whose parameter feeds a framework call
MAX_CALLER_FILES = 50

# the framework's classes whose instances the analysis follows, by symbol id (symbols.py)
APP_SYMBOLS = ("FastAPI", "Starlette", "APIRouter", "Router")
# framework methods: calling one of these on a framework object is an event
FRAMEWORK_METHODS = frozenset(
    {
        # apps and routers
        "include_router", "mount", "host", "add_middleware", "middleware", "add_api_route", "add_route",
        "add_api_websocket_route", "add_websocket_route", "api_route", "route", "websocket", "websocket_route",
        "get", "post", "put", "patch", "delete", "options", "head", "trace", "on_event", "add_event_handler",
        "exception_handler", "add_exception_handler", "build_middleware_stack",
        # background tasks
        "add_task",
    }
)
# framework methods that return a decorator: ``@app.get("/")``, ``@app.middleware("http")``
DECORATOR_METHODS = frozenset(
    {"api_route", "route", "websocket", "websocket_route", "get", "post", "put", "patch", "delete", "options",
     "head", "trace", "middleware", "on_event", "exception_handler"}
)
# what FastAPI injects into a parameter annotated with the class (or Annotated[class, ...])
INJECTED = ("BackgroundTasks", "Request", "Response", "UploadFile", "WebSocket")
# those whose object is the parameter's own (which endpoint's tasks, response, upload it is)
_INJECTED_PER_PARAM = ("BackgroundTasks", "Response", "UploadFile")
# container methods that store their arguments as items
_STORE_METHODS = {"append": (0,), "add": (0,), "insert": (1,), "appendleft": (0,), "setdefault": (1,)}
_EXTEND_METHODS = frozenset({"extend", "update"})
# container methods whose result holds the same items
_VIEW_METHODS = frozenset({"values", "copy", "keys", "pop", "popleft", "get"})
# builtins whose result holds the items of their one argument
_COPIES = frozenset({"list", "tuple", "set", "frozenset", "sorted", "reversed"})
_PARTIALS = frozenset({"functools.partial", "functools.partialmethod"})
_MAX_SYM_PARTS = 8  # a name from outside the project, and attributes of it, up to this many dots
_CONTAINER_METHODS = frozenset(_STORE_METHODS) | _EXTEND_METHODS | _VIEW_METHODS | {"items"}
# the last names of the framework's classes and helpers a call may construct or use
_CALLED_SYMBOL_TAILS = frozenset(
    {"FastAPI", "Starlette", "APIRouter", "Router", "Mount", "Route", "WebSocketRoute", "Host", "Middleware",
     "Depends", "Security", "BackgroundTasks", "BackgroundTask", "partial", "partialmethod", "Response",
     "JSONResponse", "HTMLResponse", "PlainTextResponse", "RedirectResponse", "StreamingResponse", "FileResponse",
     "ORJSONResponse", "UJSONResponse", "EventSourceResponse", "BaseHTTPMiddleware", "AsyncExitStackMiddleware"}
)


class Obj(NamedTuple):
    """An abstract object. ``kind``: "alloc", "func", "class", "bound", "unbound", "sym", "fwmethod",
    "fwdeco", "injected", "seq", "annotated", "routes", "module" (a project module used as a value);
    ``key`` depends on the kind (see ``describe``)."""

    kind: str
    key: tuple


class Event(NamedTuple):
    """A framework method called on a framework object (``recv``), or a decorator it returned
    applied (``method`` "@get", "@middleware", ...)."""

    recv: int  # object id of the app, router, BackgroundTasks, ...
    method: str
    facts: FileFacts
    scope: str
    call: Expr
    args: Tuple[int, ...]  # node ids of the positional arguments (a ``*x`` argument ends them)
    kwargs: Tuple[Tuple[str, int], ...]  # node ids of the keyword arguments
    deco_args: Tuple[Any, ...] = ()  # for "@..." events: the decorator call's own Expr arguments
    decorates: Optional[str] = None  # the qualname of the function a decorator call decorates


class ValueFlow:
    """The solved value flow of one project (``Project.flow()``)."""

    def __init__(self, project: Any) -> None:
        self.project = project
        self.objs: List[Obj] = []
        self._obj_ids: Dict[Obj, int] = {}
        # nodes are numbers; only those that hold objects, have successors or handlers take room
        self._nodes = 0
        self.pts: Dict[int, Set[int]] = {}
        self._succ: Dict[int, Set[int]] = {}
        self._handlers: Dict[int, List[Callable[[Iterable[int]], None]]] = {}
        self._node_ids: Dict[Any, int] = {}
        self._pending: Dict[int, Set[int]] = {}
        self._queue: List[int] = []
        self.steps = 0
        self.truncated = False
        self.events: List[Event] = []
        self.call_edges: Dict[Tuple[str, str], Set[str]] = {}  # (path, scope) -> function qnames it calls
        self._calls: Dict[Tuple[str, int, int, int], int] = {}  # call key -> result node
        self._done_files: Set[str] = set()
        self._injected_done: Set[str] = set()
        self._mro_memo: Dict[str, Tuple[str, ...]] = {}
        self._alloc_sites: Dict[str, Set[Tuple[str, int, int]]] = {}  # project class -> its first sites
        self._seqs: Set[int] = set()  # the container objects (literals, ``*args``, summaries)
        self._seq_count: Dict[int, int] = {}  # node -> how many containers it holds
        self._summary_items: Dict[int, int] = {}  # items node of a summary container -> the summary
        self._dict_keys: Dict[int, Set[str]] = {}  # dict literal object -> its string keys
        self._callers_done = False
        self._fw_kind_memo: Dict[str, Optional[str]] = {}
        self._deco_sites: Dict[int, Tuple[FileFacts, str, Expr]] = {}  # fwdeco object -> its decorator call
        # names of project modules not parsed yet: path -> [(qualified name, node)], and node -> path
        self._deferred: Dict[str, List[Tuple[str, int]]] = {}
        self._deferred_nodes: Dict[int, str] = {}
        self._load_tried: Set[str] = set()
        self.loaded: List[str] = []  # modules parsed because a followed value flowed into them
        self._signatures: Dict[str, Tuple[List[str], Optional[str], Optional[str], Set[str]]] = {}
        self._known_names: Set[str] = set()
        self._skipped: Dict[str, List[Tuple[FileFacts, CallFact]]] = {}
        self.EMPTY = self._new_node(("empty",))  # the value of what holds nothing known: never written to
        self.SINK = self._new_node(("sink",))  # where a discarded result would go: never read

    # -- objects and nodes ---------------------------------------------------------------------
    def obj(self, kind: str, *key: Any) -> int:
        o = Obj(kind, key)
        i = self._obj_ids.get(o)
        if i is None:
            i = self._obj_ids[o] = len(self.objs)
            self.objs.append(o)
            if kind == "seq":
                self._seqs.add(i)
        return i

    def _new_node(self, key: Any) -> int:
        i = self._nodes
        self._nodes += 1
        self._node_ids[key] = i
        return i

    def node(self, key: Any) -> int:
        i = self._node_ids.get(key)
        return i if i is not None else self._new_node(key)

    def _add(self, node: int, objs: Iterable[int]) -> None:
        have = self.pts.get(node)
        if have is None:
            new = list(dict.fromkeys(objs))
        else:
            new = [o for o in objs if o not in have]
        if not new:
            return
        seqs = self._seqs
        if seqs:
            literals = [o for o in new if o in seqs]
            if literals:
                new = self._bounded(node, new, literals, have)
                if not new:
                    return
        if have is None:
            self.pts[node] = set(new)
        else:
            have.update(new)
        pend = self._pending.get(node)
        if pend is None:
            self._pending[node] = set(new)
            self._queue.append(node)
        else:
            pend.update(new)

    def _bounded(self, node: int, new: List[int], literals: List[int], have: Optional[Set[int]]) -> List[int]:
        """Past ``MAX_LITERALS`` containers in one node (payload dicts handed through every helper
        of a project), the node holds one container standing for the rest, whose items are all of
        theirs: what reading the node gives is the same, at a fraction of the cost."""
        count = self._seq_count.get(node, 0) + len(literals)
        if count <= MAX_LITERALS:
            self._seq_count[node] = count
            return new
        summary = self._summary_items.get(node)  # the items of a summary: it stands for them itself
        if summary is None:
            summary = self.obj("seq", "<containers>", node, 0, "seq")
        items = self.node(("elem", summary))
        self._summary_items[items] = summary
        for o in literals:
            if o != summary:
                self._edge(self.node(("elem", o)), items)
        out = [o for o in new if o not in self._seqs]
        if have is None or summary not in have:
            out.append(summary)
        return out

    def _edge(self, src: int, dst: int) -> None:
        if dst == src or src == self.EMPTY:
            return
        succ = self._succ.get(src)
        if succ is None:
            succ = self._succ[src] = set()
        elif dst in succ:
            return
        succ.add(dst)
        have = self.pts.get(src)
        if have:
            self._add(dst, list(have))

    def _on(self, node: int, handler: Callable[[Iterable[int]], None]) -> None:
        if node == self.EMPTY:
            return
        self._handlers.setdefault(node, []).append(handler)
        have = self.pts.get(node)
        if have:
            pending = self._pending.get(node)  # those reach the handler with the node's delta
            handler([o for o in have if pending is None or o not in pending])

    def solve(self) -> None:
        """Propagate to the fixed point (or the budget); files name resolution loaded meanwhile
        are added as they appear. Names are resolved against the files already parsed: a module
        is parsed only when a value the analysis follows flows into a call of one of its names."""
        project = self.project
        was = project.offline
        project.offline = True
        try:
            self._solve()
        finally:
            project.offline = was

    def _solve(self) -> None:
        while True:
            while self._queue:
                if self.steps > MAX_STEPS:
                    self.truncated = True
                    self._queue.clear()
                    self._pending.clear()
                    return
                n = self._queue.pop()
                delta = self._pending.pop(n, None)
                if not delta:
                    continue
                self.steps += len(delta)
                succ = self._succ.get(n)
                if succ:
                    for s in list(succ):
                        self._add(s, delta)
                handlers = self._handlers.get(n)
                if handlers:
                    for h in list(handlers):
                        h(delta)
            if not self._add_new_files() and not self._load_callers():
                return

    def _load_callers(self) -> bool:
        """Once, at the first fixed point: a framework call whose argument holds nothing because
        it comes from a parameter of a project function no parsed file calls (``R2RApp(**routers)``
        in a builder module that never names the framework) parses the project files that call
        that function by name (at most ``MAX_CALLER_FILES``). True: files were added."""
        if self._callers_done:
            return False
        self._callers_done = True
        project = self.project
        rev: Dict[int, List[int]] = {}
        for src, dsts in self._succ.items():
            for d in dsts:
                rev.setdefault(d, []).append(src)
        var_keys = {v: k for k, v in self._node_ids.items() if k[0] == "var"}
        names: Set[str] = set()

        def wanted(fact: FunctionFact) -> None:
            if not fact.params:
                return
            name = fact.class_qualname if fact.name == "__init__" and fact.class_qualname else fact.name
            name = name.rpartition(".")[2]
            if len(name) >= 3 and not name.startswith("__"):
                names.add(name)

        todo = []
        for e in self.events:
            empty = [a for a in e.args + tuple(n for _k, n in e.kwargs) if a >= 0 and not self.pts.get(a)]
            if empty:
                todo.extend(empty)
                fn = e.facts.function_at(e.scope)
                if fn is not None:  # the function making the call (its arguments may come from its own)
                    wanted(fn)
        seen = set(todo)
        depth = 0
        while todo and depth < 8:
            nxt = []
            for n in todo:
                key = var_keys.get(n)
                if key is not None and project.param(key[1]) is not None:
                    wanted(project.param(key[1])[1])
                for m in rev.get(n, ()):
                    if m not in seen and not self.pts.get(m):
                        seen.add(m)
                        nxt.append(m)
            todo, depth = nxt, depth + 1
        if not names:
            return False
        pattern = re.compile(r"\b(?:%s)\(" % "|".join(re.escape(n) for n in sorted(names)))
        loaded = 0
        for path in sorted(project.known_paths):
            if loaded >= MAX_CALLER_FILES:
                break
            if path in project.files or path in self._load_tried:
                continue
            text = project.source_text(path)
            if text and pattern.search(text):
                self._load_module(path)
                loaded += path in project.files
        return loaded > 0 and self._add_new_files()

    def _add_new_files(self) -> bool:
        if len(self._done_files) == len(self.project.files):
            return False
        added = False
        for f in sorted(self.project.files.values(), key=lambda f: f.path):
            if f.path not in self._done_files:
                self._done_files.add(f.path)
                self._file(f)
                for q, node in self._deferred.pop(f.path, ()):
                    self._resolve_deferred(q, node)
                added = True
        return added

    def _resolve_deferred(self, q: str, node: int) -> None:
        """A name of a module that is now parsed: follow its re-exports (parsing what they need)
        and link what it holds to the node its users read."""
        project = self.project
        was = project.offline
        project.offline = False
        try:
            canonical = project.canonical(q) or q
        finally:
            project.offline = was
        if canonical != q:
            target = self._qualified(canonical)
        else:  # the node was made for ``q`` before its module was parsed: find its definition now
            target = self._placed(q)
        if target is not None and target != node:
            self._edge(target, node)

    def _load_module(self, path: str) -> None:
        if path in self._load_tried or path in self.project.files:
            return
        self._load_tried.add(path)
        project = self.project
        if not project.relevant(path):
            return
        was = project.offline
        project.offline = False
        try:
            if project.facts_for(path) is not None:
                self.loaded.append(path)
        finally:
            project.offline = was

    # -- queries -------------------------------------------------------------------------------
    def objects(self, facts: FileFacts, scope: str, expr: Optional[Expr]) -> Set[int]:
        """The objects (ids) ``expr``, used in ``scope`` of ``facts``, may hold."""
        if expr is None:
            return set()
        project = self.project
        was = project.offline
        project.offline = True
        try:
            n = self.eval(facts, scope, expr)
        finally:
            project.offline = was
        self.solve()
        return set(self.pts.get(n, ()))

    def node_objects(self, node: int) -> Set[int]:
        self.solve()
        return set(self.pts.get(node, ()))

    def callables(self, objs: Iterable[int]) -> List[Tuple[FileFacts, FunctionFact]]:
        """The project functions these objects run when called (functions, bound and unbound
        methods, a class's ``__init__``, an instance's ``__call__``), in a fixed order."""
        out: Dict[str, Tuple[FileFacts, FunctionFact]] = {}
        for o in objs:
            for q in self._targets(o):
                fn = self.project.function(q)
                if fn is not None:
                    out.setdefault(q, fn)
        return [out[q] for q in sorted(out)]

    def _targets(self, o: int) -> List[str]:
        ob = self.objs[o]
        if ob.kind in ("func", "unbound"):
            return [ob.key[0]]
        if ob.kind == "bound":
            return [self.objs[ob.key[0]].key[0]] if self.objs[ob.key[0]].kind == "func" else []
        if ob.kind == "class":
            init = self.method(ob.key[0], "__init__")
            return [init] if init else []
        if ob.kind == "alloc" and ob.key[0] in self.project._defs:
            call = self.method(ob.key[0], "__call__")
            return [call] if call else []
        return []

    def allocs_at(self, site: tuple) -> List[int]:
        """The allocations made at a call site ``(path, line, col)``."""
        return [i for i, ob in enumerate(self.objs) if ob.kind == "alloc" and ob.key[1:] == site]

    def app_ref(self, o: int) -> Any:
        """The ``ObjRef`` of the project model for an app or router object (None for others)."""
        from_project = self.project
        ob = self.objs[o]
        if ob.kind == "alloc":
            kind = self.framework_kind(ob.key[0])
            if kind in APP_SYMBOLS:
                return from_project.ref(kind, ob.key[1:])
        elif ob.kind == "routerof":
            inner = self.objs[ob.key[0]]
            if inner.kind == "alloc" and self.framework_kind(inner.key[0]) == "FastAPI":
                return from_project.ref("FastAPI.router", inner.key[1:])
        return None

    def describe(self, o: int) -> str:  # pragma: no cover - debugging aid
        ob = self.objs[o]
        return f"{ob.kind}{ob.key}"

    # -- classes -------------------------------------------------------------------------------
    def mro(self, cls: str) -> Tuple[str, ...]:
        """A project class and its bases (project classes first, depth first; external bases by
        their qualified name), each once."""
        found = self._mro_memo.get(cls)
        if found is not None:
            return found
        self._mro_memo[cls] = (cls,)
        out: List[str] = [cls]
        k = self.project.klass(cls)
        if k is not None:
            facts, c = k
            for base in c.bases:
                q = self.project.resolve(facts, c.scope, base)
                if q:
                    for b in self.mro(q):
                        if b not in out:
                            out.append(b)
        result = tuple(out)
        self._mro_memo[cls] = result
        return result

    def method(self, cls: str, name: str) -> Optional[str]:
        for c in self.mro(cls):
            q = f"{c}.{name}"
            if self.project.function(q) is not None:
                return q
        return None

    def framework_kind(self, cls: Optional[str]) -> Optional[str]:
        """The symbol id of the framework class ``cls`` is, or derives from (FastAPI, APIRouter,
        BackgroundTasks, Response, ...); None for other classes."""
        if not cls:
            return None
        if cls in self._fw_kind_memo:
            return self._fw_kind_memo[cls]
        self._fw_kind_memo[cls] = None
        kind = None
        for c in self.mro(cls):
            sym = symbol_of(c)
            if sym is not None:
                kind = sym
                break
        self._fw_kind_memo[cls] = kind
        return kind

    def alloc_class(self, o: int) -> Optional[str]:
        ob = self.objs[o]
        return ob.key[0] if ob.kind == "alloc" else None

    def kind_of(self, o: int) -> Optional[str]:
        """The framework symbol an allocation (or injected value) is an instance of."""
        ob = self.objs[o]
        if ob.kind == "alloc":
            return self.framework_kind(ob.key[0])
        if ob.kind == "injected":
            return ob.key[0]
        return None

    # -- expressions ---------------------------------------------------------------------------
    def eval(self, facts: FileFacts, scope: str, expr: Optional[Expr], bound: bool = False) -> int:
        """The node holding what ``expr`` may evaluate to (constraints are added as needed);
        ``bound``: the value of an assignment."""
        if expr is None:
            return self.EMPTY
        kind = expr.kind
        if kind == "name":
            return self._name(facts, scope, expr.value)
        if kind == "call":
            return self._call(facts, scope, expr)
        if kind == "attr":
            return self._load(self.eval(facts, scope, expr.value), expr.args[0])
        if kind == "await":
            return self.eval(facts, scope, expr.value)
        if kind == "either":
            key = ("either", facts.path, scope, expr.line, expr.col)
            n = self._node_ids.get(key)
            if n is None:
                n = self._new_node(key)
                for alt in expr.args:
                    self._edge(self.eval(facts, scope, alt), n)
            return n
        if kind in ("seq", "dict", "comp"):
            key = ("seq", facts.path, expr.line, expr.col, kind)
            n = self._node_ids.get(key)
            if n is not None:
                return n
            n = self._new_node(key)
            o = self.obj("seq", facts.path, expr.line, expr.col, kind)
            elems = self.node(("elem", o))
            if kind == "comp":
                # its items: what the item expression holds in the comprehension's own scope
                self._edge(self.eval(facts, comp_scope(scope, expr.line, expr.col), expr.value), elems)
                self._on(elems, lambda objs, n=n, o=o: self._materialize(n, o, objs))
                return n
            items = [i for i in (expr.args if kind == "seq" else tuple(v for _k, v in expr.kwargs)) if i is not None]
            if kind == "dict":
                # a string key is also a field of its own: ``f(**{"router": r})`` passes ``router=r``
                for k, v in expr.kwargs:
                    if k is not None and k.kind == "str" and v is not None:
                        self._dict_keys.setdefault(o, set()).add(k.value)
                        self._edge(self.eval(facts, scope, v), self.node(("key", o, k.value)))
            for item in items:
                if item.kind == "star":
                    self._edge(self._elems(self.eval(facts, scope, item.value)), elems)
                else:
                    self._edge(self.eval(facts, scope, item), elems)
            if items or not bound:
                # a literal is followed once one of its items holds an object: most hold only
                # strings and numbers, and following those through every helper they reach would
                # cost more than all the rest; an empty one bound to a name may still receive
                # items (``middleware = []`` then ``.append(...)``): followed
                self._on(elems, lambda objs, n=n, o=o: self._materialize(n, o, objs))
            else:
                self._add(n, (o,))
            return n
        if kind == "each":
            return self._elems(self.eval(facts, scope, expr.value))
        if kind == "sub":
            return self._subscript(facts, scope, expr)
        if kind == "star":
            return self._elems(self.eval(facts, scope, expr.value))
        return self.EMPTY

    @staticmethod
    def _value_scope(facts: FileFacts, b: Any) -> str:
        """Where the value of a binding is evaluated: ``self.x = param`` is recorded in its class's
        scope, its value is read in the method that holds it (the innermost one by lines)."""
        if not b.name.startswith("self.") or b.scope not in facts.classes:
            return b.scope
        best = None
        for fn in facts.functions.values():
            if fn.class_qualname == b.scope and fn.line <= b.line <= fn.end_line:
                if best is None or fn.line > best.line:
                    best = fn
        return best.qualname if best is not None else b.scope

    def _materialize(self, n: int, o: int, objs: Iterable[int]) -> None:
        """A literal's object joins its node once one of its items holds an object that matters
        (the request an endpoint is given does not: it is handed around with every payload)."""
        for x in objs:
            ob = self.objs[x]
            if ob.kind != "injected" or ob.key[0] in _INJECTED_PER_PARAM:
                self._add(n, (o,))
                return

    def _name(self, facts: FileFacts, scope: str, dotted: str) -> int:
        key = ("name", facts.path, scope, dotted)
        n = self._node_ids.get(key)
        if n is not None:
            return n
        project = self.project
        q = project.resolve_name(facts, scope, dotted)
        if q is None:
            n = self.EMPTY
        else:
            n = self._qualified(q)
        self._node_ids[key] = n
        return n

    def _qualified(self, q: str) -> int:
        """The node of a qualified name: the longest prefix that is a definition, a parameter or a
        binding of the project, then attribute loads; a name outside the project is a ``Sym``."""
        key = ("q", q)
        n = self._node_ids.get(key)
        if n is not None:
            return n
        project = self.project
        base = self._placed(q)
        if base is None:
            parts = q.split(".")
            n = self._new_node(key)
            module = next((project.modules[".".join(parts[:i])] for i in range(len(parts), 0, -1)
                           if ".".join(parts[:i]) in project.modules), None)
            if module is None:  # a name from outside the project
                self._add(n, (self.obj("sym", project.canonical(q) or q),))
            elif module not in project.files:  # a module not parsed yet: read when a value flows in
                self._deferred.setdefault(module, []).append((q, n))
                self._deferred_nodes[n] = module
            elif project.modules.get(q) == module:  # the module itself: ``for m in (users, jobs): m.router``
                self._add(n, (self.obj("module", q),))
            return n
        self._node_ids[key] = base
        return base

    def _placed(self, q: str) -> Optional[int]:
        """The node of the longest prefix of ``q`` that is a project definition, parameter or
        binding, then attribute loads (None: no prefix is)."""
        parts = q.split(".")
        for i in range(len(parts), 0, -1):
            base = self._place(".".join(parts[:i]))
            if base is not None:
                for attr in parts[i:]:
                    base = self._load(base, attr)
                return base
        return None

    def _place(self, q: str) -> Optional[int]:
        """The node of a qualified name that is itself a project definition, parameter or binding."""
        project = self.project
        d = project.definition(q)
        if d is not None:
            n = self.node(("def", q))
            kind = "class" if d[1].__class__.__name__ == "ClassFact" else "func"
            self._add(n, (self.obj(kind, q),))
            self._function_values(q)
            return n
        if project.param(q) is not None or project.bindings(q):
            return self._var(q)
        return None

    def _var(self, q: str) -> int:
        """The node of a variable (a name bound in a scope, a parameter, ``Class.self.attr``); what
        its bindings assign, and a parameter's default and injected value, are read on first use."""
        key = ("var", q)
        n = self._node_ids.get(key)
        if n is not None:
            return n
        n = self._new_node(key)
        project = self.project
        for facts, b in project.bindings(q):
            self._edge(self.eval(facts, self._value_scope(facts, b), b.value, bound=True), n)
        prm = project.param(q)
        if prm is not None:
            facts, fact, p = prm
            if p.default is not None:
                self._dependency_value(self.eval(facts, fact.qualname, p.default), n, facts, fact.qualname, keep_others=True)
            if p.annotation is not None:
                fq = q[: -len(p.name) - 1]
                ann = self.eval(facts, fact.scope, p.annotation)
                self._on(ann, lambda objs, fq=fq, p=p, f=facts, sc=fact.qualname: self._inject(objs, n, fq, p.name, f, sc))
            if fact.class_qualname is not None and p.name == fact.receiver:
                self._receiver(n, project.qualify(facts, fact.class_qualname), fact)
        return n

    def _receiver(self, n: int, cls: str, fact: FunctionFact) -> None:
        """``self`` of a method holds an instance of its class, ``cls`` of a class method the class,
        whoever calls it: a method's code is followed even when the project never shows the
        instance (a library class its users instantiate). Not for the framework's own subclasses
        (a FastAPI subclass): their instances are the apps the project constructs."""
        if "classmethod" in {d.dotted for d in fact.decorators}:
            self._add(n, (self.obj("class", cls),))
        elif self.framework_kind(cls) is None:
            self._add(n, (self.obj("alloc", cls, "<instance>", 0, 0),))

    def _ret(self, q: str) -> int:
        """The node of what a function returns (its return statements are read on first use)."""
        key = ("ret", q)
        n = self._node_ids.get(key)
        if n is not None:
            return n
        n = self._new_node(key)
        fn = self.project.function(q)
        if fn is not None:
            facts, fact = fn
            for r in fact.returns:
                self._edge(self.eval(facts, fact.qualname, r), n)
        return n

    def _function_values(self, q: str) -> None:
        """A def's name also holds what its project decorators return (bottom-up)."""
        key = ("decorated", q)
        if key in self._node_ids:
            return
        self.node(key)
        fn = self.project.function(q)
        if fn is None:
            return
        facts, fact = fn
        value = self.node(("def", q))
        for dec in reversed(fact.decorators):
            if dec is None or dec.kind != "name":
                continue
            target = self.project.function(self.project.resolve(facts, fact.scope, dec))
            if target is None:
                continue  # the framework's and external decorators: the function itself
            result = self.node(("decorated-by", q, dec.line, dec.col))
            self._apply(self.obj("func", self.project.qualify(target[0], target[1].qualname)), (value,), (), result,
                        facts, fact.scope, None)
            value = result
        # the name holds the outermost decorator's result too (a wrapper, a registered copy)
        if value != self.node(("def", q)):
            self._edge(value, self.node(("def", q)))

    def _elems(self, container: int) -> int:
        key = ("elems-of", container)
        n = self._node_ids.get(key)
        if n is not None:
            return n
        n = self._new_node(key)

        def on(objs: Iterable[int]) -> None:
            for o in objs:
                kind = self.objs[o].kind
                if kind in ("seq", "alloc", "injected", "routes"):
                    self._edge(self.node(("elem", o)), n)

        self._on(container, on)
        return n

    def _subscript(self, facts: FileFacts, scope: str, expr: Expr) -> int:
        key = ("sub", facts.path, scope, expr.line, expr.col)
        n = self._node_ids.get(key)
        if n is not None:
            return n
        n = self._new_node(key)
        base = self.eval(facts, scope, expr.value)
        args = [self.eval(facts, scope, a) for a in expr.args]

        def on(objs: Iterable[int]) -> None:
            for o in objs:
                ob = self.objs[o]
                if ob.kind == "sym" and symbol_of(ob.key[0]) == "Annotated" and args:
                    a = self.obj("annotated", facts.path, expr.line, expr.col)
                    self._edge(args[0], self.node(("field", a, "type")))
                    for extra in args[1:]:
                        self._edge(extra, self.node(("field", a, "meta")))
                    self._add(n, (a,))
                elif ob.kind in ("seq", "alloc"):
                    self._edge(self.node(("elem", o)), n)

        self._on(base, on)
        return n

    def _load(self, base: int, attr: str) -> int:
        key = ("load", base, attr)
        n = self._node_ids.get(key)
        if n is not None:
            return n
        n = self._new_node(key)

        def on(objs: Iterable[int]) -> None:
            for o in objs:
                self._load_one(o, attr, n)

        self._on(base, on)
        return n

    def _load_one(self, o: int, attr: str, into: int) -> None:
        ob = self.objs[o]
        kind = ob.kind
        project = self.project
        if kind == "alloc":
            cls = ob.key[0]
            fw = self.framework_kind(cls)
            if cls in project._defs:
                for c in self.mro(cls):
                    self._edge(self._var(f"{c}.self.{attr}"), into)
                    if project.bindings(f"{c}.{attr}"):
                        self._edge(self._var(f"{c}.{attr}"), into)
                    d = project.definition(f"{c}.{attr}")
                    if d is not None:
                        self._add(into, (self._member(f"{c}.{attr}", d, o),))
                        break
            self._edge(self.node(("field", o, attr)), into)
            if fw is not None:
                self._framework_attr(o, fw, attr, into)
            return
        if kind == "class":
            cls = ob.key[0]
            for c in self.mro(cls):
                if project.bindings(f"{c}.{attr}"):
                    self._edge(self._var(f"{c}.{attr}"), into)
                d = project.definition(f"{c}.{attr}")
                if d is not None:
                    self._add(into, (self._member(f"{c}.{attr}", d, o, on_class=True),))
                    return
            return
        if kind == "injected":
            self._edge(self.node(("field", o, attr)), into)
            if ob.key[0] == "BackgroundTasks" and attr == "add_task":
                self._add(into, (self.obj("fwmethod", o, attr),))
            return
        if kind == "routerof":
            if attr in FRAMEWORK_METHODS and attr != "add_task":
                self._add(into, (self.obj("fwmethod", o, attr),))
            elif attr == "routes":
                self._add(into, (self.obj("routes", ob.key[0]),))
            return
        if kind == "sym":
            q = ob.key[0]
            if q.count(".") < _MAX_SYM_PARTS:  # ``node = node.parent`` in a loop must not grow names forever
                q = f"{q}.{attr}"
                self._add(into, (self.obj("sym", project.canonical(q) or q),))
            return
        if kind == "seq":
            if attr in _STORE_METHODS or attr in _EXTEND_METHODS or attr in _VIEW_METHODS or attr == "items":
                self._add(into, (self.obj("fwmethod", o, attr),))
            return
        if kind == "routes":  # ``router.routes``: a list of routes the code may append to
            if attr in _CONTAINER_METHODS:
                self._add(into, (self.obj("fwmethod", o, attr),))
            return
        if kind == "module":
            self._edge(self._qualified(f"{ob.key[0]}.{attr}"), into)
            return
        self._edge(self.node(("field", o, attr)), into)

    def _member(self, q: str, d: Any, recv: int, on_class: bool = False) -> int:
        """A method or nested class found on an instance (``recv`` an allocation) or on a class."""
        fact = d[1]
        if fact.__class__.__name__ == "ClassFact":
            return self.obj("class", q)
        decorators = {dec.dotted for dec in fact.decorators}
        if "staticmethod" in decorators:
            return self.obj("func", q)
        if "classmethod" in decorators:
            ob = self.objs[recv]
            cls_obj = recv if on_class else self.obj("class", ob.key[0])
            return self.obj("bound", self.obj("func", q), cls_obj)
        if on_class:
            return self.obj("unbound", q)
        return self.obj("bound", self.obj("func", q), recv)

    def _framework_attr(self, o: int, fw: str, attr: str, into: int) -> None:
        if fw in APP_SYMBOLS:
            if attr == "router" and fw == "FastAPI":
                self._add(into, (self.obj("routerof", o),))
            elif attr == "routes":
                self._add(into, (self.obj("routes", o),))
            elif attr in FRAMEWORK_METHODS and attr != "add_task":
                self._add(into, (self.obj("fwmethod", o, attr),))
        elif fw == "BackgroundTasks" and attr == "add_task":
            self._add(into, (self.obj("fwmethod", o, attr),))

    # -- calls ---------------------------------------------------------------------------------
    def _call(self, facts: FileFacts, scope: str, call: Expr) -> int:
        # calls that start at the same place: ``f()()`` and ``f()``, ``C(x).build()`` and ``C(x)``:
        # told apart by how many calls the callee holds on its way down
        nesting = 0
        callee = call.value
        while callee is not None and callee.kind in ("call", "attr"):
            nesting += callee.kind == "call"
            callee = callee.value
        key = (facts.path, call.line, call.col, nesting)
        n = self._calls.get(key)
        if n is not None:
            return n
        n = self._calls[key] = self._new_node(("call",) + key)
        if (call.value is not None and call.value.kind == "name" and call.value.value in _COPIES and len(call.args) == 1
                and not call.kwargs and call.args[0] is not None and call.args[0].kind != "star"
                and self.project.resolve_name(facts, scope, call.value.value) in (None, "builtins." + call.value.value)):
            # ``list(routers)``, ``sorted(x for x in ...)``: the same items (the builtin, not shadowed)
            self._edge(self.eval(facts, scope, call.args[0]), n)
            return n
        callee_node = self.eval(facts, scope, call.value)
        evaluated: List[Tuple[Tuple[int, ...], Tuple[Tuple[str, int], ...]]] = []

        def arguments() -> Tuple[Tuple[int, ...], Tuple[Tuple[str, int], ...]]:
            # evaluated once, and only when the callee may use them: most calls are to functions
            # from outside the project, whose arguments nothing follows
            if not evaluated:
                args: List[int] = []
                for a in call.args:
                    if a is None or a.kind == "star":
                        args.append(-1)
                        break
                    args.append(self.eval(facts, scope, a))
                kwargs = tuple((k, self.eval(facts, scope, v)) for k, v in call.kwargs)  # "**": see _spread
                evaluated.append((tuple(args), kwargs))
            return evaluated[0]

        def on(objs: Iterable[int]) -> None:
            wanted = [o for o in objs if self._uses_arguments(o)]
            if wanted:
                args, kwargs = arguments()
                self._dispatch(wanted, args, kwargs, n, facts, scope, call)

        self._on(callee_node, on)
        module = self._deferred_nodes.get(callee_node)
        if module is not None:  # a function of a module not parsed yet: parse it once a followed value flows in
            args, kwargs = arguments()
            for a in [a for a in args if a >= 0] + [a for _k, a in kwargs]:
                self._on(a, lambda objs, m=module: self._load_module(m) if any(self.objs[o].kind != "sym" for o in objs) else None)
        return n

    def _uses_arguments(self, o: int) -> bool:
        """Whether calling ``o`` does anything the analysis follows (not a function from outside
        the project that the framework does not define)."""
        ob = self.objs[o]
        if ob.kind != "sym":
            return True
        return ob.key[0] in _PARTIALS or symbol_of(ob.key[0]) is not None

    def _dispatch(self, objs: Iterable[int], args: Tuple[int, ...], kwargs: Tuple[Tuple[str, int], ...], result: int,
                  facts: FileFacts, scope: str, call: Optional[Expr], decorates: Optional[str] = None) -> None:
        for o in objs:
            self._apply(o, args, kwargs, result, facts, scope, call, decorates)

    def _apply(self, o: int, args: Tuple[int, ...], kwargs: Tuple[Tuple[str, int], ...], result: int,
               facts: FileFacts, scope: str, call: Optional[Expr], decorates: Optional[str] = None) -> None:
        """Calling object ``o`` with these argument nodes, its value flowing to ``result``
        (``decorates``: the call applies a decorator to that function of ``facts``)."""
        ob = self.objs[o]
        kind = ob.kind
        project = self.project
        if kind == "func":
            self._enter(ob.key[0], None, args, kwargs, result, facts, scope, passed_receiver=False)
        elif kind == "bound":
            fn = self.objs[ob.key[0]]
            if fn.kind == "func":
                self._enter(fn.key[0], ob.key[1], args, kwargs, result, facts, scope, passed_receiver=False)
        elif kind == "unbound":
            self._enter(ob.key[0], None, args, kwargs, result, facts, scope, passed_receiver=True)
        elif kind == "class":
            cls = ob.key[0]
            site = (facts.path, call.line, call.col) if call is not None else (facts.path, 0, 0)
            fw = self.framework_kind(cls)
            if fw is None:
                sites = self._alloc_sites.setdefault(cls, set())
                if site not in sites and len(sites) >= MAX_SITES:
                    site = ("<many>", 0, 0)  # a class constructed all over (a value, an event): one object
                else:
                    sites.add(site)
            a = self.obj("alloc", cls, *site)
            self._add(result, (a,))
            init = self.method(cls, "__init__")
            if init is not None:
                self._enter(init, a, args, kwargs, self.SINK, facts, scope, passed_receiver=False)
            if fw is not None:
                self._construct(fw, a, args, kwargs, facts, scope)
        elif kind == "alloc":
            if ob.key[0] in project._defs:
                target = self.method(ob.key[0], "__call__")
                if target is not None:
                    self._enter(target, o, args, kwargs, result, facts, scope, passed_receiver=False)
        elif kind == "sym":
            self._call_sym(ob.key[0], args, kwargs, result, facts, scope, call)
        elif kind == "fwmethod":
            self._fw_call(ob.key[0], ob.key[1], args, kwargs, result, facts, scope, call)
        elif kind == "fwdeco":
            recv, method = ob.key[0], ob.key[1]
            site_facts, site_scope, site_call = self._deco_sites[o]
            self.events.append(Event(recv, "@" + method, site_facts, site_scope, site_call, args, kwargs, (), decorates))
            if args and args[0] >= 0:
                self._edge(args[0], result)  # the framework's decorators return the function

    def _enter(self, q: str, recv: Optional[int], args: Tuple[int, ...], kwargs: Tuple[Tuple[str, int], ...],
               result: int, facts: FileFacts, scope: str, passed_receiver: bool) -> None:
        fn = self.project.function(q)
        if fn is None:
            return
        ffacts, fact = fn
        self.call_edges.setdefault((facts.path, scope), set()).add(q)
        sig = self._signatures.get(q)
        if sig is None:
            sig = self._signatures[q] = (
                [p.name for p in fact.params if p.kind in ("posonly", "pos")],
                fact.receiver,
                next((p.name for p in fact.params if p.kind == "star"), None),
                {p.name for p in fact.params if p.kind in ("pos", "kwonly")},
            )
        positional, receiver, star, names = sig
        if receiver is not None and not passed_receiver:
            positional = positional[1:]
            if recv is not None:
                self._add(self._var(f"{q}.{receiver}"), (recv,))
        for i, a in enumerate(args):
            if a < 0:
                break
            if i < len(positional):
                self._edge(a, self._var(f"{q}.{positional[i]}"))
            elif star is not None:
                self._edge(a, self.node(("elem", self.obj("seq", q, "*args", 0, "seq"))))
        for k, a in kwargs:
            if k in names:
                self._edge(a, self._var(f"{q}.{k}"))
            elif k == "**":
                self._on(a, lambda objs, q=q, names=names: self._spread(objs, q, names))
        if result != self.SINK:
            self._edge(self._ret(q), result)

    def _spread(self, objs: Iterable[int], q: str, names: Set[str]) -> None:
        """``**d`` for a dict literal with string keys: each key naming a parameter passes it."""
        for o in objs:
            for k in sorted(self._dict_keys.get(o, set()) & names):
                self._edge(self.node(("key", o, k)), self._var(f"{q}.{k}"))

    def _call_sym(self, q: str, args: Tuple[int, ...], kwargs: Tuple[Tuple[str, int], ...], result: int,
                  facts: FileFacts, scope: str, call: Optional[Expr]) -> None:
        if q in _PARTIALS:
            if args and args[0] >= 0:
                self._edge(args[0], result)
            return
        fw = symbol_of(q)
        if fw is None:
            return
        site = (facts.path, call.line, call.col) if call is not None else (facts.path, 0, 0)
        a = self.obj("alloc", q, *site)
        self._add(result, (a,))
        self._construct(fw, a, args, kwargs, facts, scope)

    def _construct(self, fw: str, a: int, args: Tuple[int, ...], kwargs: Tuple[Tuple[str, int], ...],
                   facts: FileFacts, scope: str) -> None:
        """What the framework's constructors keep: the arguments become fields of the object, named
        after the keyword with an ``=`` (``fields(app, "middleware=")``), apart from attributes."""

        def arg(index: int, name: str) -> Optional[int]:
            for k, n in kwargs:
                if k == name:
                    return n
            if 0 <= index < len(args) and args[index] >= 0:
                return args[index]
            return None

        fields: Dict[str, Optional[int]] = {}
        if fw in APP_SYMBOLS:
            for name in ("routes", "middleware", "lifespan", "on_startup", "on_shutdown", "dependencies",
                         "exception_handlers", "default_response_class"):
                fields[name] = arg(-1, name)
            lifespan = fields.get("lifespan")
            if lifespan is not None:
                # FastAPI / Starlette call the lifespan with the app
                self._on(lifespan, lambda objs: self._dispatch(objs, (self._const(a),), (), self.SINK, facts, scope, None))
        elif fw == "Middleware":
            fields["cls"] = arg(0, "cls")
        elif fw in ("Depends", "Security"):
            fields["dependency"] = arg(0, "dependency")
        elif fw == "BackgroundTask":
            fields["func"] = arg(0, "func")
        elif fw == "Mount" or fw == "Host":
            fields["app"] = arg(1, "app")
            fields["routes"] = arg(-1, "routes")
        elif fw == "Route":
            fields["endpoint"] = arg(1, "endpoint")
        elif fw in ("Response", "StreamingResponse"):
            fields["background"] = arg(-1, "background")
        for name, n in fields.items():
            if n is not None:
                self._edge(n, self.node(("field", a, name + "=")))  # ``middleware=`` is not ``.middleware``

    def _const(self, o: int) -> int:
        n = self.node(("const", o))
        self._add(n, (o,))
        return n

    def _fw_call(self, recv: int, method: str, args: Tuple[int, ...], kwargs: Tuple[Tuple[str, int], ...], result: int,
                 facts: FileFacts, scope: str, call: Optional[Expr]) -> None:
        ob = self.objs[recv]
        if ob.kind in ("seq", "routes"):
            elems = self.node(("elem", recv))
            if method in _STORE_METHODS:
                for i in _STORE_METHODS[method]:
                    if i < len(args) and args[i] >= 0:
                        self._edge(args[i], elems)
            elif method in _EXTEND_METHODS:
                if args and args[0] >= 0:
                    self._edge(self._elems(args[0]), elems)
            elif method in _VIEW_METHODS or method == "items":
                if method in ("pop", "popleft", "get"):
                    self._edge(elems, result)
                else:
                    self._add(result, (recv,))
            return
        if call is None:
            return
        self.events.append(Event(recv, method, facts, scope, call, args, kwargs))
        if method in DECORATOR_METHODS:
            d = self.obj("fwdeco", recv, method, facts.path, call.line, call.col)
            self._deco_sites.setdefault(d, (facts, scope, call))
            self._add(result, (d,))
        if method == "add_task" and args and args[0] >= 0:
            self._edge(args[0], self.node(("field", recv, "tasks")))

    # -- facts to constraints ------------------------------------------------------------------
    def _file(self, facts: FileFacts) -> None:
        project = self.project
        mod = project.primary.get(facts.path)
        if mod is None:
            return
        for b in facts.bindings:
            # a name's bindings are read when the name is (``_var``); an attribute store is made now
            if "." in b.name and not (b.name.startswith("self.") and b.scope in facts.classes):
                target = self._binding_target(facts, b.scope, b.name)
                if target is not None:
                    self._edge(self.eval(facts, b.scope, b.value, bound=True), target)
        for sa in facts.subscript_assigns:
            if sa.target.kind == "sub" and sa.target.value is not None:
                container = self.eval(facts, sa.scope, sa.target.value)
                value = self.eval(facts, sa.scope, sa.value, bound=True)
                self._store_elem(container, value)
        self._names_of(facts)
        for c in facts.calls:
            tail = self._callee_tail(c.call)
            if c.decorates is None and not self._may_matter(tail, c.call):
                # read if its value is (a ``print(...)``, ``log.info(...)``), or once a file that
                # defines or binds that name is parsed
                self._skipped.setdefault(tail or "", []).append((facts, c))
                continue
            self._top_call(facts, c)

    def _top_call(self, facts: FileFacts, c: CallFact) -> None:
        n = self.eval(facts, c.scope, c.call)
        if c.decorates is not None:
            # ``@app.get("/x")`` applied to the function (or class) it decorates
            target = self._place(self.project.qualify(facts, c.decorates))
            if target is not None:
                self._on(n, lambda objs, t=target, f=facts, c=c: self._dispatch(objs, (t,), (), self.SINK, f, c.scope,
                                                                              c.call, c.decorates))

    def _names_of(self, facts: FileFacts) -> None:
        """The names a call must use to reach anything the analysis follows: the project's
        functions and classes, what files import or bind (a parsed file adds its own); the calls
        skipped so far that use a name the file adds are read now."""
        found: Set[str] = set()
        for fn in facts.functions.values():
            found.add(fn.name)
            for prm in fn.params:
                found.add(prm.name)
        for cls in facts.classes.values():
            found.add(cls.name)
        for imp in facts.imports:
            found.add(imp.local.rsplit(".", 1)[-1])
        for b in facts.bindings:
            found.add(b.name.rsplit(".", 1)[-1])
        new = found - self._known_names
        self._known_names |= new
        for name in sorted(new):
            for f, c in self._skipped.pop(name, ()):
                self._top_call(f, c)

    @staticmethod
    def _callee_tail(call: Expr) -> Optional[str]:
        callee = call.value
        if callee is None:
            return None
        if callee.kind == "name":
            return callee.value.rsplit(".", 1)[-1]
        if callee.kind == "attr":
            return callee.args[0]
        return None

    def _may_matter(self, tail: Optional[str], call: Expr) -> bool:
        """Can this call reach a project function, or be one of the framework's? Its callee's last
        name must be a name of the project (a function, class, import, binding or parameter), a
        framework method, or a container method; calls of anything else are read only on demand."""
        if tail is None:
            return call.value is not None and call.value.kind == "call"
        return tail in self._known_names or tail in FRAMEWORK_METHODS or tail in _CONTAINER_METHODS or tail in _CALLED_SYMBOL_TAILS

    def _store_elem(self, container: int, value: int) -> None:
        def on(objs: Iterable[int]) -> None:
            for o in objs:
                if self.objs[o].kind in ("seq", "alloc", "injected", "routes"):
                    self._edge(value, self.node(("elem", o)))

        self._on(container, on)

    def _binding_target(self, facts: FileFacts, scope: str, name: str) -> Optional[int]:
        """The node a binding ``name = ...`` in ``scope`` stores into: a variable, or an attribute
        of the objects ``a.b`` may hold for ``a.b.c = ...``."""
        mod = self.project.primary[facts.path]
        if "." not in name or name.startswith("self.") and facts.classes.get(scope) is not None:
            return self._var(f"{mod}.{scope}.{name}" if scope else f"{mod}.{name}")
        base, _, attr = name.rpartition(".")
        holder = self._name(facts, scope, base)
        key = ("store", holder, attr)
        n = self._node_ids.get(key)
        if n is not None:
            return n
        n = self._new_node(key)

        def on(objs: Iterable[int]) -> None:
            for o in objs:
                self._edge(n, self._field_of(o, attr))

        self._on(holder, on)
        return n

    def _field_of(self, o: int, attr: str) -> int:
        ob = self.objs[o]
        if ob.kind == "alloc" and ob.key[0] in self.project._defs:
            # the class (of its bases) whose methods bind ``self.attr``, so that they read it too
            for c in self.mro(ob.key[0]):
                if self.project.bindings(f"{c}.self.{attr}"):
                    return self._var(f"{c}.self.{attr}")
            return self._var(f"{ob.key[0]}.self.{attr}")
        if ob.kind == "class":
            return self._var(f"{ob.key[0]}.{attr}")
        return self.node(("field", o, attr))

    def _inject(self, objs: Iterable[int], var: int, q: str, name: str, facts: FileFacts, scope: str) -> None:
        for o in objs:
            ob = self.objs[o]
            if ob.kind == "annotated":
                typ = self.node(("field", o, "type"))
                self._on(typ, lambda objs2, v=var: self._inject_exact(objs2, v, q, name))
                self._dependency_value(self.node(("field", o, "meta")), var, facts, scope)
            else:
                self._inject_exact((o,), var, q, name)

    def _inject_exact(self, objs: Iterable[int], var: int, q: str, name: str) -> None:
        for o in objs:
            ob = self.objs[o]
            cls = ob.key[0] if ob.kind in ("sym", "class") else None
            fw = self.framework_kind(cls)
            if fw in _INJECTED_PER_PARAM:
                self._add(var, (self.obj("injected", fw, q, name),))
            elif fw in INJECTED:
                # one object for every endpoint's request: it is handed to helpers everywhere, and
                # no question the rules ask needs to tell one endpoint's from another's
                self._add(var, (self.obj("injected", fw, "", ""),))

    def _dependency_value(self, node: int, var: int, facts: FileFacts, scope: str, keep_others: bool = False) -> None:
        """A parameter whose default (or ``Annotated`` metadata) is ``Depends(f)`` holds what
        calling ``f`` returns; ``keep_others``: other default values are the parameter's too."""

        def on(objs: Iterable[int]) -> None:
            others = []
            for o in objs:
                if self.kind_of(o) in ("Depends", "Security"):
                    dep = self.node(("field", o, "dependency="))
                    self._on(dep, lambda objs2, o=o: self._dispatch(objs2, (), (), var, facts, scope,
                                                                    _site_expr(self.objs[o])))
                elif keep_others:
                    others.append(o)
            if others:
                self._add(var, others)

        self._on(node, on)

    # -- app views (what the app model reads) --------------------------------------------------
    def fields(self, o: int, name: str) -> Set[int]:
        self.solve()
        n = self._node_ids.get(("field", o, name))
        return set(self.pts.get(n, ())) if n is not None else set()

    def elements(self, o: int) -> Set[int]:
        self.solve()
        n = self._node_ids.get(("elem", o))
        return set(self.pts.get(n, ())) if n is not None else set()

    def members(self, objs: Iterable[int]) -> List[int]:
        """The objects that are not sequences among ``objs`` and the elements of the sequences
        among them (nested sequences flattened), in a fixed order."""
        self.solve()
        out: Set[int] = set()
        todo, seen = list(objs), set()
        while todo:
            x = todo.pop()
            if x in seen:
                continue
            seen.add(x)
            if self.objs[x].kind == "seq":
                todo.extend(self.elements(x))
            else:
                out.add(x)
        return sorted(out)

    def returns(self, q: str) -> Set[int]:
        self.solve()
        n = self._node_ids.get(("ret", q))
        return set(self.pts.get(n, ())) if n is not None else set()


def _site_expr(ob: Obj) -> Optional[Expr]:
    """A stand-in call expression at an allocation's site (for the allocations a dependency call makes)."""
    if ob.kind != "alloc":
        return None
    _cls, _path, line, col = ob.key
    return Expr("call", None, (), (), line, col)


def build(project: Any) -> ValueFlow:
    flow = ValueFlow(project)
    flow.solve()
    return flow
