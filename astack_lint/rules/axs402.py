"""
## What it does
Checks for an endpoint that adds tasks to the injected `BackgroundTasks` (its own parameter, or a
parameter of one of its dependencies) and returns a response constructed with its own
`background=` (`JSONResponse(..., background=BackgroundTask(...))`, directly, through a variable,
or by setting `response.background`).

## Why is this bad?
FastAPI attaches the injected `BackgroundTasks` to the returned response only when that response
has no background of its own (`if response.background is None`). A response built with
`background=` replaces them: every task added with `add_task` is silently dropped, in every
release. Nothing is logged.

## Example
```python
@app.post("/signup")
async def signup(email: str, tasks: BackgroundTasks):
    tasks.add_task(send_welcome_mail, email)  # never runs
    return JSONResponse({"ok": True}, background=BackgroundTask(audit, email))
```

## Use instead
Add every task to the injected `BackgroundTasks`:
```python
@app.post("/signup")
async def signup(email: str, tasks: BackgroundTasks):
    tasks.add_task(send_welcome_mail, email)
    tasks.add_task(audit, email)
    return JSONResponse({"ok": True})
```
(or pass the injected object itself: `background=tasks`).

## Fix safety
No automatic fix.

## References
- [FastAPI: Background Tasks](https://fastapi.tiangolo.com/tutorial/background-tasks/)
- FastAPI source: `fastapi/routing.py` (`if raw_response.background is None`)
"""

from __future__ import annotations

from typing import Iterator, List, Optional, Set, Tuple

from ..model.apps import (
    Reached,
    TaskUse,
    app_model,
    injected_tasks_param,
    is_response_call,
    is_task_value,
    reached_from,
    task_uses,
)
from ..model.facts import Expr, FunctionFact
from .api import CheckContext, Rule


class InjectedBackgroundTasksDropped(Rule):
    code = "AXS402"
    tokens = (b"background", b"Background")  # prefilter: where this rule can report
    name = "injected-background-tasks-dropped"
    summary = "endpoint adds to the injected BackgroundTasks but returns a response with its own background="
    proven_on = ("0.165.0/1.10.0",)

    def check(self, ctx: CheckContext) -> None:
        project = ctx.project
        done: Set[Tuple[int, int]] = set()
        for endpoint in app_model(project).all_endpoints():
            if endpoint.facts is not ctx.facts or endpoint.kind != "http":
                continue
            fn = endpoint.fn
            reached = [r for r in reached_from(project, ctx.facts, fn) if r.how in ("endpoint", "dependency")]
            adds = self._injected_adds(project, reached)
            if not adds:
                continue
            injected = {(u.receiver[0].path, u.receiver[1].qualname, u.receiver[2].name) for u in adds if u.receiver}
            first = adds[0]
            for at, value, scope in self._own_backgrounds(ctx, fn):
                if (at.line, at.col) in done:
                    continue
                prm = injected_tasks_param(project, ctx.facts, scope, value)
                if prm is not None and (prm[0].path, prm[1].qualname, prm[2].name) in injected:
                    continue  # background=tasks: the injected object itself
                if not is_task_value(project, ctx.facts, scope, value):
                    continue
                done.add((at.line, at.col))
                recv = first.call.value.value.rsplit(".", 1)[0] if first.call is not None and first.call.value.kind == "name" else "tasks"
                ctx.report(
                    at.line,
                    at.col,
                    f"response with its own background= returned by an endpoint that also adds tasks to the "
                    f"injected BackgroundTasks ({recv}.add_task at {ctx.relpath(first.facts.path)}:{first.line}): "
                    f"FastAPI attaches the injected tasks only to a response without a background, so they are "
                    f"silently dropped (every release); add this task with {recv}.add_task() too, or pass "
                    f"background={recv}",
                )

    @staticmethod
    def _injected_adds(project, reached: List[Reached]) -> List[TaskUse]:
        """add_task calls on a BackgroundTasks parameter of the endpoint or of its dependencies."""
        owners = {(r.facts.path, r.fn.qualname) for r in reached}
        return [
            u
            for u in task_uses(project)
            if u.how == "add_task" and u.receiver is not None and (u.receiver[0].path, u.receiver[1].qualname) in owners
        ]

    def _own_backgrounds(self, ctx: CheckContext, fn: FunctionFact) -> Iterator[Tuple[Expr, Expr, str]]:
        """(where to report, the background value, its scope) for each response the endpoint returns
        with a background of its own."""
        project, facts = ctx.project, ctx.facts
        for r in fn.returns:
            if r.kind == "await":
                r = r.value
            if r is None:
                continue
            if r.kind == "call":
                found = self._response_background(ctx, fn.qualname, r)
                if found is not None:
                    yield found
            elif r.kind == "name" and "." not in r.value:
                qname = project.resolve_name(facts, fn.qualname, r.value)
                for f, b in project.bindings(qname):
                    if f is facts and b.scope == fn.qualname and b.value.kind == "call":
                        found = self._response_background(ctx, fn.qualname, b.value)
                        if found is not None:
                            yield found
                for b in facts.bindings:
                    if b.scope == fn.qualname and b.name == f"{r.value}.background" and b.value.kind != "const":
                        yield Expr("name", b.name, line=b.line, col=b.col), b.value, fn.qualname

    @staticmethod
    def _response_background(ctx: CheckContext, scope: str, call: Expr) -> Optional[Tuple[Expr, Expr, str]]:
        bg = call.kwarg("background")
        if bg is None or bg.kind == "const" or not is_response_call(ctx.project, ctx.facts, scope, call):
            return None
        return call, bg, scope

