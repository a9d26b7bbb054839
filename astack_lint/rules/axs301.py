"""
## What it does
Checks for a bare `except:` or `except BaseException:` whose `try` body holds the `yield` of a
FastAPI dependency, when the handler can finish without raising on some path (it falls through,
returns, or only raises on some branches). Only generators the project passes to `Depends(...)` or
`Security(...)` count (directly, in `Annotated[...]` or a type alias of it, in `dependencies=[...]`,
or as a `dependency_overrides` value), plus functions named by the `dependency-functions` option;
plain iterators, `@contextmanager` helpers and streaming bodies are never checked, nor are dependencies
used only by websocket routes. A generator behind a decorator counts when every decorator hands it
back (`staticmethod`, `classmethod`, a registry's `return func`), and, on FastAPI >= 0.123.5 only,
when they wrap it with `functools.wraps` in a plain function (those releases unwrap it; older ones
inject the generator object and run neither setup nor cleanup); behind any other decorator FastAPI
may see anything, and it is left alone. This holds for every dependency rule (AXS301 - AXS305,
AXS401). A handler whose every path raises
(`raise`, `raise HTTPException(...) from e`, a helper that always raises) is fine.

## Why is this bad?
FastAPI throws the endpoint's exception into the dependency at `yield`. A bare `except:` catches it,
and catches cancellation too (`asyncio.CancelledError`, `GeneratorExit`). When the handler does not
re-raise:

- FastAPI >= 0.118: the client gets a 500, and the server logs only
  `FastAPIError: Response not awaited...`; the original error is never logged. An `HTTPException(404)`
  raised by the endpoint turns into a 500.
- FastAPI 0.110 - 0.117: the same, with `FastAPIError: No response object was returned...`.
- FastAPI 0.74 - 0.109: a 500 with the error re-raised for you and logged (an `HTTPException` still
  reaches the client).
- FastAPI <= 0.73: a 500, nothing logged.
- With `Depends(..., scope="function")` (FastAPI >= 0.121): a 500 with
  `UnboundLocalError: cannot access local variable 'response'...`; the original error is lost.

Async dependencies swallow `asyncio.CancelledError` this way in every release (up to 0.105 the
cancellation is silently lost, later it ends in a 500); sync dependencies get `CancelledError` from
0.162.5 (`GeneratorExit` before).

## Example
```python
def get_db():
    db = SessionLocal()
    try:
        yield db
    except:
        db.rollback()
    finally:
        db.close()
```

## Use instead
Re-raise, as FastAPI's docs require ("Always raise in Dependencies with yield and except"):
```python
def get_db():
    db = SessionLocal()
    try:
        yield db
    except Exception:
        db.rollback()
        raise
    finally:
        db.close()
```
If the cleanup does not depend on the error, `finally` alone is enough.

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
- FastAPI source: `fastapi/routing.py` (`Response not awaited`), `fastapi/dependencies/utils.py`
"""

from __future__ import annotations

from ..cst.reraise import ReraiseFixCollector, reraise_fix
from ..model.dependencies import wants_generator_file
from .api import CheckContext, Rule
from .generators import CANCEL_ASYNC, SWALLOW_FUNCTION, SWALLOW_REQUEST, swallow_rows, swallowing_handlers


class Collector(ReraiseFixCollector):
    parts = ("handlers", "swallows")


class BareExceptAroundYield(Rule):
    code = "AXS301"
    tokens = (b"yield",)  # only a generator can be reported
    wants = wants_generator_file
    needs_framework = False  # the dependency-functions option names dependencies of any framework
    name = "bare-except-around-dependency-yield"
    summary = "bare except / except BaseException around a dependency's yield that can finish without raising"
    proven_on = ("0.165.0/1.10.0",)
    collector = Collector
    affected = SWALLOW_REQUEST + SWALLOW_FUNCTION + CANCEL_ASYNC

    def check(self, ctx: CheckContext) -> None:
        for dep, line, col, _typ, _star, tags in swallowing_handlers(ctx, lambda t: bool(t & {"bare", "BaseException"})):
            hits = ctx.affected_hits(swallow_rows(dep, cancellation=True))
            if not hits:
                continue  # no release the project runs is harmed
            what = "bare `except:`" if "bare" in tags else "`except BaseException`"
            ctx.report(
                line,
                col,
                f"{what} around the yield of dependency '{dep.fn.qualname}'{dep.behind} can finish without raising: it "
                f"swallows the endpoint's errors and cancellation: {ctx.explain_releases(hits)}; re-raise with `raise`",
                fix=reraise_fix(dep.record, line, col),
            )
