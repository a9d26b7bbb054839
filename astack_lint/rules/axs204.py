"""
## What it does
Checks for `raise HTTPException(...)` (FastAPI's or Starlette's, or a project subclass of either)
in middleware code: an `@app.middleware("http")` function (also `app.middleware("http")(f)`), the
`dispatch` method of a `BaseHTTPMiddleware` subclass, a `dispatch=` function given to
`BaseHTTPMiddleware`, or the `__call__` of a pure ASGI middleware class registered with
`add_middleware` or `Middleware(...)`. A helper the middleware calls (and a helper that one calls)
counts too: the finding is then at the middleware's call, and names the helper's `raise`.

Not reported: a `raise` inside a `try` whose handlers may catch it (`except HTTPException`,
`except Exception`, a bare `except`, a class of the project's; a handler that only logs and
re-raises does not count), a `raise` in a function nested in the middleware (a `receive` or `send`
wrapper runs inside the app, where the exception handlers are), a raised variable, an exception
whose status is 500 anyway, a `dispatch` that a subclass of the project overrides, and middleware
of an app with a handler for `Exception` or 500 (the client then gets what that handler answers).

## Why is this bad?
FastAPI and Starlette turn an `HTTPException` into its response in `ExceptionMiddleware`, which sits
inside the user's middleware: the middleware stack is `ServerErrorMiddleware`, then the user's
middleware, then `ExceptionMiddleware`, then the router. An `HTTPException` raised by a middleware
never reaches `ExceptionMiddleware`; `ServerErrorMiddleware` answers it with a 500 Internal Server
Error, on every release. The client that should get 401 or 429 gets 500, and the server logs a
traceback for what was meant as an ordinary refusal. Exception handlers registered with
`@app.exception_handler(HTTPException)` are not run either.

## Example
```python
@app.middleware("http")
async def require_api_key(request: Request, call_next):
    if request.headers.get("x-api-key") != API_KEY:
        raise HTTPException(status_code=401, detail="bad key")  # the client gets 500
    return await call_next(request)
```

## Use instead
Return the response yourself:
```python
@app.middleware("http")
async def require_api_key(request: Request, call_next):
    if request.headers.get("x-api-key") != API_KEY:
        return JSONResponse({"detail": "bad key"}, status_code=401)
    return await call_next(request)
```
or check in a dependency (`dependencies=[Depends(require_api_key)]`), where `HTTPException` works.

## Fix safety
No automatic fix: the response the exception stands for (its headers, its body's shape) is the
project's choice.

## References
- [Starlette: middleware](https://www.starlette.io/middleware/)
- [FastAPI: handling errors](https://fastapi.tiangolo.com/tutorial/handling-errors/)
"""

from __future__ import annotations

from typing import Any, Dict, FrozenSet, List, NamedTuple, Optional, Set, Tuple

import libcst as cst

from ..cst.visitors import RuleCollector, Summarizer
from ..model.apps import app_constructors, app_middleware, functions_of, is_base_http, middleware_classes
from ..model.facts import CallFact, Expr, FileFacts, FunctionFact
from ..model.memo import memoized
from ..model.project import Project
from .api import CheckContext, Rule

CODE = "AXS204"
# the builtin exceptions that an ``except`` may name and that never catch an HTTPException
_CATCH_ALL = ("builtins.Exception", "builtins.BaseException")


class Raise(NamedTuple):
    scope: str
    line: int
    col: int
    end_line: int
    end_col: int
    exc: Optional[Expr]  # the class raised (``raise X(...)`` / ``raise X``)
    guards: tuple  # per enclosing ``try`` body: the types its handlers name (None: a bare except)
    status: Optional[Expr] = None  # the status code given to the exception class


class Collector(RuleCollector):
    """The ``raise`` statements of every function, and the calls inside ``try`` bodies, with the
    handler types of each enclosing ``try`` (of the same function)."""

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.data: Dict[str, Any] = {"raises": [], "guarded": {}}
        self.summarize = Summarizer(self.pos)
        self._bodies: Dict[int, tuple] = {}  # id(a try's body) -> its handler types
        self._guards: List[tuple] = []
        self._saved: List[List[tuple]] = []

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._saved.append(self._guards)  # a try around a def does not guard its body
        self._guards = []

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._guards = self._saved.pop()

    def _handlers(self, node: Any) -> None:
        # a handler that only logs and re-raises lets the exception through
        types = tuple(
            None if h.type is None else self.summarize(h.type) for h in node.handlers if not _reraises(h)
        )
        if node.handlers:
            self._bodies[id(node.body)] = types
        if node.finalbody is not None and _returns(node.finalbody):
            # ``finally: return ...`` swallows whatever the body, a handler or ``else`` raised
            for suite in [node.body, node.orelse.body if node.orelse else None, *(h.body for h in node.handlers)]:
                if suite is not None:
                    self._bodies[id(suite)] = self._bodies.get(id(suite), ()) + (None,)

    visit_Try = visit_TryStar = _handlers

    def _enter(self, node: cst.BaseSuite) -> None:
        types = self._bodies.get(id(node))
        if types is not None:
            self._guards.append(types)

    def _leave(self, node: cst.BaseSuite) -> None:
        if self._bodies.pop(id(node), None) is not None:
            self._guards.pop()

    visit_IndentedBlock = visit_SimpleStatementSuite = _enter
    leave_IndentedBlock = leave_SimpleStatementSuite = _leave

    def visit_Raise(self, node: cst.Raise) -> None:
        exc = node.exc
        if exc is None:
            return
        status = None
        if isinstance(exc, cst.Call):
            for i, arg in enumerate(exc.args):
                if (arg.keyword is None and i == 0 and not arg.star) or (arg.keyword is not None and arg.keyword.value == "status_code"):
                    status = self.summarize(arg.value)
            exc = exc.func
        line, col, end_line, end_col = self.range(node)
        self.data["raises"].append(
            Raise(self.ctx.scope, line, col, end_line, end_col, self.summarize(exc), tuple(self._guards), status)
        )

    def visit_Call(self, node: cst.Call) -> None:
        if self._guards:
            self.data["guarded"][self.pos(node)] = tuple(self._guards)


def _reraises(handler: Any) -> bool:
    """Does this ``except`` end by re-raising what it caught (``raise`` / ``raise exc``), with no
    ``return`` on the way?"""
    body = handler.body.body if isinstance(handler.body, cst.IndentedBlock) else [handler.body]
    if not body:
        return False
    last = body[-1]
    if not isinstance(last, cst.SimpleStatementLine) or not last.body or not isinstance(last.body[-1], cst.Raise):
        return False
    raised = last.body[-1]
    bound = handler.name.name.value if handler.name is not None and isinstance(handler.name.name, cst.Name) else None
    if raised.exc is not None and not (isinstance(raised.exc, cst.Name) and raised.exc.value == bound):
        return False
    return not _returns(handler.body)


def _returns(node: cst.CSTNode) -> bool:
    """Is there a ``return`` in this code (not in a function nested in it)?"""
    finder = _ReturnFinder()
    node.visit(finder)
    return finder.found


class _ReturnFinder(cst.CSTVisitor):
    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def visit_Return(self, node: cst.Return) -> None:
        self.found = True

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False  # a nested def's return is its own

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False


class Code(NamedTuple):
    """A function that runs as middleware code, outside the exception handlers."""

    facts: FileFacts
    fn: FunctionFact
    what: str  # how the message names it
    apps: FrozenSet[Any]  # the apps it is registered on (empty: not known)


@memoized()
def middleware_code(project: Project) -> List[Code]:
    out: Dict[Tuple[str, str], Code] = {}

    def add(facts: FileFacts, fn: FunctionFact, what: str, apps: Any) -> None:
        key = (facts.path, fn.qualname)
        have = out.get(key)
        out[key] = Code(facts, fn, what, frozenset(apps) | (have.apps if have else frozenset()))

    by_class: Dict[str, Set[Any]] = {}
    for reg in app_middleware(project):
        if reg.how == "http":
            for f, c in _decorated_or_applied(reg.facts, reg.call):
                for tf, tfn in functions_of(project, f, c.scope, c.call.args[0]) if c.decorates is None else [(f, f.functions[c.decorates])]:
                    add(tf, tfn, f'the @middleware("http") function {tfn.name}()', reg.targets)
            continue
        dispatch = reg.arg("dispatch", 0)
        if dispatch is not None and is_base_http(project, reg):
            for tf, tfn in functions_of(project, reg.facts, reg.scope, dispatch):
                add(tf, tfn, f"the dispatch function {tfn.name}()", reg.targets)
        for q in middleware_classes(project, reg):
            by_class.setdefault(q, set()).update(reg.targets)
            if project.subclasses_symbol(q, ("BaseHTTPMiddleware",)):
                continue  # its dispatch is found below, registered or not
            method = _own_method(project, q, "__call__")
            if method is not None:
                add(method[0], method[1], f"the ASGI middleware {q.rsplit('.', 1)[-1]}.__call__", reg.targets)
    # every BaseHTTPMiddleware subclass of the project: its dispatch only ever runs as middleware
    overridden = set()
    subclasses = []
    for f in project.files.values():
        for cls in f.classes.values():
            q = project.qualify(f, cls.qualname)
            if cls.bases and project.subclasses_symbol(q, ("BaseHTTPMiddleware",)):
                subclasses.append((f, cls, q))
    for f, cls, q in subclasses:
        if f"{cls.qualname}.dispatch" in f.functions:
            for base in cls.bases:
                overridden.add(project.resolve(f, cls.scope, base))
    for f, cls, q in subclasses:
        fn = f.functions.get(f"{cls.qualname}.dispatch")
        if fn is not None and q not in overridden:
            add(f, fn, f"{cls.name}.dispatch", by_class.get(q, ()))
    return [out[k] for k in sorted(out)]


@memoized()
def server_error_handlers(project: Project) -> Tuple[FrozenSet[Any], bool]:
    """The apps with a handler for ``Exception`` (or 500), and whether one is registered on an app
    the analysis does not know. ServerErrorMiddleware hands a middleware's exception to that
    handler, and the client gets what it answers."""
    apps: Set[Any] = set()
    unknown = False
    for method in ("exception_handler", "add_exception_handler"):
        for f, c in project.calls_named(method):
            callee = c.call.value
            if callee is None or callee.kind != "name" or "." not in callee.value:
                continue
            key = c.call.args[0] if c.call.args else c.call.kwarg("exc_class_or_status_code")
            if _catch_all_key(project, f, c.scope, key):
                owners = project.objects(f, c.scope, Expr("name", callee.value.rsplit(".", 1)[0], line=callee.line, col=callee.col))
                apps.update(owners)
                unknown = unknown or not owners
    for f, c, o in app_constructors(project):
        handlers = c.call.kwarg("exception_handlers")
        if handlers is None:
            continue
        if handlers.kind != "dict" or any(_catch_all_key(project, f, c.scope, k) for k, _v in handlers.kwargs):
            apps.add(o)  # a dict built elsewhere: unsure, as if it had one
    return frozenset(apps), unknown


def _handled(project: Project, m: Code) -> bool:
    apps, unknown = server_error_handlers(project)
    return unknown or bool(m.apps & apps) or (not m.apps and bool(apps))


def _catch_all_key(project: Project, facts: FileFacts, scope: str, key: Optional[Expr]) -> bool:
    """Is this exception handler key ``Exception``, ``BaseException`` or 500 (or a name the
    analysis cannot read: maybe)?"""
    if key is None:
        return False
    if key.kind == "const":
        return key.value == 500
    if key.kind != "name":
        return True
    q = project.resolve(facts, scope, key)
    # a name that does not resolve: unsure, as if it were one; a class or another status: no
    return q is None or q in _CATCH_ALL or _status_name(q) == 500


def _status_name(q: Optional[str]) -> Optional[int]:
    """The code of ``starlette.status.HTTP_401_UNAUTHORIZED`` and the like."""
    last = (q or "").rsplit(".", 1)[-1]
    parts = last.split("_")
    if len(parts) >= 2 and parts[0] == "HTTP" and parts[1].isdigit():
        return int(parts[1])
    return None


def _is_500(project: Project, facts: FileFacts, scope: str, status: Optional[Expr]) -> bool:
    if status is None:
        return False
    if status.kind == "const":
        return status.value == 500
    if status.kind == "name":
        return _status_name(project.resolve(facts, scope, status) or status.value) == 500
    return False


def _decorated_or_applied(facts: FileFacts, call: Expr) -> List[Tuple[FileFacts, CallFact]]:
    """``@app.middleware("http")`` (the call decorating a def) or ``app.middleware("http")(f)``."""
    found = []
    for c in facts.calls:
        if c.call == call and c.decorates is not None and c.decorates in facts.functions:
            found.append((facts, c))
        elif c.call.value == call and c.call.args and c.call.args[0].kind != "star":
            found.append((facts, c))
    return found


def _own_method(project: Project, cls: str, name: str) -> Optional[Tuple[FileFacts, FunctionFact]]:
    k = project.klass(cls)
    if k is None:
        return None
    f, c = k
    fn = f.functions.get(f"{c.qualname}.{name}")
    return (f, fn) if fn is not None else None


def _is_http_exception(project: Project, facts: FileFacts, scope: str, exc: Optional[Expr]) -> bool:
    return exc is not None and project.subclasses_symbol(project.resolve(facts, scope, exc), ("HTTPException",))


def _may_catch(project: Project, facts: FileFacts, scope: str, guards: tuple) -> bool:
    """Could one of these handlers catch an HTTPException? Yes unless every type it names is a
    builtin exception other than Exception and BaseException (a class of the project, a name that
    does not resolve: maybe)."""
    for types in guards:
        for t in types:
            if t is None:
                return True
            for item in (t.args if t.kind == "seq" else (t,)):
                q = project.resolve(facts, scope, item)
                if q is None or not q.startswith("builtins.") or q in _CATCH_ALL:
                    return True
    return False


@memoized()
def _exception_names(project: Project) -> Tuple[str, ...]:
    """The names a raise of an HTTPException can spell: the framework's, and the project's
    subclasses of it."""
    names = {"HTTPException"}
    for f in project.files.values():
        for cls in f.classes.values():
            if cls.bases and project.subclasses_symbol(project.qualify(f, cls.qualname), ("HTTPException",)):
                names.add(cls.name)
    return tuple(sorted(names))


@memoized(key=lambda facts: facts.path)
def _may_raise(project: Project, facts: FileFacts) -> bool:
    """Can this file raise an HTTPException at all? Its text must name one (read before LibCST
    parses the file for its ``raise`` statements: most helpers a middleware calls never do). A file
    whose text cannot be read: maybe."""
    text = project.source_text(facts.path)
    return text is None or any(name in text for name in _exception_names(project))


def _raises(project: Project, facts: FileFacts, fn: FunctionFact) -> List[Raise]:
    """The uncaught ``raise HTTPException`` statements of ``fn``'s own body."""
    if not _may_raise(project, facts):
        return []
    data = facts.rule_data.get(CODE) or {}
    return [
        r
        for r in data.get("raises", ())
        if r.scope == fn.qualname
        and _is_http_exception(project, facts, r.scope, r.exc)
        and not _is_500(project, facts, r.scope, r.status)  # the client gets the 500 it was meant to
        and not _may_catch(project, facts, r.scope, r.guards)
    ]


def _calls(facts: FileFacts, fn: FunctionFact) -> List[CallFact]:
    """The calls in ``fn``'s own body (not in a nested function)."""
    return [c for c in facts.calls if c.decorates is None and facts.function_at(c.scope) is fn]


def _guarded(project: Project, facts: FileFacts, c: CallFact) -> bool:
    """May a handler of the function making this call catch what it raises?"""
    guards = (facts.rule_data.get(CODE) or {}).get("guarded", {}).get((c.call.line, c.call.col))
    return bool(guards) and _may_catch(project, facts, c.scope, guards)


def _callees(project: Project, facts: FileFacts, c: CallFact) -> List[Tuple[FileFacts, FunctionFact]]:
    """The project functions a call may run: the value flow's answer, else the function its name
    resolves to (the flow reads a module only once a value it follows reaches it; a helper called
    with the request is read here)."""
    found = functions_of(project, facts, c.scope, c.call.value)
    if not found and c.call.value is not None and c.call.value.kind == "name":
        target = project.function(project.resolve(facts, c.scope, c.call.value))
        if target is not None:
            found = [target]
    return found


def _helper_raise(project: Project, facts: FileFacts, fn: FunctionFact, depth: int) -> Optional[Tuple[FileFacts, FunctionFact, Raise]]:
    """The first uncaught ``raise HTTPException`` of a project function ``fn`` calls, or of one
    that one calls (``depth`` more calls)."""
    for c in _calls(facts, fn):
        for tf, tfn in _callees(project, facts, c):
            if tfn is fn:
                continue
            found = None
            raised = _raises(project, tf, tfn)
            if raised:
                found = tf, tfn, raised[0]
            elif depth > 0:
                found = _helper_raise(project, tf, tfn, depth - 1)
            if found is not None and not _guarded(project, facts, c):
                return found
    return None


@memoized()
def _handed_names(project: Project) -> FrozenSet[str]:
    """The last names of what the project gives as ``dispatch=`` or applies a ``middleware(...)``
    decorator to by a call (``app.middleware("http")(f)``)."""
    names = set()
    for _f, c in project.iter_calls():
        call = c.call
        for k, v in call.kwargs:
            if k == "dispatch" and v is not None and v.kind == "name":
                names.add(v.value.rsplit(".", 1)[-1])
        inner = call.value
        if (inner is not None and inner.kind == "call" and inner.value is not None and inner.value.kind == "name"
                and inner.value.value.rsplit(".", 1)[-1] == "middleware" and call.args and call.args[0].kind == "name"):
            names.add(call.args[0].value.rsplit(".", 1)[-1])
    return frozenset(names)


def _looks_like_middleware(project: Project, fn: FunctionFact) -> bool:
    """Could ``fn`` be middleware code, by its shape alone: a ``dispatch`` or ``__call__`` method,
    a function under a ``...middleware(...)`` decorator, or one handed over as ``dispatch=`` or to
    a ``middleware(...)`` decorator by a call?"""
    if fn.class_qualname is not None and fn.name in ("dispatch", "__call__"):
        return True
    for d in fn.decorators:
        if d is not None and d.kind == "call" and d.value is not None and d.value.kind == "name" \
                and d.value.value.rsplit(".", 1)[-1] == "middleware":
            return True
    return fn.name in _handed_names(project)


def _may_reach_a_raise(project: Project, facts: FileFacts, fn: FunctionFact, depth: int) -> bool:
    """A cheap gate, by names alone: can ``fn`` raise an HTTPException itself, or call something
    that may (``depth`` calls deep)? Its own file names one, or one of its calls goes to a
    function of a file that does, or cannot be told by name (``self.check()`` of a method: maybe).
    Only where this holds does the rule build the app model."""
    if _may_raise(project, facts):
        return True
    if depth == 0:
        return False
    for c in _calls(facts, fn):
        callee = c.call.value
        if callee is None or callee.kind != "name":
            continue
        target = project.function(project.resolve(facts, c.scope, callee))
        if target is None:
            head = callee.value.split(".", 1)[0]
            if fn.receiver is not None and head == fn.receiver:
                return True  # a method of the instance: maybe
            continue
        tf, tfn = target
        if tfn is not fn and _may_reach_a_raise(project, tf, tfn, depth - 1):
            return True
    return False


class HTTPExceptionInMiddleware(Rule):
    code = CODE
    name = "http-exception-in-middleware"
    summary = "raise HTTPException in middleware: the client gets 500, not the status"
    collector = Collector
    proven_on = ("0.100.0", "0.165.0/1.10.0")
    # a middleware function, a dispatch method or an ASGI __call__ is in the file
    tokens = (b"middleware", b"dispatch", b"__call__")

    def check(self, ctx: CheckContext) -> None:
        project = ctx.project
        if not any(_may_reach_a_raise(project, ctx.facts, fn, 2) for fn in ctx.facts.functions.values()
                   if _looks_like_middleware(project, fn)):
            return  # before the app model: no function here can reach a raise of one
        mine = [m for m in middleware_code(project) if m.facts is ctx.facts and not _handled(project, m)]
        for m in mine:
            for r in _raises(project, m.facts, m.fn):
                ctx.report(
                    r.line,
                    r.col,
                    f"HTTPException raised in {m.what}: middleware runs outside the exception handlers, "
                    f"the client gets 500; return a response (JSONResponse(..., status_code=...)) instead",
                    r.end_line,
                    r.end_col,
                )
            for c in _calls(m.facts, m.fn):
                for tf, tfn in _callees(project, m.facts, c):
                    if tfn is m.fn:
                        continue
                    raised = _raises(project, tf, tfn)
                    found = (tf, tfn, raised[0]) if raised else _helper_raise(project, tf, tfn, 0)
                    if found is None or _guarded(project, m.facts, c):
                        continue
                    hf, hfn, r = found
                    ctx.report(
                        c.call.line,
                        c.call.col,
                        f"{m.what} calls {tfn.name}(), which can raise HTTPException ({ctx.relpath(hf.path)}:{r.line}"
                        f"{'' if hfn is tfn else f', in {hfn.name}()'}): middleware runs outside the exception handlers, "
                        f"the client gets 500; return a response instead",
                    )
                    break
