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
The fix rewrites `app.add_middleware(Middleware(X, a, k=v))` to `app.add_middleware(X, a, k=v)`. It
is safe: `add_middleware` takes exactly what `Middleware` wraps (the class, then its arguments), and
the call cannot work as written. Only `Middleware(` and its closing parenthesis go; the arguments,
and comments among them, stay as they are (in a multi-line call they keep their indentation, and
one trailing comma is kept). No fix when the instance comes through a name
(`app.add_middleware(gzip)`), when `add_middleware` gets other arguments too, when the class is
passed by keyword (`Middleware(cls=X)`), or for `add_middleware(middleware_class=Middleware(X, a))`
(a positional argument cannot follow the keyword). An import of `Middleware` that is no longer used
is left for your other linters.

## References
- [Starlette middleware](https://www.starlette.io/middleware/)
"""

from __future__ import annotations

import libcst as cst

from ..appmodel import middleware_registrations
from ..edits import NodeText, unwrap_call
from ..rule import CheckContext, Fix, Rule, RuleCollector


class Collector(RuleCollector):
    """The fix of each ``add_middleware(Wrapper(X, ...))`` call that can be unwrapped, by the
    call's position: ``{(line, col): edits}`` (whether ``Wrapper`` is Starlette's ``Middleware`` is
    for ``check`` to decide)."""

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.data = {}

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        name = func.attr.value if isinstance(func, cst.Attribute) else getattr(func, "value", None)
        if name != "add_middleware" or len(node.args) != 1:
            return
        arg = node.args[0]
        inner = arg.value
        if arg.star or not isinstance(inner, cst.Call) or not inner.args:
            return
        first = inner.args[0]
        if first.keyword is not None or first.star:
            return
        if arg.keyword is not None:
            if arg.keyword.value != "middleware_class":
                return
            if any(a.keyword is None and a.star != "**" for a in inner.args[1:]):
                return  # a positional argument cannot follow middleware_class=
        edits = unwrap_call(NodeText(self), arg, inner)
        if edits:
            key = self.pos(node)
            self.data[key] = None if key in self.data else edits


class MiddlewareInstanceAdded(Rule):
    code = "AXS105"
    tokens = (b"add_middleware",)
    name = "middleware-instance-in-add-middleware"
    summary = "add_middleware() given a Middleware(...) instance instead of the class"
    collector = Collector

    def check(self, ctx: CheckContext) -> None:
        project = ctx.project
        for reg in middleware_registrations(project):
            if reg.facts is not ctx.facts or reg.how != "add_middleware" or reg.cls is None:
                continue
            if not self._is_middleware_instance(ctx, reg.scope, reg.cls):
                continue
            fix = None
            edits = ctx.data.get((reg.call.line, reg.call.col)) if isinstance(ctx.data, dict) else None
            if edits and reg.cls.kind == "call":
                fix = Fix(tuple(edits), "safe", "pass the middleware class and its arguments to add_middleware")
            ctx.report(
                reg.call.line,
                reg.call.col,
                "add_middleware() takes the middleware class, not a Middleware(...) instance: "
                "TypeError: 'Middleware' object is not callable (at startup or the first request on "
                "Starlette >= 0.24, at this call before); pass the class and its arguments",
                fix=fix,
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
