"""
## What it does
Checks for a `BaseHTTPMiddleware` registered on an app that also runs background tasks. A
BaseHTTPMiddleware is `@app.middleware("http")` (also `app.middleware("http")(f)`),
`add_middleware(BaseHTTPMiddleware, dispatch=f)`, or any subclass of `BaseHTTPMiddleware` (direct,
qualified, or through intermediate classes in other files; also the third-party ones slowapi's
`SlowAPIMiddleware`, starlette-context's `ContextMiddleware`, starlette-prometheus's
`PrometheusMiddleware` and fastapi-guard's `SecurityMiddleware`) registered with `add_middleware`, `middleware=[Middleware(...)]`, or
wrapping the app. A background task is `add_task` on an injected
`BackgroundTasks` parameter (also one annotated with a subclass; of the endpoint, a dependency, or a
helper it calls), or a response
built with `background=BackgroundTask(...)`. Apps, routers, middleware and tasks are followed
through the project's value flow, across files: factories and builder classes, apps and routers
held by objects (`self.app`, passed to a constructor by keyword or in a `**` dict), `include_router`
chains (also in loops and comprehensions over lists and dicts of routers, or of the modules that
hold them), `routes=` / `middleware=` lists built anywhere (comprehensions included), routes added by methods of router classes (`add_api_route`, bound methods, wrapped
callables), setup functions that receive the app, mounted sub-apps, and the injected
`BackgroundTasks` handed on to helpers and service methods several calls away. Where the flow
cannot tell what an expression holds, nothing is reported. The finding is reported at the
middleware registration and names one endpoint that schedules a task.

## Why is this bad?
Starlette's `BaseHTTPMiddleware` streams the inner response through a task group, and in several
releases the endpoint's background task runs inside it:

- Starlette <= 0.20.0 (FastAPI <= 0.84) and 0.23.1 - 0.28.0 (FastAPI 0.90.1 - 0.107.0): the
  response is not complete until the task has finished; the client waits for the task, and its next
  request on the same keep-alive connection waits too (Starlette issue 919).
- Starlette 0.20.1 - 0.20.4 (FastAPI 0.85.0 - 0.86.0): the task is cancelled right after the
  response (Starlette issue 1438).

Other releases work, but in every release a `ContextVar` set in the endpoint is invisible to the
middleware after `call_next`, and `request.is_disconnected()` never returns True behind it (AXS203).

## Example
```python
from fastapi import BackgroundTasks, FastAPI

app = FastAPI()


@app.middleware("http")
async def add_timing(request, call_next):
    return await call_next(request)


@app.post("/signup")
async def signup(email: str, tasks: BackgroundTasks):
    tasks.add_task(send_welcome_mail, email)
    return {"ok": True}
```

## Use instead
A pure ASGI middleware:
```python
class Timing:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        await self.app(scope, receive, send)


app.add_middleware(Timing)
```

## Fix safety
No automatic fix: the middleware has to be rewritten.

## References
- [Starlette: BaseHTTPMiddleware limitations](https://www.starlette.io/middleware/#limitations)
- [Starlette issue 919](https://github.com/encode/starlette/issues/919),
  [issue 1438](https://github.com/encode/starlette/issues/1438)
- [Pure ASGI middleware](https://www.starlette.io/middleware/#pure-asgi-middleware)
"""

from __future__ import annotations

from typing import Optional, Tuple

from ..model.apps import Endpoint, Reached, app_model, describe_middleware, is_base_http, task_endpoints, task_uses
from .api import CheckContext, Rule


class BaseHTTPMiddlewareWithBackgroundTasks(Rule):
    code = "AXS201"
    tokens = (b"iddleware",)  # prefilter: where this rule can report
    name = "base-http-middleware-with-background-tasks"
    summary = "BaseHTTPMiddleware on an app whose endpoints run background tasks: held or cancelled tasks"
    proven_on = ("0.100.0", "0.165.0/1.10.0")

    # (FastAPI specifier, Starlette specifier, symptom) -- docs/framework-facts.md part C
    affected = (
        ("<=0.84.0", "<=0.20.0", "the response does not complete until the task has finished"),
        (">=0.85.0,<=0.86.0", ">=0.20.1,<=0.20.4", "the task is cancelled right after the response"),
        (">=0.90.1,<=0.107.0", ">=0.23.1,<=0.28.0", "the response does not complete until the task has finished"),
    )

    def check(self, ctx: CheckContext) -> None:
        project = ctx.project
        model = app_model(project)
        scheduling = self._scheduling_endpoints(ctx)
        if not scheduling:
            return
        # release awareness: only where the project can run an affected release
        release_hits = ctx.affected_hits()
        if not release_hits:
            return
        why = ctx.explain_releases(release_hits)
        seen = set()
        for app in model.apps:
            for reg in model.middleware.get(app, ()):
                if reg.facts is not ctx.facts or (reg.call.line, reg.call.col) in seen or not is_base_http(project, reg):
                    continue
                served = {(e.facts.path, e.fn.qualname) for e in model.endpoints_served(app) if e.kind == "http"}
                hits = [s for s in scheduling if (s[0].facts.path, s[0].fn.qualname) in served]
                if not hits:
                    continue
                seen.add((reg.call.line, reg.call.col))
                ctx.report(reg.call.line, reg.call.col, self._message(ctx, describe_middleware(project, reg), hits[0], why))

    def _scheduling_endpoints(self, ctx: CheckContext):
        """(endpoint, how it reaches the task, where) for every task use, best first."""
        out = []
        for use in task_uses(ctx.project):
            for endpoint, reached in task_endpoints(ctx.project, use):
                out.append((endpoint, reached, use))
        out.sort(key=lambda s: (s[1].how != "endpoint", s[0].facts.path, s[0].fn.line, s[2].line))
        return out

    def _message(self, ctx: CheckContext, what: str, hit: Tuple[Endpoint, Reached, object], why: str) -> str:
        endpoint, reached, use = hit
        where = self._where(ctx, endpoint, reached, use)
        return (
            f"BaseHTTPMiddleware ({what}) on an app whose endpoint {endpoint.fn.name}() schedules a background "
            f"task ({where}): {why}; use a pure ASGI middleware"
        )

    @staticmethod
    def _where(ctx: CheckContext, endpoint: Endpoint, reached: Reached, use) -> str:
        if reached.how == "endpoint":
            return f"{ctx.relpath(use.facts.path)}:{use.line}"
        via: Optional[str] = "dependency" if reached.how == "dependency" else "call to"
        return f"{ctx.relpath(endpoint.facts.path)}:{endpoint.fn.line}, through {via} {reached.fn.name}()"
