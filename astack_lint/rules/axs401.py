"""
## What it does
Checks for a request resource handed to code that runs after the endpoint has returned: an
`UploadFile` parameter (also `List[UploadFile]`, `Annotated[UploadFile, File()]`), or a value
received from a dependency with `yield` (`db: Session = Depends(get_db)`), passed

- as an argument to `add_task(...)` on a `BackgroundTasks` object or to `BackgroundTask(...)`;
- to the generator of a `StreamingResponse` (`StreamingResponse(stream(file))`), or the file object
  itself (`StreamingResponse(file.file)`);
- or used (called on, or passed on) inside a function nested in the endpoint that is given to one
  of those.

Passing what was read first (`await file.read()`) or plain attributes (`file.filename`,
`user.id`) is fine.

## Why is this bad?
Background tasks and a streaming response's body run after the endpoint returns. On FastAPI
0.106.0 - 0.117.1, FastAPI closes the request's uploaded files and runs the code after `yield` of
every dependency before that: the task reads a closed file (`ValueError: I/O operation on closed
file.`) or uses a closed database session (SQLAlchemy: `DetachedInstanceError`; a closed `Session`
silently reopens and is never closed). With `Depends(..., scope="function")` (FastAPI >= 0.121) the
dependency's exit code runs before the response in every release, by design. (FastAPI <= 0.105 and
>= 0.118 keep request-scoped resources open until the response is done.)

## Example
```python
@app.post("/upload")
async def upload(file: UploadFile, tasks: BackgroundTasks):
    tasks.add_task(process, file)  # the file is closed when process() runs


@app.get("/export")
async def export(db: Session = Depends(get_db)):
    return StreamingResponse(rows_as_csv(db))  # the session is closed while streaming
```

## Use instead
Hand over what the task needs, or let the task open its own resource:
```python
@app.post("/upload")
async def upload(file: UploadFile, tasks: BackgroundTasks):
    tasks.add_task(process, await file.read(), file.filename)


def export_rows():
    with SessionLocal() as db:
        yield from rows_as_csv(db)
```

## Fix safety
No automatic fix.

## References
- [FastAPI: Dependencies with yield and background tasks](https://fastapi.tiangolo.com/tutorial/dependencies/dependencies-with-yield/)
- [FastAPI 0.106.0 release notes](https://fastapi.tiangolo.com/release-notes/#01060)
"""

from __future__ import annotations

from typing import Dict, Iterator, List, NamedTuple, Optional, Set, Tuple

import libcst as cst

from ..cst.visitors import RuleCollector
from ..model.apps import (
    _callee_receiver,
    annotation_symbols,
    app_model,
    calls_within,
    injected_tasks_param,
    is_task_value,
    param_of,
)
from ..model.dependencies import dependency_of_param, is_dependency, seen_as_generator_from
from ..model.facts import Expr, FunctionFact
from ..releases.affected import narrowed
from .api import CheckContext, Rule

_MAX_ARG_DEPTH = 4


class _Resource(NamedTuple):
    name: str  # the parameter
    kind: str  # "upload" | "yield" | "function-scope"
    origin: str  # "UploadFile" or "the yield dependency get_db()"
    since: str = ""  # a dependency FastAPI sees as a generator only on these releases (behind functools.wraps)


class Collector(RuleCollector):
    """Records the qualnames of generator functions with code that runs after their ``yield``
    (statements after it, or a ``yield`` inside ``with`` / ``try`` / a loop / a branch)."""

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.data = set()
        self._stack: List[list] = []  # [qualname, line of its first yield]

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        # the core collector (first in the batch) has named the function already
        self._stack.append([self.ctx.qualnames.get(id(node), node.name.value), None])

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        qualname, first_yield = self._stack.pop()
        if first_yield is None or not isinstance(node.body, cst.IndentedBlock):
            return
        body = list(node.body.body)
        for i, stmt in enumerate(body):
            start, _c, end, _e = self.range(stmt)
            if start <= first_yield <= end:
                if i < len(body) - 1 or not isinstance(stmt, cst.SimpleStatementLine):
                    self.data.add(qualname)
                return

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self._stack.append(["<lambda>", None])

    def leave_Lambda(self, node: cst.Lambda) -> None:
        self._stack.pop()

    def visit_Yield(self, node: cst.Yield) -> None:
        if self._stack and self._stack[-1][1] is None:
            self._stack[-1][1] = self.pos(node)[0]


class ClosedResourceInBackground(Rule):
    code = "AXS401"
    tokens = (b"add_task", b"BackgroundTask", b"Response", b"background")  # prefilter: where this rule can report
    name = "closed-resource-in-background"
    summary = "UploadFile or yield-dependency value used by a background task or streaming response: already closed"
    proven_on = ("0.110.0", "0.165.0/1.10.0")

    # (FastAPI specifier, Starlette specifier, symptom) -- docs/framework-facts.md part D
    affected_upload = ((">=0.106.0,<=0.117.1", None, "it is already closed (ValueError: I/O operation on closed file.)"),)
    affected_yield = (
        (
            ">=0.106.0,<=0.117.1",
            None,
            "the dependency's code after yield has already run (a SQLAlchemy session is closed: "
            "DetachedInstanceError, or it silently reopens and is never closed)",
        ),
    )
    affected_function_scope = ((">=0.121.0", None, 'with scope="function" its code after yield runs before the response, by design'),)
    affected = affected_upload + affected_yield + affected_function_scope
    collector = Collector

    def check(self, ctx: CheckContext) -> None:
        project, facts = ctx.project, ctx.facts
        endpoints = {e.fn.qualname for e in app_model(project).all_endpoints() if e.facts is facts}
        reported: Set[Tuple[int, int]] = set()
        for fn in facts.functions.values():
            if fn.qualname not in endpoints and not is_dependency(project, ctx.settings, facts, fn):
                continue
            resources = self._resources(ctx, fn)
            if not resources:
                continue
            for res, at, sink in self._uses(ctx, fn, resources):
                if (at.line, at.col) in reported:
                    continue
                message = self._message(ctx, res, sink)
                if message is None:  # the project runs no release where this breaks
                    continue
                reported.add((at.line, at.col))
                ctx.report(at.line, at.col, message)

    def _message(self, ctx: CheckContext, res: _Resource, sink: str) -> Optional[str]:
        if res.kind == "upload":
            rows, fix = self.affected_upload, f"read it first (await {res.name}.read()) and pass the bytes"
            what = f"UploadFile {res.name!r}"
        else:
            rows = self.affected_function_scope if res.kind == "function-scope" else self.affected_yield
            fix = "let the code that runs later open its own (a new session inside the task or generator)"
            what = f"{res.name!r} from {res.origin}"
        hits = ctx.affected_hits(narrowed(rows, res.since))  # release awareness
        if not hits:
            return None
        return f"{what} used by {sink}, which runs after the endpoint returns: {ctx.explain_releases(hits)}; {fix}"

    # -- what is a resource -------------------------------------------------------------------
    def _resources(self, ctx: CheckContext, fn: FunctionFact) -> Dict[str, _Resource]:
        project, facts = ctx.project, ctx.facts
        out: Dict[str, _Resource] = {}
        for prm in fn.params:
            if "UploadFile" in annotation_symbols(project, facts, fn.scope, prm.annotation):
                out[prm.name] = _Resource(prm.name, "upload", "UploadFile")
                continue
            dep = dependency_of_param(project, facts, fn, prm)
            if dep is not None and dep[1].is_generator and dep[1].qualname in dep[0].rule_data.get(self.code, ()):
                since = seen_as_generator_from(project, dep[0], dep[1])
                if since is None:  # a decorator that may make it anything
                    continue
                kind = "function-scope" if dep[2] == "function" else "yield"
                out[prm.name] = _Resource(prm.name, kind, f"the yield dependency {dep[1].name}()", since)
        return out

    def _resource_in(self, ctx: CheckContext, fn: FunctionFact, resources, scope: str, expr: Optional[Expr], depth: int = 0):
        """The resource an argument hands over: the parameter itself, an UploadFile's ``.file``, or
        either inside a list/tuple/dict."""
        if expr is None or depth > _MAX_ARG_DEPTH:
            return None
        if expr.kind == "name":
            head, _, rest = expr.value.partition(".")
            res = resources.get(head)
            if res is None or (rest and not (res.kind == "upload" and rest == "file")):
                return None
            prm = param_of(ctx.project, ctx.facts, scope, head)
            return res if prm is not None and prm[1] is fn else None
        if expr.kind in ("seq", "star"):
            items = expr.args if expr.kind == "seq" else (expr.value,)
            for item in items:
                found = self._resource_in(ctx, fn, resources, scope, item, depth + 1)
                if found is not None:
                    return found
        if expr.kind == "dict":
            for _k, v in expr.kwargs:
                found = self._resource_in(ctx, fn, resources, scope, v, depth + 1)
                if found is not None:
                    return found
        return None

    # -- where it goes ------------------------------------------------------------------------
    def _uses(self, ctx: CheckContext, fn: FunctionFact, resources) -> Iterator[Tuple[_Resource, Expr, str]]:
        project, facts = ctx.project, ctx.facts
        for c in calls_within(project, facts, fn):
            call = c.call
            name, recv = _callee_receiver(call)
            if name == "add_task" and recv is not None and self._is_tasks_object(ctx, c.scope, recv):
                yield from self._task_args(ctx, fn, resources, c.scope, call, "a background task")
            elif project.callee_symbol(facts, c.scope, call) == "BackgroundTask":
                yield from self._task_args(ctx, fn, resources, c.scope, call, "a background task")
            elif self._is_streaming(ctx, c.scope, call):
                content = call.args[0] if call.args and call.args[0].kind != "star" else call.kwarg("content")
                if content is None:
                    continue
                sink = "the StreamingResponse's body"
                direct = self._resource_in(ctx, fn, resources, c.scope, content)
                if direct is not None:
                    yield direct, content, sink
                elif content.kind == "call":
                    found = False
                    for arg in list(content.args) + [v for _k, v in content.kwargs]:
                        res = self._resource_in(ctx, fn, resources, c.scope, arg)
                        if res is not None:
                            found = True
                            yield res, arg, sink
                    if not found:
                        for res in self._closure_uses(ctx, fn, resources, c.scope, content.value):
                            yield res, content, sink

    @staticmethod
    def _is_streaming(ctx: CheckContext, scope: str, call: Expr) -> bool:
        qname = ctx.project.resolve(ctx.facts, scope, call.value) or ""
        if ctx.project.subclasses_symbol(qname, ("StreamingResponse",)):
            return True
        return ctx.project.symbol(ctx.facts, scope, call.value) == "Response" and qname.endswith(".EventSourceResponse")

    def _is_tasks_object(self, ctx: CheckContext, scope: str, recv: Expr) -> bool:
        if injected_tasks_param(ctx.project, ctx.facts, scope, recv) is not None:
            return True
        return recv.kind == "name" and is_task_value(ctx.project, ctx.facts, scope, recv)

    def _task_args(self, ctx: CheckContext, fn: FunctionFact, resources, scope: str, call: Expr, sink: str):
        args = list(call.args)
        func = args[0] if args and args[0].kind != "star" else call.kwarg("func")
        rest = args[1:] if args and args[0].kind != "star" else args
        found = False
        for arg in rest + [v for k, v in call.kwargs if k != "func"]:
            res = self._resource_in(ctx, fn, resources, scope, arg)
            if res is not None:
                found = True
                yield res, arg, sink
        if not found and func is not None:
            for res in self._closure_uses(ctx, fn, resources, scope, func):
                yield res, func, sink

    def _closure_uses(self, ctx: CheckContext, fn: FunctionFact, resources, scope: str, func: Optional[Expr]) -> List[_Resource]:
        """Resources a function nested in the endpoint uses (calls a method on, or passes on), when
        that function is what runs later."""
        if func is None or func.kind != "name" or "." in func.value:
            return []
        target = ctx.project.function(ctx.project.resolve_name(ctx.facts, scope, func.value))
        if target is None or target[0] is not ctx.facts or not target[1].qualname.startswith(fn.qualname + "."):
            return []
        inner = target[1]
        found: List[_Resource] = []
        for c in calls_within(ctx.project, ctx.facts, inner):
            candidates: List[Expr] = list(c.call.args) + [v for _k, v in c.call.kwargs]
            _name, recv = _callee_receiver(c.call)
            if recv is not None:
                candidates.append(recv)
            for expr in candidates:
                if expr.kind == "name" and expr.value.partition(".")[2] not in ("", "file"):
                    continue
                res = self._resource_in(ctx, fn, resources, c.scope, expr)
                if res is not None and res not in found:
                    found.append(res)
        return found

