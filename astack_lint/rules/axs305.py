"""
## What it does
Checks for a `raise` of an exception (`raise HTTPException(...)`, `raise ValueError(...)`) after
`yield` in a FastAPI dependency used with the default request scope, on the path where the endpoint
succeeded: straight after the `yield`, in a `finally` block, or in a handler that catches a failure
of the code after the `yield` (a failed `commit()`). A bare `raise` that re-raises, and
`raise ... from e` in a handler for the endpoint's own exception, are not reported. Dependencies used
only with `Depends(..., scope="function")`, or only by websocket routes, are not reported either.

## Why is this bad?
With the default request scope, FastAPI runs the code after `yield` once the response is sent (on
FastAPI <= 0.105 and >= 0.118). The client already has its 200 and never sees the exception; an
`HTTPException` only makes the server log `RuntimeError: Caught handled exception, but response
already started.`, any other exception is only logged. A failed commit after `yield` is invisible to
the client. (On FastAPI 0.106 - 0.117 the exit code ran before the response and the client got the
error; code written against those releases silently changed behaviour.)

## Example
```python
def get_db():
    db = SessionLocal()
    yield db
    if db.dirty:
        raise HTTPException(status_code=409, detail="unsaved changes")
    db.close()
```

## Use instead
Check in the endpoint (or before `yield`), or make the dependency's exit run before the response
with `Depends(get_db, scope="function")` (FastAPI >= 0.121):
```python
@app.post("/items")
def create_item(db: Session = Depends(get_db, scope="function")): ...
```

## Fix safety
No automatic fix.

## References
- [Dependencies with yield: early exit and scope](https://fastapi.tiangolo.com/tutorial/dependencies/dependencies-with-yield/)
- FastAPI release notes 0.106.0, 0.118.0, 0.121.0
"""

from __future__ import annotations

from ..cst.flow import FlowCollector
from ..model.dependencies import wants_generator_file
from ..releases.affected import Affected
from .api import CheckContext, Rule
from .generators import by_position, generator_dependencies, live

_UNSEEN = "the client already has its response and never sees this error, it is only logged"


class Collector(FlowCollector):
    parts = ("raises_after",)


class RaiseAfterYield(Rule):
    code = "AXS305"
    tokens = (b"yield",)  # only a generator can be reported
    wants = wants_generator_file
    needs_framework = False  # the dependency-functions option names dependencies of any framework
    name = "dependency-raises-after-yield"
    summary = "raise after yield in a request-scoped dependency: the client already has its response"
    proven_on = ("0.100.0", "0.165.0/1.10.0")
    collector = Collector

    # docs/framework-facts.md part B (default scope; on 0.106 - 0.117 the exit code ran before the response)
    affected = (
        Affected(fastapi="<0.106.0", symptom=_UNSEEN),
        Affected(fastapi=">=0.118.0", symptom=_UNSEEN),
    )

    def check(self, ctx: CheckContext) -> None:
        for dep in generator_dependencies(ctx, http_only=True):
            if "request" not in dep.scopes:
                continue
            for (line, col), items in by_position(dep.record["raises_after"]):
                if not live(ctx.project, self.code, ctx.facts, dep.fn.qualname, [g for g, _m in items]):
                    continue
                hits = ctx.affected_hits(dep.rows(self.affected))  # release awareness
                if not hits:
                    return
                when = (
                    "after yield"
                    if any(m == "normal" for _g, m in items)
                    else "after yield when the code after yield fails"
                )
                ctx.report(
                    line,
                    col,
                    f"raise {when} in dependency '{dep.fn.qualname}'{dep.behind} (request scope): {ctx.explain_releases(hits)}; "
                    f"check before yield or in the endpoint, or use Depends(..., scope='function') (FastAPI >= 0.121)",
                )
