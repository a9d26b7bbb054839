"""
## What it does
Checks for `@app.on_event("startup")` / `@app.on_event("shutdown")` (also `app.router.on_event`,
and `app.on_event(...)(handler)`) on a FastAPI app constructed with `lifespan=`. The app is followed
across files and factories; two apps in one project stay separate.

## Why is this bad?
When an app has a `lifespan`, FastAPI runs only the lifespan: the `on_event` handlers of the same
app never run, in every release. Nothing fails; at most a `DeprecationWarning` for `on_event` is shown,
and the startup work (connection pools, caches, schedulers) silently never happens.

Starlette 1.0 (allowed from FastAPI 0.133, required from 0.164) removed `on_event` from Starlette's
app and router; FastAPI re-implements it on its app (0.128.3) and `APIRouter`, so on FastAPI with
Starlette >= 1.0 the handler still registers and still never runs. (On a plain Starlette app,
`on_event` itself raises `AttributeError` there; that is not this rule's concern.)

## Example
```python
@asynccontextmanager
async def lifespan(app):
    yield


app = FastAPI(lifespan=lifespan)


@app.on_event("startup")
async def connect():
    await db.connect()  # never runs
```

## Use instead
Move the handler's code into the lifespan: startup code before `yield`, shutdown code after it.
```python
@asynccontextmanager
async def lifespan(app):
    await db.connect()
    yield
    await db.disconnect()


app = FastAPI(lifespan=lifespan)
```

## Fix safety
No automatic fix: the handler's code has to move into the lifespan function.

## References
- [FastAPI: Lifespan Events](https://fastapi.tiangolo.com/advanced/events/)
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple

from ..model.apps import app_constructors, node_of
from ..model.facts import CallFact, Expr, FileFacts
from ..model.memo import memoized
from ..model.project import ObjRef, Project
from .api import CheckContext, Rule


class OnEventWithLifespan(Rule):
    code = "AXS403"
    tokens = (b"on_event",)  # prefilter: where this rule can report
    name = "on-event-with-lifespan"
    summary = "on_event handler on an app created with lifespan=: the handler never runs"
    proven_on = ("0.165.0/1.10.0",)

    def check(self, ctx: CheckContext) -> None:
        project, facts = ctx.project, ctx.facts
        with_lifespan = _apps_with_lifespan(project)
        if not with_lifespan:
            return
        for c in facts.calls:
            callee = c.call.value
            if callee is None or callee.kind not in ("name", "attr"):
                continue
            method = callee.value.rsplit(".", 1)[-1] if callee.kind == "name" else callee.args[0]
            if method != "on_event" or (callee.kind == "name" and "." not in callee.value):
                continue
            receiver = Expr("name", callee.value.rsplit(".", 1)[0]) if callee.kind == "name" else callee.value
            apps = {node_of(o) for o in project.objects(facts, c.scope, receiver) if o.kind in ("FastAPI", "FastAPI.router")}
            hit = sorted((a for a in apps if a in with_lifespan), key=repr)
            if not hit or _handed_on(facts, c):
                continue
            event = project.string_value(facts, c.scope, c.call.args[0] if c.call.args else c.call.kwarg("event_type"))
            where = "after" if event == "shutdown" else "before"
            what = f'on_event("{event}")' if event else "on_event(...)"
            lf, lc = with_lifespan[hit[0]]
            ctx.report(
                c.call.line,
                c.call.col,
                f"{what} handler on an app created with lifespan= ({ctx.relpath(lf.path)}:{lc.call.line}): FastAPI "
                f"runs only the lifespan, so this handler never runs (nothing fails, at most a DeprecationWarning for on_event); move its "
                f"code into the lifespan function, {where} its yield",
            )


def _handed_on(facts: FileFacts, c: CallFact) -> bool:
    """``return self._app.on_event(event)``: a wrapper handing the decorator on registers nothing
    itself (whoever applies what it returns does)."""
    fn = facts.function_at(c.scope)
    return fn is not None and any(
        r is not None and r.kind == "call" and (r.line, r.col) == (c.call.line, c.call.col) for r in fn.returns
    )


@memoized()
def _apps_with_lifespan(project: Project) -> Dict[ObjRef, Tuple[FileFacts, CallFact]]:
    """The FastAPI apps constructed with a ``lifespan=`` that is set, with their constructor call."""
    out: Dict[ObjRef, Tuple[FileFacts, CallFact]] = {}
    for f, c, o in app_constructors(project):
        if o.kind == "FastAPI" and _is_set(project, f, c, c.call.kwarg("lifespan")):
            out.setdefault(node_of(o), (f, c))
    return out


def _is_set(project: Project, facts: FileFacts, c: CallFact, value: Optional[Expr], depth: int = 0) -> bool:
    """Is ``lifespan=`` given a value that is never None (a function, a call, an imported name)?"""
    if value is None or depth > 4:
        return False
    if value.kind == "const":
        return value.value is not None
    if value.kind == "call":
        return True
    if value.kind != "name":
        return False
    qname = project.resolve_name(facts, c.scope, value.value)
    if qname is None:
        return False
    if project.definition(qname) is not None:
        return True
    if project.param(qname) is not None:
        return False  # a factory's parameter: may be None
    bound = project.bindings(qname)
    if bound:
        return all(b.value.kind != "const" for _f, b in bound)
    # an imported name the project does not define (a library's lifespan)
    return not qname.startswith(project.module_name(facts) + ".")

