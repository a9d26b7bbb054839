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
The fix drops the `context_name` argument (keyword or positional), with its comma; every other
argument, comment and line of the call stays as it is (an argument alone on its line goes with
that line, and with a comment on it). Without it the middleware uses the default name of whichever
release runs, the one FastAPI reads. It is offered, as a safe fix, only when the name is a string
literal at the call and no code in the project can read that key: no other string literal of the
project's Python files holds it (as a subscript `scope["my_stack"]`, in `.get("my_stack")`, an `in`
test, a constant, another call's argument, an f-string...), only the `context_name` arguments of
FastAPI's `AsyncExitStackMiddleware`. Otherwise (a name such as `context_name=STACK_NAME`, or a key
some code may read) there is no fix.

## References
- FastAPI source: `fastapi/middleware/asyncexitstack.py`, `FastAPI.build_middleware_stack`
- [Dependencies with yield](https://fastapi.tiangolo.com/tutorial/dependencies/dependencies-with-yield/)
"""

from __future__ import annotations

import io
import re
import tokenize
from typing import Dict, List, Optional, Tuple

import libcst as cst

from ..cst.edits import NodeText, remove_arg
from ..cst.visitors import RuleCollector
from ..model.apps import middleware_registrations
from ..model.facts import Expr, FileFacts
from ..model.memo import false, memoized
from ..model.project import Project
from ..releases.affected import Affected
from ..results import Fix
from .api import CheckContext, Rule

_NAMES = ("add_middleware", "Middleware", "AsyncExitStackMiddleware")


def _last_name(node: cst.BaseExpression) -> Optional[str]:
    if isinstance(node, cst.Attribute):
        return node.attr.value
    return node.value if isinstance(node, cst.Name) else None


class Collector(RuleCollector):
    """For each argument that may be a ``context_name`` (``context_name=...``, or the second
    positional argument of ``add_middleware`` / ``Middleware`` / ``AsyncExitStackMiddleware`` and
    their aliases), by the position of its value: ``(edits that drop it, (start, end) of the value
    when it is a plain string literal)``."""

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.data = {}
        self._names = set(_NAMES)

    def visit_ImportAlias(self, node: cst.ImportAlias) -> None:
        if node.asname is not None and isinstance(node.asname.name, cst.Name) and _last_name(node.name) in _NAMES:
            self._names.add(node.asname.name.value)

    def visit_Call(self, node: cst.Call) -> None:
        args = node.args
        index = next((i for i, a in enumerate(args) if a.keyword is not None and a.keyword.value == "context_name"), None)
        if index is None:
            if _last_name(node.func) not in self._names:
                return
            positional = [i for i, a in enumerate(args) if a.keyword is None]
            if len(positional) < 2 or any(args[i].star for i in positional[:2]) or positional[-1] != positional[1]:
                return  # not exactly two positional arguments
            index = positional[1]
        nt = NodeText(self)
        value = args[index].value
        literal = (nt.start(value), nt.end(value)) if isinstance(value, cst.SimpleString) else None
        self.data[self.pos(value)] = (remove_arg(nt, node, index), literal)


class CustomExitStackName(Rule):
    code = "AXS101"
    tokens = (b"iddleware", b"context_name", b"asyncexitstack")
    name = "custom-exit-stack-name"
    summary = "AsyncExitStackMiddleware with a non-default context_name: FastAPI never reads that stack"
    proven_on = ("0.100.0", "0.165.0/1.10.0")
    collector = Collector

    # docs/framework-facts.md part A: the releases with the module, tagged with the name FastAPI reads there
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
            arg = reg.arg("context_name", 0)
            if arg is None or project.symbol(reg.facts, reg.scope, reg.cls) != "AsyncExitStackMiddleware":
                continue
            self._check(ctx, arg, reg.scope, reg.call)
        # AsyncExitStackMiddleware(app, context_name) wrapping an ASGI app directly
        for c in ctx.facts.calls:
            arg = c.call.kwarg("context_name")
            if arg is None and len(c.call.args) > 1 and c.call.args[1].kind != "star":
                arg = c.call.args[1]
            if arg is None:  # nothing to check: do not resolve the callee (that may load modules)
                continue
            if project.callee_symbol(ctx.facts, c.scope, c.call) == "AsyncExitStackMiddleware":
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
            fix=self._fix(ctx, arg, name),
        )

    def _fix(self, ctx: CheckContext, arg, name: str) -> Optional[Fix]:
        data = ctx.data
        rec = data.get((arg.line, arg.col)) if isinstance(data, dict) and arg.kind == "str" else None
        if not rec or not rec[0] or rec[1] is None or not _key_is_private(ctx.project, name):
            return None
        return Fix(tuple(rec[0]), "safe", "drop context_name")


@memoized()
def _stack_name_args(project: Project) -> List[Tuple[FileFacts, Expr]]:
    """(facts, value Expr) of every context_name given to FastAPI's AsyncExitStackMiddleware in
    the project (registrations and direct wrapping)."""
    out = []
    for reg in middleware_registrations(project):
        if project.symbol(reg.facts, reg.scope, reg.cls) == "AsyncExitStackMiddleware":
            out.append((reg.facts, reg.arg("context_name", 0)))
    for f in project.files.values():
        for c in f.calls:
            if project.callee_symbol(f, c.scope, c.call) == "AsyncExitStackMiddleware":
                arg = c.call.kwarg("context_name")
                if arg is None and len(c.call.args) > 1 and c.call.args[1].kind != "star":
                    arg = c.call.args[1]
                out.append((f, arg))
    return [(f, a) for f, a in out if a is not None]


_STRING_TOKENS = tuple(
    t for t in (tokenize.STRING, getattr(tokenize, "FSTRING_MIDDLE", None), getattr(tokenize, "TSTRING_MIDDLE", None)) if t is not None
)


def _string_tokens(text: str) -> List[Tuple[Tuple[int, int], str]]:
    """((line, col), text) of every string literal (and f-string part) of a file."""
    return [
        (tok.start, tok.string)
        for tok in tokenize.generate_tokens(io.StringIO(text).readline)
        if tok.type in _STRING_TOKENS
    ]


@memoized(guard=false)
def _key_is_private(project: Project, key: str) -> bool:
    """Is every string literal of the project's Python files that holds ``key`` (as a word) one of
    the literals given as ``context_name`` to FastAPI's AsyncExitStackMiddleware? (Then no code
    can read the stack stored under it, and dropping the argument is safe.)"""
    allowed: Dict[str, List[tuple]] = {}
    for f, arg in _stack_name_args(project):
        if arg.kind == "str" and arg.value == key:
            data = f.rule_data.get("AXS101")
            rec = data.get((arg.line, arg.col)) if isinstance(data, dict) else None
            if not rec or rec[1] is None:
                return False
            allowed.setdefault(f.path, []).append(rec[1])
    if not key:
        return False
    pattern = re.compile(r"(?<!\w)" + re.escape(key) + r"(?!\w)")
    for path in sorted(project.known_paths):
        text = project.source_text(path)
        if text is None:
            return False
        if key not in text or not pattern.search(text):
            continue
        starts = {tuple(a) for a, _b in allowed.get(path, ())}
        try:
            strings = _string_tokens(text)
        except (tokenize.TokenError, SyntaxError, ValueError):
            return False
        for start, value in strings:
            if pattern.search(value) and start not in starts:
                return False
    return True
