"""
## What it does
Checks for `await request.is_disconnected()` in an endpoint (or a dependency or helper it runs, or a
function nested in it) that an app serves behind a `BaseHTTPMiddleware`: `@app.middleware("http")`,
`add_middleware(BaseHTTPMiddleware, dispatch=f)`, or any `BaseHTTPMiddleware` subclass, registered
on the app itself or on an app it is mounted in. `request` is a parameter annotated `Request`
(FastAPI's or Starlette's).

## Why is this bad?
From Starlette 0.21.0 (FastAPI 0.87.0), `BaseHTTPMiddleware` hands the endpoint a wrapped `receive`
that never reports the client's disconnect to `is_disconnected()`: it always returns False. A
long-polling loop or a slow computation that checks it to stop early keeps running for a client
that is gone.

A check inside a streaming response's generator is not reported: there Starlette cancels the
generator when the client leaves, behind the middleware too, so the check is only dead code.

## Example
```python
app = FastAPI()


@app.middleware("http")
async def timing(request, call_next):
    return await call_next(request)


@app.get("/poll")
async def poll(request: Request):
    while not await request.is_disconnected():  # never True behind the middleware
        ...
```

## Use instead
Write the middleware as pure ASGI middleware, which passes `receive` through untouched:
```python
class Timing:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        await self.app(scope, receive, send)


app.add_middleware(Timing)
```

## Fix safety
No automatic fix: the middleware has to be rewritten.

## References
- [Starlette: BaseHTTPMiddleware limitations](https://www.starlette.io/middleware/#limitations)
- [Pure ASGI middleware](https://www.starlette.io/middleware/#pure-asgi-middleware)
"""

from __future__ import annotations

from typing import List

from ..model.apps import (
    MiddlewareReg,
    app_model,
    describe_middleware,
    endpoints_running,
    is_base_http,
    param_has_type,
    param_of,
)
from .api import CheckContext, Rule


class IsDisconnectedBehindBaseHTTPMiddleware(Rule):
    code = "AXS203"
    tokens = (b"is_disconnected",)  # prefilter: where this rule can report
    name = "is-disconnected-behind-base-http-middleware"
    summary = "request.is_disconnected() in an endpoint behind BaseHTTPMiddleware: never True"
    proven_on = ("0.86.0", "0.165.0/1.10.0")

    # (FastAPI specifier, Starlette specifier, symptom) -- docs/framework-facts.md part C
    affected = ((">=0.87.0", ">=0.21.0", "it never returns True"),)

    def check(self, ctx: CheckContext) -> None:
        project, facts = ctx.project, ctx.facts
        for c in facts.calls:
            callee = c.call.value
            if not c.awaited or callee is None or callee.kind != "name" or not callee.value.endswith(".is_disconnected"):
                continue
            receiver = callee.value[: -len(".is_disconnected")]
            if "." in receiver:
                continue
            prm = param_of(project, facts, c.scope, receiver)
            if prm is None or not param_has_type(project, *prm, "Request"):
                continue
            inner = facts.function_at(c.scope)
            if inner is not None and inner.is_generator:
                # a streaming body: Starlette cancels the generator when the client leaves, with or
                # without the middleware; the check is only dead code there
                continue
            regs = self._middleware_in_front(ctx, c.scope)
            if not regs:
                continue
            reg = regs[0]
            # release awareness: only where the project can run an affected release
            hits = ctx.affected_hits()
            if not hits:
                return
            ctx.report(
                c.call.line,
                c.call.col,
                f"await {receiver}.is_disconnected() in an endpoint served behind BaseHTTPMiddleware "
                f"({describe_middleware(project, reg)} at {ctx.relpath(reg.facts.path)}:{reg.call.line}): "
                f"{ctx.explain_releases(hits)}, so the endpoint never notices the client left; "
                f"use a pure ASGI middleware",
            )

    @staticmethod
    def _middleware_in_front(ctx: CheckContext, scope: str) -> List[MiddlewareReg]:
        project = ctx.project
        model = app_model(project)
        regs = {}
        for endpoint, _reached in endpoints_running(project, ctx.facts, scope):
            for app in model.serving_apps(endpoint.facts, endpoint.fn):
                for r in model.middleware.get(app, ()):
                    if is_base_http(project, r):
                        regs[(r.facts.path, r.call.line, r.call.col)] = r
        return [regs[k] for k in sorted(regs)]
