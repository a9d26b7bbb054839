"""
## What it does
Checks for an `except` handler other than a bare one or `BaseException` (`except Exception`,
`except HTTPException`, `except SQLAlchemyError`, a tuple of classes, `except*`) whose `try` body
holds the `yield` of a FastAPI dependency, when the handler can finish without raising on some path.
The check is path-sensitive: `if retryable: raise` followed by falling through is reported; a
handler whose every path raises (a bare `raise`, `raise HTTPException(...) from e`, a helper that
always raises or is annotated `NoReturn`) is not. Handlers in nested functions or classes, and
`try` blocks that do not hold the `yield`, are not checked. Handlers that catch only
`GeneratorExit` are left alone. Only generators the project uses as dependencies count (see
AXS301), plus functions named by the `dependency-functions` option; dependencies used only by
websocket routes are left alone (what is described below is about HTTP responses).

## Why is this bad?
FastAPI throws the endpoint's exception into the dependency at `yield`. A handler that catches it
and does not re-raise swallows it:

- FastAPI >= 0.118: the client gets a 500 and the server logs only
  `FastAPIError: Response not awaited...`; the original error is never logged. An
  `HTTPException(404)` raised by the endpoint turns into a 500.
- FastAPI 0.110 - 0.117: the same, with `FastAPIError: No response object was returned...`.
- FastAPI 0.74 - 0.109: a 500 with the error re-raised for you and logged (an `HTTPException` still
  reaches the client).
- FastAPI <= 0.73: a 500, nothing logged.
- With `Depends(..., scope="function")` (FastAPI >= 0.121): a 500 with
  `UnboundLocalError: cannot access local variable 'response'...`; the original error is lost.

FastAPI's own tutorial (`tutorial008c`, "Always raise in Dependencies with yield and except") shows
exactly this with a narrow `except InternalError:`.

## Example
```python
async def get_session():
    async with SessionLocal() as session:
        try:
            yield session
        except SQLAlchemyError:
            await session.rollback()
```

## Use instead
```python
async def get_session():
    async with SessionLocal() as session:
        try:
            yield session
        except SQLAlchemyError:
            await session.rollback()
            raise
```
Raising another exception is fine too: `raise HTTPException(status_code=400) from e`.

## Fix safety
An unsafe fix (`--fix --unsafe-fixes`): it changes what the program does, on purpose. It re-raises
the caught exception on every path of the handler that finishes without raising:

- each `return` of the handler becomes a bare `raise` (returning from the handler ends the
  generator without the exception, the same swallowing); `return value` becomes `value; raise`,
  since FastAPI discards a dependency's return value anyway;
- if the end of the handler can still be reached, a bare `raise` becomes its last statement, at
  the indentation of its first one (tabs stay tabs, the file's line endings are kept); a trailing
  `pass` is replaced by it; a one-line handler gets `; raise`.

The fix is checked before it is offered: applied to the function and analysed again, the handler
must no longer finish without raising. There is none when a `return` sits in a handler or
`finally` nested in the handler (a bare `raise` there would raise another exception), or when the
handler leaves by `break` / `continue`. Raising an `HTTPException` instead may suit you better:
that is for you to write.

## References
- [Dependencies with yield and except](https://fastapi.tiangolo.com/tutorial/dependencies/dependencies-with-yield/#dependencies-with-yield-and-except)
- FastAPI source: `fastapi/routing.py` (`Response not awaited`)
"""

from __future__ import annotations

from ..cst.reraise import ReraiseFixCollector, reraise_fix
from ..model.dependencies import wants_generator_file
from .api import CheckContext, Rule
from .generators import SWALLOW_FUNCTION, SWALLOW_REQUEST, swallow_rows, swallowing_handlers


def _type_text(expr) -> str:
    if expr is None:
        return ""
    if expr.kind == "name":
        return expr.value
    if expr.kind == "seq":
        return "(" + ", ".join(_type_text(e) or "..." for e in expr.args) + ")"
    return "..."


def _is_other(tags) -> bool:
    """Not AXS301's (bare / BaseException), and not only GeneratorExit."""
    return not tags & {"bare", "BaseException"} and tags != {"GeneratorExit"}


class Collector(ReraiseFixCollector):
    parts = ("handlers", "swallows")


class HandlerAroundYieldSwallows(Rule):
    code = "AXS302"
    tokens = (b"yield",)  # only a generator can be reported
    wants = wants_generator_file
    needs_framework = False  # the dependency-functions option names dependencies of any framework
    name = "except-around-dependency-yield-swallows"
    summary = "an except handler around a dependency's yield that can finish without raising swallows the endpoint's error"
    proven_on = ("0.100.0", "0.165.0/1.10.0")
    collector = Collector
    affected = SWALLOW_REQUEST + SWALLOW_FUNCTION

    def check(self, ctx: CheckContext) -> None:
        for dep, line, col, typ, star, _tags in swallowing_handlers(ctx, _is_other):
            hits = ctx.affected_hits(swallow_rows(dep))
            if not hits:
                continue  # on FastAPI 0.74-0.109 FastAPI re-raised the error itself
            ctx.report(
                line,
                col,
                f"`except{'*' if star else ''} {_type_text(typ)}` around the yield of dependency "
                f"'{dep.fn.qualname}'{dep.behind} can finish without raising: it swallows the endpoint's exception: "
                f"{ctx.explain_releases(hits)}; re-raise with `raise` (or raise an HTTPException from it)",
                fix=reraise_fix(dep.record, line, col),
            )
