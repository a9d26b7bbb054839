"""
## What it does
Checks for a FastAPI dependency (a generator the project passes to `Depends(...)` or `Security(...)`,
or a function named by the `dependency-functions` option) with a path that returns before any
`yield`: a `return` statement reached before the first `yield`, or the end of the body reached
without yielding (for example `if enabled: yield client` with no `else`). Raising before the
`yield` is fine, and so is a path that only skips a loop whose body yields. A generator behind a
`functools.wraps` decorator is checked where FastAPI unwraps it (>= 0.123.5; see AXS301 for which
decorators count).

## Why is this bad?
FastAPI runs a dependency with `yield` as a context manager and needs exactly one value. A generator
that finishes without yielding raises `RuntimeError: generator didn't yield`: the request answers
500, in every FastAPI release. The author usually meant to refuse the request, which takes an
exception (`raise HTTPException(...)`), or to provide `None`, which takes `yield None`.

## Example
```python
def get_user(token: str = Header()):
    if not token:
        return
    yield load_user(token)
```

## Use instead
```python
def get_user(token: str = Header()):
    if not token:
        raise HTTPException(status_code=401)
    yield load_user(token)
```

## Fix safety
No automatic fix: raising and yielding `None` mean different things.

## References
- [Dependencies with yield](https://fastapi.tiangolo.com/tutorial/dependencies/dependencies-with-yield/)
- Python: `contextlib.contextmanager` ("generator didn't yield")
"""

from __future__ import annotations

from ..cst.flow import FlowCollector
from ..model.dependencies import wants_generator_file
from .api import CheckContext, Rule
from .generators import by_position, generator_dependencies, live


class Collector(FlowCollector):
    parts = ("early_returns", "fall_off")


class DependencyReturnsBeforeYield(Rule):
    code = "AXS304"
    tokens = (b"yield",)  # only a generator can be reported
    wants = wants_generator_file
    needs_framework = False  # the dependency-functions option names dependencies of any framework
    name = "dependency-returns-before-yield"
    summary = "a dependency with a path that returns before any yield: RuntimeError: generator didn't yield"
    proven_on = ("0.123.4", "0.165.0/1.10.0")
    collector = Collector

    def check(self, ctx: CheckContext) -> None:
        project = ctx.project
        for dep in generator_dependencies(ctx):
            rec = dep.record
            releases = f"FastAPI {dep.since[2:]} and later" if dep.since else "every FastAPI release"
            why = (
                f"RuntimeError: generator didn't yield, the request answers 500 ({releases}); raise "
                "an exception (e.g. HTTPException) to refuse the request, or yield a value"
            )
            for (line, col), items in by_position(rec["early_returns"]):
                if live(project, self.code, ctx.facts, dep.fn.qualname, [g for (g,) in items]):
                    ctx.report(line, col, f"dependency '{dep.fn.qualname}'{dep.behind} can return before its first yield: {why}")
            if rec["fall_off"] and live(project, self.code, ctx.facts, dep.fn.qualname, rec["fall_off"]):
                ctx.report(
                    rec["line"],
                    rec["col"],
                    f"dependency '{dep.fn.qualname}'{dep.behind} can reach the end of its body without yielding: {why}",
                )
