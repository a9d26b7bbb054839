"""
## What it does
Checks for `add_middleware(...)` or `@app.middleware("http")` called on an app that has already
started: inside the app's lifespan function, a startup handler (`@app.on_event("startup")`,
`add_event_handler("startup", f)`, `on_startup=[f]`), an endpoint or a dependency it runs, or a
function those call (two calls deep). The receiver has to be that very app: the lifespan's `app`
parameter, `request.app`, or the app object the handler or endpoint is registered on, followed
across files and factories. A new app constructed inside the function is not started and is fine,
also when a factory that the handler calls again makes it (even if the running app came from the
same factory), unless the call hands the running app over.

## Why is this bad?
Starlette builds the middleware stack when the app receives its first ASGI call, the lifespan's
included. From Starlette 0.24 (FastAPI 0.91) adding middleware afterwards raises
`RuntimeError: Cannot add middleware after an application has started`: the lifespan fails and the
app never starts, or the endpoint answers 500.

Starlette 1.0 (allowed from FastAPI 0.133, required from 0.164) removed several of these forms from
`Starlette` and `Router`: `on_startup=`, `on_event`, `add_event_handler` and `@app.middleware`. On a
plain Starlette app each one itself fails, before anything starts (`TypeError` for `on_startup=`,
`AttributeError` for the methods). FastAPI re-implements `on_event`, `@app.middleware` and
`on_startup=` on its app, so there they still work (and the middleware still fails once the app has
started), but `app.add_event_handler(...)` raises `AttributeError`; an `APIRouter` keeps `on_event`
and `add_event_handler`. When the project can run Starlette >= 1.0 and the finding sits behind one
of the removed forms, the message says so: move the middleware to where the app is created, and the
handler to the lifespan.

## Example
```python
@asynccontextmanager
async def lifespan(app: FastAPI):
    app.add_middleware(GZipMiddleware)  # RuntimeError
    yield


app = FastAPI(lifespan=lifespan)
```

## Use instead
Register middleware when the app is created:
```python
app = FastAPI(lifespan=lifespan)
app.add_middleware(GZipMiddleware)
```
On Starlette >= 1.0, startup work goes in the lifespan (`on_startup=` and `add_event_handler` are
gone from Starlette's app):
```python
app = Starlette(middleware=[Middleware(GZipMiddleware)], lifespan=lifespan)
```

## Fix safety
No automatic fix.

## References
- [Starlette: Middleware](https://www.starlette.io/middleware/)
- Starlette source: `Starlette.add_middleware`
"""

from __future__ import annotations

from typing import Dict, List, NamedTuple, Set, Tuple

from ..model.apps import (
    SERVING_KINDS,
    _callee_receiver,
    _function_of,
    app_constructors,
    app_model,
    calls_within,
    node_of,
    param_has_type,
    param_of,
    reached_from,
    seq_items,
)
from ..model.dependencies import resolve_callable
from ..model.facts import CallFact, Expr, FileFacts, FunctionFact
from ..model.memo import memoized
from ..model.project import Project
from ..releases.affected import Affected, symptoms_text
from .api import CheckContext, Rule

_CALL_DEPTH = 2


class _Context(NamedTuple):
    facts: FileFacts
    fn: FunctionFact
    kind: str  # "lifespan" | "startup" | "endpoint"
    what: str  # "the lifespan lifespan()", "the startup handler connect()", "the endpoint items()"
    started: frozenset  # the app nodes known to be running there
    app_params: frozenset  # qualified parameter names that hold the running app
    removed: str = ""  # how the handler is registered, when Starlette 1.0 removed that form: "add_event_handler()"


# docs/framework-facts.md part J: what Starlette 1.0 removed, and on which receivers (FastAPI re-implements on_event,
# middleware and on_startup= on its app; APIRouter keeps on_event and add_event_handler)
_REMOVED_ON = {
    "add_event_handler": ("FastAPI", "Starlette", "Router"),
    "on_event": ("Starlette", "Router"),
    "on_startup": ("Starlette", "Router"),
    "middleware": ("Starlette",),
}
STARLETTE_1 = Affected(starlette=">=1.0.0", symptom="Starlette 1.0 removed it")


def _removed(method: str, kinds: Set[str]) -> str:
    """``"add_event_handler()"`` when Starlette >= 1.0 has no such method (or argument) on one of these
    kinds of receiver, else ``""``."""
    if kinds & set(_REMOVED_ON[method]):
        return "on_startup=" if method == "on_startup" else f"{method}()"
    return ""


class MiddlewareAfterStart(Rule):
    code = "AXS404"
    tokens = (b"iddleware",)  # prefilter: where this rule can report
    name = "middleware-after-start"
    summary = "add_middleware / @app.middleware where the app has already started: RuntimeError"
    proven_on = ("0.165.0/1.10.0",)

    # (FastAPI specifier, Starlette specifier, symptom) -- docs/framework-facts.md part E
    affected = ((">=0.91.0", ">=0.24.0", "it raises RuntimeError: Cannot add middleware after an application has started"),)

    def check(self, ctx: CheckContext) -> None:
        for c, where, removed in _findings(ctx.project).get(ctx.facts.path, []):
            name, _ = _callee_receiver(c.call)
            call = "add_middleware()" if name == "add_middleware" else '@app.middleware("http")' if c.decorates else "app.middleware()"
            also = ""
            if removed and ctx.affected_hits((STARLETTE_1,)):
                what = "the call itself" if removed == "middleware()" else f"{removed} itself"
                error = "TypeError" if removed == "on_startup=" else "AttributeError"
                also = f"; on Starlette >= 1.0 {what} already raises {error} (removed in Starlette 1.0), before anything starts"
            ctx.report(
                c.call.line,
                c.call.col,
                f"{call} in {where}, where the app has already started: {symptoms_text(self.affected)}{also}; "
                f"register middleware where the app is created",
            )


@memoized()
def _findings(project: Project) -> Dict[str, List[Tuple[CallFact, str, str]]]:
    """Per file: the call, where it runs, and the form Starlette >= 1.0 removed on the way ("")."""
    out: Dict[str, List[Tuple[CallFact, str, str]]] = {}
    seen: Set[Tuple[str, int, int]] = set()
    for context in _contexts(project):
        reached = _reached(project, context)
        for f, fn in reached:
            for c in calls_within(project, f, fn):
                name, recv = _callee_receiver(c.call)
                if name not in ("add_middleware", "middleware") or recv is None:
                    continue
                spot = (f.path, c.call.line, c.call.col)
                if spot in seen or not _is_running_app(project, f, c.scope, recv, context):
                    continue
                if fn is not context.fn and _fresh_app(project, f, fn, c.scope, recv, reached):
                    continue
                seen.add(spot)
                where = context.what if fn is context.fn else f"{fn.name}(), run by {context.what}"
                removed = context.removed
                if name == "middleware":
                    removed = _removed("middleware", {o.kind for o in project.objects(f, c.scope, recv)}) or removed
                out.setdefault(f.path, []).append((c, where, removed))
    return out


def _reached(project: Project, context: _Context) -> List[Tuple[FileFacts, FunctionFact]]:
    if context.kind == "endpoint":
        return [(r.facts, r.fn) for r in reached_from(project, context.facts, context.fn, _CALL_DEPTH)]
    out = [(context.facts, context.fn)]
    seen = {(context.facts.path, context.fn.qualname)}
    frontier = list(out)
    for _ in range(_CALL_DEPTH):
        nxt = []
        for f, fn in frontier:
            for c in calls_within(project, f, fn):
                target = _function_of(project, f, c.scope, c.call.value)
                if target is not None and (target[0].path, target[1].qualname) not in seen:
                    seen.add((target[0].path, target[1].qualname))
                    nxt.append(target)
        out.extend(nxt)
        frontier = nxt
    return out


def _is_running_app(project: Project, facts: FileFacts, scope: str, recv: Expr, context: _Context) -> bool:
    if recv.kind == "name":
        head, _, rest = recv.value.partition(".")
        prm = param_of(project, facts, scope, head)
        if prm is not None:
            if not rest and project.qualify(prm[0], f"{prm[1].qualname}.{prm[2].name}") in context.app_params:
                return True
            # request.app / websocket.app
            if rest == "app" and (param_has_type(project, *prm, "Request") or param_has_type(project, *prm, "WebSocket")):
                return True
    objs = {node_of(o) for o in project.objects(facts, scope, recv) if o.kind in SERVING_KINDS or o.kind == "FastAPI.router"}
    if any(o in context.started for o in objs):
        return True
    # the lifespan's app parameter, followed into a helper through its call sites
    return any(o.key[0] == "param" and f"{o.key[1]}.{o.key[2]}" in context.app_params for o in objs)


def _fresh_app(
    project: Project, facts: FileFacts, fn: FunctionFact, scope: str, recv: Expr, reached: List[Tuple[FileFacts, FunctionFact]]
) -> bool:
    """Is every app ``recv`` can be constructed by ``fn``'s own body? A factory that an endpoint (or
    a startup handler) calls again makes a new, unstarted app each time, even when the running app
    came from the same constructor call (gradio's ``App.create_app``, called by an endpoint through
    ``mount_gradio_app``). Not when ``recv`` is also ``fn``'s parameter and a call on the way from
    the handler (``reached``) passes something for it."""
    if recv.kind != "name" or "." in recv.value:
        return False
    objs = project.objects(facts, scope, recv)
    if not objs:
        return False
    made_here = {(f.path, c.call.line, c.call.col) for f, c, _o in app_constructors(project) if f is facts and c.scope == fn.qualname}
    if not all(o.key in made_here for o in objs):
        return False
    prm = param_of(project, facts, scope, recv.value)
    if prm is not None and prm[1] is fn:
        on_the_way = {(f.path, g.qualname) for f, g in reached}

        def caller(cf: FileFacts, call_scope: str) -> bool:  # a call in a reached function (or one nested in it)
            parts = call_scope.split(".")
            return any((cf.path, ".".join(parts[:i])) in on_the_way for i in range(1, len(parts) + 1))

        values = project.param_values(*prm, callers=caller) or project.param_values(*prm)
        for _f, _s, value in values:
            if not (value.kind == "const" and value.value is None):
                return False  # a caller may hand over the running app
    return True


def _contexts(project: Project) -> List[_Context]:
    out: List[_Context] = []
    # lifespan functions and on_startup=[...] lists of the constructors
    for f, c, o in app_constructors(project):
        started = frozenset({node_of(o)}) if o.kind in SERVING_KINDS else frozenset()
        lifespan = c.call.kwarg("lifespan")
        if lifespan is not None and lifespan.kind != "const":
            for lf, lfn in resolve_callable(project, f, c.scope, lifespan):
                firsts = [p for p in lfn.params if p.kind in ("posonly", "pos")]
                params = frozenset({project.qualify(lf, f"{lfn.qualname}.{firsts[0].name}")} if firsts else ())
                out.append(_Context(lf, lfn, "lifespan", f"the lifespan {lfn.name}()", started, params))
        removed = _removed("on_startup", {o.kind})
        for _f, s, item in seq_items(project, f, c.scope, c.call.kwarg("on_startup")):
            target = _function_of(project, _f, s, item)
            if target is not None:
                out.append(_Context(target[0], target[1], "startup", f"the startup handler {target[1].name}()", started,
                                    frozenset(), removed))
    # @app.on_event("startup"), app.on_event("startup")(f), app.add_event_handler("startup", f)
    for method in ("on_event", "add_event_handler"):
        for f, c in project.calls_named(method):
            name, recv = _callee_receiver(c.call)
            if name != method or recv is None:
                continue
            event = c.call.args[0] if c.call.args else c.call.kwarg("event_type")
            if project.string_value(f, c.scope, event) != "startup":
                continue
            receivers = project.objects(f, c.scope, recv)
            started = frozenset(node_of(o) for o in receivers if o.kind in SERVING_KINDS or o.kind == "FastAPI.router")
            removed = _removed(method, {o.kind for o in receivers})
            handlers = []
            if method == "add_event_handler":
                target = _function_of(project, f, c.scope, c.call.args[1] if len(c.call.args) > 1 else c.call.kwarg("func"))
                if target is not None:
                    handlers.append(target)
            elif c.decorates is not None and c.decorates in f.functions:
                handlers.append((f, f.functions[c.decorates]))
            else:
                for outer in f.calls:
                    if outer.call.value == c.call and outer.call.args:
                        target = _function_of(project, f, outer.scope, outer.call.args[0])
                        if target is not None:
                            handlers.append(target)
            for hf, hfn in handlers:
                out.append(_Context(hf, hfn, "startup", f"the startup handler {hfn.name}()", started, frozenset(), removed))
    # endpoints (and, through reached_from, their dependencies)
    model = app_model(project)
    for e in model.all_endpoints():
        started = frozenset(a for a in model.apps if e.owner in model.served(a))
        out.append(_Context(e.facts, e.fn, "endpoint", f"the endpoint {e.fn.name}()", started, frozenset()))
    return out

