"""
## What it does
Checks for a `Middleware(...)` instance passed to `add_middleware` (directly, or through a name
bound to one): `app.add_middleware(Middleware(CORSMiddleware, allow_origins=["*"]))`. The receiver
must be a FastAPI or Starlette app, or something the model cannot follow; a class with its own
`add_middleware` (a framework's middleware stack, a Starlette subclass that takes `Middleware`
instances) and other libraries' objects (FastMCP's `add_middleware`) are left alone.

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

from typing import Optional, Set

import libcst as cst

from ..cst.edits import NodeText, unwrap_call
from ..cst.visitors import RuleCollector
from ..model.apps import _receiver, middleware_registrations
from ..model.facts import Expr, FileFacts
from ..model.project import Project
from ..model.symbols import symbol_of
from ..results import Fix
from .api import CheckContext, Rule

APP_CLASSES = ("FastAPI", "Starlette")


def _receiver_classes(project: Project, facts: FileFacts, scope: str, expr: Optional[Expr], depth: int = 0) -> Optional[Set[str]]:
    """The classes (qualified names) the receiver of ``add_middleware`` can be an instance of, or
    None when some binding cannot be followed."""
    if expr is None or depth > 8:
        return None
    if expr.kind == "call":
        callee = project.resolve(facts, scope, expr.value)
        if callee is None:
            return None
        fn = project.function(callee)
        if fn is None:
            return {callee}  # a class (the project's or a library's)
        out: Set[str] = set()
        for r in fn[1].returns:
            got = _receiver_classes(project, fn[0], fn[1].qualname, r, depth + 1)
            if got is None:
                return None
            out |= got
        return out or None
    if expr.kind != "name":
        return None
    qname = project.resolve_name(facts, scope, expr.value)
    if qname is None:
        return None
    bound = project.bindings(qname)
    if bound:
        out = set()
        for f, b in bound:
            got = _receiver_classes(project, f, b.scope, b.value, depth + 1)
            if got is None and b.annotation is not None:
                ann = project.resolve(f, b.scope, b.annotation)
                got = {ann} if ann else None
            if got is None:
                return None
            out |= got
        return out
    prm = project.param(qname)
    if prm is None:
        return None
    pf, fn_fact, param = prm
    if fn_fact.class_qualname and fn_fact.receiver == param.name:
        return {project.qualify(pf, fn_fact.class_qualname)}  # self
    if param.annotation is not None:
        ann = project.resolve(pf, fn_fact.qualname, param.annotation)
        return {ann} if ann else None
    return None


def _own_add_middleware(project: Project, cls: Optional[str], depth: int = 0) -> bool:
    """Does the project class ``cls`` (or a project base of it) define its own add_middleware?"""
    if not cls or depth > 20 or symbol_of(cls):
        return False
    k = project.klass(cls)
    if k is None:
        return False
    if project.function(f"{cls}.add_middleware") is not None:
        return True
    f, c = k
    return any(_own_add_middleware(project, project.resolve(f, c.scope, base), depth + 1) for base in c.bases)


def _is_framework_add_middleware(project: Project, facts: FileFacts, scope: str, call: Expr) -> bool:
    """Is this Starlette's / FastAPI's add_middleware? Unknown receivers count as yes; a class that
    defines its own add_middleware (a framework's middleware stack, a Starlette subclass that takes
    Middleware instances) or a class that is no Starlette app (FastMCP, ...) as no."""
    classes = _receiver_classes(project, facts, scope, _receiver(call.value) if call.value is not None else None)
    if classes is None:
        return True
    return bool(classes) and all(
        project.subclasses_symbol(c, APP_CLASSES) and not _own_add_middleware(project, c) for c in classes
    )


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
    proven_on = ("0.165.0/1.10.0",)
    collector = Collector

    def check(self, ctx: CheckContext) -> None:
        project = ctx.project
        for reg in middleware_registrations(project):
            if reg.facts is not ctx.facts or reg.how != "add_middleware" or reg.cls is None:
                continue
            if not self._is_middleware_instance(ctx, reg.scope, reg.cls):
                continue
            if not _is_framework_add_middleware(project, reg.facts, reg.scope, reg.call):
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
