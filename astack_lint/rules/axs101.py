"""
## What it does
Checks for FastAPI's `AsyncExitStackMiddleware` registered with a `context_name` other than the
default (`app.add_middleware(AsyncExitStackMiddleware, context_name=...)`, positionally, in a
`middleware=[Middleware(...)]` list, or wrapping an app directly). A module-level string constant
counts as its value.

The default name depends on the release, so the rule asks which releases the project can run
(`astack-lint --show-settings`): `context_name="fastapi_astack"` is reported only when the project
admits FastAPI >= 0.118.0, `context_name="fastapi_middleware_astack"` only when it admits 0.74.0 -
0.105.x, and any other name when it admits either.

## Why is this bad?
FastAPI reads its request exit stack from the scope under one fixed name only
(`fastapi_middleware_astack` from FastAPI 0.118.0, `fastapi_astack` in 0.74.0 - 0.105.x), and
`FastAPI.build_middleware_stack` always adds its own default-named stack innermost. A stack stored
under any other name is never read: in an ordinary `FastAPI()` app the extra middleware is dead,
misleading configuration that does nothing.

Where FastAPI's own stack is absent (an `APIRouter` or `app.router` served by a plain `Starlette`
app, or a subclass that overrides `build_middleware_stack`), the custom name does not help either:
on FastAPI >= 0.118.0 every HTTP route of the router answers 500 with
`AssertionError: fastapi_middleware_astack not found in request scope`; on 0.74 - 0.105 routes with
a yield dependency answer 500 (and on 0.86 - 0.105 Form/File routes answer 400).

The module itself does not exist on FastAPI 0.106.0 - 0.117.1 (see AXS102).

## Example
```python
from fastapi import FastAPI
from fastapi.middleware.asyncexitstack import AsyncExitStackMiddleware

app = FastAPI()
app.add_middleware(AsyncExitStackMiddleware, context_name="my_stack")
```

## Use instead
```python
from fastapi import FastAPI

app = FastAPI()  # FastAPI adds its own exit stack; nothing to register
```
Where a router is served by a plain Starlette app, wrap it without a `context_name`, so that the
name is the default of whichever release runs:
`Starlette(middleware=[Middleware(AsyncExitStackMiddleware)], routes=[...])`.

## Fix safety
No automatic fix yet.

## References
- FastAPI source: `fastapi/middleware/asyncexitstack.py`, `FastAPI.build_middleware_stack`
- [Dependencies with yield](https://fastapi.tiangolo.com/tutorial/dependencies/dependencies-with-yield/)
"""

from __future__ import annotations

from ..appmodel import middleware_registrations
from ..rule import Affected, CheckContext, Rule


class CustomExitStackName(Rule):
    code = "AXS101"
    tokens = (b"iddleware", b"context_name", b"asyncexitstack")
    name = "custom-exit-stack-name"
    summary = "AsyncExitStackMiddleware with a non-default context_name: FastAPI never reads that stack"

    # FACTS.md part A: the releases with the module, tagged with the name FastAPI reads there
    # (0.106.0 - 0.117.1 have no such module: AXS102)
    affected = (
        Affected(fastapi=">=0.74.0,<0.106.0", tag="fastapi_astack", symptom="FastAPI reads 'fastapi_astack'"),
        Affected(fastapi=">=0.118.0", tag="fastapi_middleware_astack", symptom="FastAPI reads 'fastapi_middleware_astack'"),
    )

    def check(self, ctx: CheckContext) -> None:
        project = ctx.project
        for reg in middleware_registrations(project):
            if reg.facts is not ctx.facts:
                continue
            if project.symbol(reg.facts, reg.scope, reg.cls) != "AsyncExitStackMiddleware":
                continue
            self._check(ctx, reg.arg("context_name", 0), reg.scope, reg.call)
        # AsyncExitStackMiddleware(app, context_name) wrapping an ASGI app directly
        for c in ctx.facts.calls:
            if project.callee_symbol(ctx.facts, c.scope, c.call) == "AsyncExitStackMiddleware":
                arg = c.call.kwarg("context_name")
                if arg is None and len(c.call.args) > 1 and c.call.args[1].kind != "star":
                    arg = c.call.args[1]
                self._check(ctx, arg, c.scope, c.call)

    def _check(self, ctx: CheckContext, arg, scope: str, call) -> None:
        if arg is None:
            return
        name = ctx.project.string_value(ctx.facts, scope, arg)
        if name is None:
            return
        # the releases where this name is not the one FastAPI reads
        hits = ctx.affected_hits(a for a in self.affected if a.tag != name)
        if not hits:
            return
        ctx.report(
            arg.line or call.line,
            arg.col if arg.line else call.col,
            f"AsyncExitStackMiddleware with context_name={name!r} is a stack FastAPI never reads (a router "
            f"served by plain Starlette fails as without one): {ctx.explain_releases(hits)}; drop context_name "
            f"(its default is the name of the running release)",
        )
