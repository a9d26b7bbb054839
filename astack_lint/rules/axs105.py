"""
## What it does
Checks for a `Middleware(...)` instance passed to `add_middleware` (directly, or through a name
bound to one): `app.add_middleware(Middleware(CORSMiddleware, allow_origins=["*"]))`.

## Why is this bad?
`add_middleware` takes the middleware class and its arguments, not a `Middleware` wrapper. Starlette
later calls what it was given with the inner app, and fails with
`TypeError: 'Middleware' object is not callable`: at the `add_middleware` call on Starlette <= 0.23,
at startup or on the first request from Starlette 0.24 on. The app never serves a request.

## Example
```python
from fastapi import FastAPI
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

app = FastAPI()
app.add_middleware(Middleware(CORSMiddleware, allow_origins=["*"]))
```

## Use instead
```python
app.add_middleware(CORSMiddleware, allow_origins=["*"])
# or
app = FastAPI(middleware=[Middleware(CORSMiddleware, allow_origins=["*"])])
```

## Fix safety
No automatic fix yet.

## References
- [Starlette middleware](https://www.starlette.io/middleware/)
"""

from __future__ import annotations

from ..appmodel import middleware_registrations
from ..rule import CheckContext, Rule


class MiddlewareInstanceAdded(Rule):
    code = "AXS105"
    tokens = (b"add_middleware",)
    name = "middleware-instance-in-add-middleware"
    summary = "add_middleware() given a Middleware(...) instance instead of the class"

    def check(self, ctx: CheckContext) -> None:
        project = ctx.project
        for reg in middleware_registrations(project):
            if reg.facts is not ctx.facts or reg.how != "add_middleware" or reg.cls is None:
                continue
            if not self._is_middleware_instance(ctx, reg.scope, reg.cls):
                continue
            ctx.report(
                reg.call.line,
                reg.call.col,
                "add_middleware() takes the middleware class, not a Middleware(...) instance: "
                "TypeError: 'Middleware' object is not callable (at startup or the first request on "
                "Starlette >= 0.24, at this call before); pass the class and its arguments",
            )

    def _is_middleware_instance(self, ctx: CheckContext, scope: str, expr) -> bool:
        project = ctx.project
        if expr.kind == "call":
            return project.callee_symbol(ctx.facts, scope, expr) == "Middleware"
        if expr.kind == "name":
            bound = project.bindings(project.resolve_name(ctx.facts, scope, expr.value))
            return bool(bound) and all(
                b.value.kind == "call" and project.callee_symbol(f, b.scope, b.value) == "Middleware" for f, b in bound
            )
        return False
