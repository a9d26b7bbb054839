"""
## What it does
Checks for user code that reads one of FastAPI's internal exit-stack keys from a request scope or
request: `fastapi_astack`, `fastapi_middleware_astack`, `fastapi_inner_astack` or
`fastapi_function_astack`, by subscript (`request.scope["fastapi_astack"]`), `.get(...)`, or an `in`
test. The key may be a literal or a module-level string constant. Strings in docstrings, comments
and log messages are not reads. FastAPI's own source (the `fastapi` package, e.g. a copy in
site-packages) reads the keys of its own release and is not checked.

## Why is this bad?
These keys are FastAPI internals: their names and lifetimes changed from release to release.
`scope["fastapi_astack"]` raises `KeyError` for HTTP requests from FastAPI 0.110.0 (WebSockets from
0.118.0): the key is gone, so `.get("fastapi_astack")` gives `None` and an `in` test is false; on
0.106 - 0.109 it holds a stack that is closed before the response is sent, so callbacks pushed on
it run too early. `fastapi_middleware_astack`, `fastapi_inner_astack` and
`fastapi_function_astack` are internal too and absent in some releases.

## Example
```python
@app.get("/items")
async def items(request: Request):
    stack = request.scope["fastapi_astack"]
    stack.push_async_callback(cleanup)
```

## Use instead
A dependency with `yield`, whose code after `yield` runs when the request is done:
```python
async def cleanup_after():
    yield
    await cleanup()

@app.get("/items", dependencies=[Depends(cleanup_after)])
async def items(): ...
```

## Fix safety
No automatic fix: the replacement depends on what the stack was used for.

## References
- [Dependencies with yield](https://fastapi.tiangolo.com/tutorial/dependencies/dependencies-with-yield/)
"""

from __future__ import annotations

import libcst as cst

from ..cst.visitors import RuleCollector, Summarizer
from ..model.symbols import INTERNAL_SCOPE_KEYS
from .api import CheckContext, Rule


class Collector(RuleCollector):
    """Records reads by key: (how, key Expr, scope, line, col)."""

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.summarize = Summarizer(self.pos)
        self._writes: set = set()

    def _mark_targets(self, targets) -> None:
        for t in targets:
            if isinstance(t, cst.Subscript):
                self._writes.add(id(t))

    def visit_Assign(self, node: cst.Assign) -> None:
        self._mark_targets(t.target for t in node.targets)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._mark_targets([node.target])

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._mark_targets([node.target])

    def visit_Del(self, node: cst.Del) -> None:
        self._mark_targets([node.target])

    def _keep(self, how: str, key: cst.BaseExpression, at: cst.CSTNode) -> None:
        if isinstance(key, (cst.SimpleString, cst.ConcatenatedString, cst.Name, cst.Attribute)):
            line, col = self.pos(at)
            self.data.append((how, self.summarize(key), self.ctx.scope, line, col))

    def visit_Subscript(self, node: cst.Subscript) -> None:
        if id(node) in self._writes or len(node.slice) != 1 or not isinstance(node.slice[0].slice, cst.Index):
            return
        self._keep("subscript", node.slice[0].slice.value, node)

    def visit_Call(self, node: cst.Call) -> None:
        if isinstance(node.func, cst.Attribute) and node.func.attr.value == "get" and node.args:
            first = node.args[0]
            if first.keyword is None and not first.star:
                self._keep(".get()", first.value, node)

    def visit_Comparison(self, node: cst.Comparison) -> None:
        left = node.left
        for target in node.comparisons:
            if isinstance(target.operator, (cst.In, cst.NotIn)):
                self._keep("'in' test", left, node)
            left = target.comparator


# what a read of "fastapi_astack" gives where the key is gone
_OUTCOME = {"subscript": "KeyError", ".get()": "None", "'in' test": "the key is not there"}


class InternalScopeKey(Rule):
    code = "AXS104"
    tokens = (b"fastapi_", b"astack")
    name = "internal-scope-key"
    summary = "reads a FastAPI-internal exit-stack key from the request scope"
    proven_on = ("0.165.0/1.10.0",)
    collector = Collector

    def check(self, ctx: CheckContext) -> None:
        package = ctx.project.package_name.get(ctx.facts.path, "")
        if package == "fastapi" or package.startswith("fastapi."):
            return  # FastAPI's own source (a copy in site-packages): it reads the keys of its own release
        for how, key, scope, line, col in ctx.data:
            value = ctx.project.string_value(ctx.facts, scope, key)
            if value not in INTERNAL_SCOPE_KEYS:
                continue
            if value == "fastapi_astack":
                outcome = _OUTCOME.get(how, "absent")
                why = (
                    f"{outcome} for HTTP requests from FastAPI 0.110 (WebSockets from 0.118); on 0.106-0.109 "
                    "the stack is closed before the response is sent"
                )
            else:
                why = "its name and lifetime change between releases and it is absent in some"
            ctx.report(line, col, f"{how} of FastAPI-internal scope key {value!r}: {why}; use a dependency with yield")
