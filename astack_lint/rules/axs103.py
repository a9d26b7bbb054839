"""
## What it does
Checks for FastAPI routes served without FastAPI's request exit stack: an `APIRouter`, or a FastAPI
app's `.router`, mounted or routed in a plain `Starlette` app (`Starlette(routes=[Mount("/api",
app=router)])`, `starlette_app.mount("/api", router)`, `Starlette(routes=router.routes)`) with no
default-named `AsyncExitStackMiddleware` around it. Mounting a whole `FastAPI()` app is fine, and so
is a Starlette app that is itself mounted inside a FastAPI app.

## Why is this bad?
FastAPI's route handlers need the exit stack that `FastAPI.build_middleware_stack` installs; a plain
Starlette app does not install it. On FastAPI >= 0.118.0 every HTTP route of the router answers 500
with `AssertionError: fastapi_middleware_astack not found in request scope`. On 0.86 - 0.105 Form and
File routes answer 400 "There was an error parsing the body" and routes with a yield dependency
answer 500; on 0.74 - 0.85 routes with a yield dependency answer 500. (0.106 - 0.117.1 work.)

The rule asks which releases the project can run (`astack-lint --show-settings`): it reports only
when they include 0.118.0 or later, or 0.74 - 0.105 and the router has a route with a yield
dependency (or, from 0.86, a Form/File parameter).

## Example
```python
from fastapi import APIRouter
from starlette.applications import Starlette
from starlette.routing import Mount

router = APIRouter()

@router.get("/items")
async def items():
    return []

app = Starlette(routes=[Mount("/api", app=router)])
```

## Use instead
Serve the router from a FastAPI app, or give the Starlette app FastAPI's exit stack with its default
name:
```python
from fastapi.middleware.asyncexitstack import AsyncExitStackMiddleware
from starlette.middleware import Middleware

app = Starlette(
    routes=[Mount("/api", app=router)],
    middleware=[Middleware(AsyncExitStackMiddleware)],
)
```
(`fastapi.middleware.asyncexitstack` is missing on FastAPI 0.106.0 - 0.117.1, where the router works
without it.)

## Fix safety
No automatic fix.

## References
- FastAPI source: `FastAPI.build_middleware_stack`, `fastapi/routing.py`
"""

from __future__ import annotations

from typing import Optional, Set, Tuple

from ..model.apps import (
    _constructor_calls,
    _contains,
    _decorator_dependencies,
    annotation_symbols,
    app_model,
    dependencies_of,
    middleware_registrations,
    node_of,
    seq_items,
)
from ..model.dependencies import seen_as_generator_from
from ..model.facts import Expr, FileFacts, FunctionFact
from ..model.memo import false, memoized
from ..model.project import ObjRef, Project
from ..model.symbols import DEFAULT_STACK_NAMES
from ..releases.affected import Affected
from .api import CheckContext, Rule

ROUTER_KINDS = ("APIRouter", "FastAPI.router")
_FORM_PARAMS = tuple(f"fastapi.{m}{n}" for m in ("", "param_functions.", "params.") for n in ("File", "Form"))


def _reads_form(project: Project, facts: FileFacts, fn: FunctionFact) -> bool:
    for prm in fn.params:
        if "UploadFile" in annotation_symbols(project, facts, fn.scope, prm.annotation):
            return True
        markers = [prm.default]
        ann = prm.annotation
        if ann is not None and ann.kind == "sub" and project.symbol(facts, fn.scope, ann.value) == "Annotated":
            markers.extend(ann.args[1:])
        for m in markers:
            if m is not None and m.kind == "call" and project.resolve(facts, fn.scope, m.value) in _FORM_PARAMS:
                return True
    return False


def _has_yield_dependency(project: Project, facts: FileFacts, fn: FunctionFact) -> bool:
    todo = dependencies_of(project, facts, fn) + _decorator_dependencies(project, facts, fn)
    seen = set()
    while todo and len(seen) < 200:
        f, dep = todo.pop()
        if (f.path, dep.qualname) in seen:
            continue
        seen.add((f.path, dep.qualname))
        if dep.is_generator and seen_as_generator_from(project, f, dep) == "":
            return True  # (behind functools.wraps it is one only from FastAPI 0.123.5: not on 0.74 - 0.105)
        todo.extend(dependencies_of(project, f, dep))
    return False


def _old_release_needs(project: Project, routers: Set[ObjRef]) -> Tuple[bool, bool]:
    """Whether the routers' HTTP routes need the stack on FastAPI 0.74 - 0.105: (a route has a
    dependency with yield, a route reads a form or a file)."""
    model = app_model(project)
    has_yield = has_form = False
    for r in routers:
        for e in model.endpoints_served(node_of(r)):
            if e.kind == "http":
                has_yield = has_yield or _has_yield_dependency(project, e.facts, e.fn)
                has_form = has_form or _reads_form(project, e.facts, e.fn)
    return has_yield, has_form


def _router_objects(project: Project, facts: FileFacts, scope: str, expr: Optional[Expr]) -> Set[ObjRef]:
    if expr is None:
        return set()
    if expr.kind == "name" and expr.value.endswith(".routes"):
        expr = Expr("name", expr.value[: -len(".routes")], line=expr.line, col=expr.col)
    elif expr.kind == "attr" and expr.args == ("routes",):
        expr = expr.value
    return {o for o in project.objects(facts, scope, expr) if o.kind in ROUTER_KINDS}


def _is_default_stack(project: Project, reg) -> bool:
    if project.symbol(reg.facts, reg.scope, reg.cls) != "AsyncExitStackMiddleware":
        return False
    arg = reg.arg("context_name", 0)
    return arg is None or project.string_value(reg.facts, reg.scope, arg) in DEFAULT_STACK_NAMES


def _has_stack(project: Project, app: ObjRef) -> bool:
    return any(app in reg.targets and _is_default_stack(project, reg) for reg in middleware_registrations(project))


def _owners(project: Project, facts: FileFacts, mount: Expr) -> Set[ObjRef]:
    """The apps whose ``routes=[...]`` (directly or via a bound list) holds this Mount call."""
    out: Set[ObjRef] = set()
    for f, call in _constructor_calls(project):
        routes = call.call.kwarg("routes")
        if routes is not None and _contains(project, f, call.scope, routes, mount):
            out |= project.objects(f, call.scope, call.call)
    for f, c in project.calls_named("append"):
        callee = c.call.value
        if callee is not None and callee.kind == "name" and callee.value.endswith(".routes.append") and c.call.args:
            if c.call.args[0] == mount and f is facts:
                base = Expr("name", callee.value[: -len(".routes.append")])
                if base.value.endswith(".router"):
                    base = Expr("name", base.value[: -len(".router")])
                out |= project.objects(f, c.scope, base)
    return out


@memoized(guard=false)
def _mounted_in_fastapi(project: Project, app: ObjRef) -> bool:
    result = False
    for f, c in project.calls_named("mount"):
        target = c.call.kwarg("app") or (c.call.args[1] if len(c.call.args) > 1 else None)
        if target is not None and app in project.objects(f, c.scope, target):
            receiver = Expr("name", c.call.value.value.rsplit(".", 1)[0]) if c.call.value.kind == "name" and "." in c.call.value.value else None
            if receiver and any(o.kind == "FastAPI" for o in project.objects(f, c.scope, receiver)):
                result = True
    for f, c in project.calls_named("Mount") + project.calls_named("Host"):
        target = c.call.kwarg("app") or (c.call.args[1] if len(c.call.args) > 1 else None)
        if target is not None and app in project.objects(f, c.scope, target):
            if any(o.kind == "FastAPI" or (o.kind == "Starlette" and _mounted_in_fastapi(project, o)) for o in _owners(project, f, c.call)):
                result = True
    return result


class RouterWithoutExitStack(Rule):
    code = "AXS103"
    tokens = (b"Mount", b"mount", b"routes", b"Host")
    name = "router-without-exit-stack"
    summary = "APIRouter served by a plain Starlette app without FastAPI's exit stack: every route 500"
    proven_on = ("0.100.0", "0.110.0", "0.165.0/1.10.0")

    # docs/framework-facts.md part A (0.106.0 - 0.117.1: such a router works). The older rows need routes of a kind.
    affected = (
        Affected(fastapi=">=0.118.0", symptom="every HTTP route answers 500 ('fastapi_middleware_astack not found in request scope')"),
        Affected(fastapi=">=0.86.0,<0.106.0", tag="yield", symptom="routes with a yield dependency answer 500"),
        Affected(fastapi=">=0.86.0,<0.106.0", tag="form", symptom="Form/File routes answer 400 ('There was an error parsing the body')"),
        Affected(fastapi=">=0.74.0,<0.86.0", tag="yield", symptom="routes with a yield dependency answer 500"),
    )

    def check(self, ctx: CheckContext) -> None:
        project, facts = ctx.project, ctx.facts
        for c in facts.calls:
            call = c.call
            if call.kwarg("app") is None and call.kwarg("routes") is None and len(call.args) < 2:
                continue  # no app or routes given: nothing below can report; do not resolve (it may load modules)
            sym = project.callee_symbol(facts, c.scope, call)
            if sym in ("Mount", "Host"):
                target = call.kwarg("app")
                if target is None and len(call.args) > 1:
                    target = call.args[1]
                routers = _router_objects(project, facts, c.scope, target)
                routers |= _router_objects(project, facts, c.scope, call.kwarg("routes"))
                if not routers or self._mount_has_stack(ctx, c.scope, call):
                    continue
                self._report(ctx, call, routers, _owners(project, facts, call))
            elif sym is None and call.value is not None and call.value.kind == "name" and call.value.value.endswith(".mount"):
                receiver = Expr("name", call.value.value[: -len(".mount")])
                if receiver.value.endswith(".router"):
                    receiver = Expr("name", receiver.value[: -len(".router")])
                owners = project.objects(facts, c.scope, receiver)
                target = call.kwarg("app") or (call.args[1] if len(call.args) > 1 else None)
                routers = _router_objects(project, facts, c.scope, target)
                if routers:
                    self._report(ctx, call, routers, owners)
            else:
                # Starlette(routes=router.routes) / Starlette(routes=[*router.routes, ...])
                owners = {o for o in project.objects(facts, c.scope, call) if o.kind == "Starlette"}
                routes = call.kwarg("routes")
                if not owners or routes is None:
                    continue
                routers = _router_objects(project, facts, c.scope, routes)
                if routes.kind == "seq":
                    for item in routes.args:
                        if item.kind == "star":
                            routers |= _router_objects(project, facts, c.scope, item.value)
                if routers:
                    self._report(ctx, routes if routes.line else call, routers, owners)

    def _mount_has_stack(self, ctx: CheckContext, scope: str, call: Expr) -> bool:
        mw = call.kwarg("middleware")
        if mw is None:
            return False
        for f, s, item in seq_items(ctx.project, ctx.facts, scope, mw):
            for reg in middleware_registrations(ctx.project):
                if reg.call == item and reg.facts is f and _is_default_stack(ctx.project, reg):
                    return True
        return False

    def _report(self, ctx: CheckContext, at: Expr, routers: Set[ObjRef], owners: Set[ObjRef]) -> None:
        project = ctx.project
        plain = [o for o in owners if o.kind == "Starlette"]
        if not plain or len(plain) != len(owners):
            return  # served by FastAPI, or by something we cannot see: stay quiet
        if any(_has_stack(project, o) or _mounted_in_fastapi(project, o) for o in plain):
            return
        has_yield, has_form = _old_release_needs(project, routers)
        rows = [a for a in self.affected if not a.tag or (a.tag == "yield" and has_yield) or (a.tag == "form" and has_form)]
        hits = ctx.affected_hits(rows)
        if not hits:
            return
        what = "an APIRouter" if any(r.kind == "APIRouter" for r in routers) else "a FastAPI app's .router"
        ctx.report(
            at.line,
            at.col,
            f"{what} served by a plain Starlette app without FastAPI's exit stack: {ctx.explain_releases(hits)}; "
            f"serve it from FastAPI() or add Middleware(AsyncExitStackMiddleware) without a context_name",
        )
