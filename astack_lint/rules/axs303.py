"""
## What it does
Checks for a FastAPI dependency (a generator the project passes to `Depends(...)` or `Security(...)`,
or a function named by the `dependency-functions` option) that can reach `yield` a second time on
the path where the endpoint succeeded: two `yield` statements on one path, or a `yield` in a loop
that can run again after it. A `yield` inside a loop that always `break`s or `return`s after it is
fine; `yield from` is not counted.

## Why is this bad?
FastAPI runs a dependency with `yield` as a context manager: it takes exactly one value and, when
the request is done, expects the generator to finish. Reaching a second `yield` raises
`RuntimeError: generator didn't stop`. On FastAPI 0.106 - 0.117, and with
`Depends(..., scope="function")`, the request answers 500; on every other release the client
already got its 200 and the error is only logged. The code after the second `yield` never runs.

## Example
```python
def get_connections():
    for url in DATABASE_URLS:
        conn = connect(url)
        yield conn
        conn.close()
```

## Use instead
Yield once, for example a list:
```python
def get_connections():
    conns = [connect(url) for url in DATABASE_URLS]
    try:
        yield conns
    finally:
        for conn in conns:
            conn.close()
```

## Fix safety
No automatic fix.

## References
- [Dependencies with yield](https://fastapi.tiangolo.com/tutorial/dependencies/dependencies-with-yield/)
- Python: `contextlib.contextmanager` ("generator didn't stop")
"""

from __future__ import annotations

from ..cst.flow import FlowCollector
from ..model.dependencies import wants_generator_file
from .api import CheckContext, Rule
from .generators import by_position, generator_dependencies, live


class Collector(FlowCollector):
    parts = ("second_yields",)


class DependencyYieldsTwice(Rule):
    code = "AXS303"
    tokens = (b"yield",)  # only a generator can be reported
    wants = wants_generator_file
    needs_framework = False  # the dependency-functions option names dependencies of any framework
    name = "dependency-yields-twice"
    summary = "a dependency that can reach yield a second time: RuntimeError: generator didn't stop"
    proven_on = ("0.165.0/1.10.0",)
    collector = Collector

    def check(self, ctx: CheckContext) -> None:
        for dep in generator_dependencies(ctx):
            for (line, col), items in by_position(dep.record["second_yields"]):
                if not live(ctx.project, self.code, ctx.facts, dep.fn.qualname, [g for (g,) in items]):
                    continue
                if dep.since:  # only releases after 0.117: a 500 only with scope='function'
                    when = "a 500 with scope='function'; otherwise the client already got its response and the error is only logged"
                else:
                    when = (
                        "a 500 on FastAPI 0.106-0.117 and with scope='function'; on other releases the client "
                        "already got its response and the error is only logged"
                    )
                ctx.report(
                    line,
                    col,
                    f"dependency '{dep.fn.qualname}'{dep.behind} can reach yield a second time: RuntimeError: "
                    f"generator didn't stop ({when}), and the code after this yield never runs; yield exactly once",
                )
