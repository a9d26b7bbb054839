"""
## What it does
Checks for imports of `fastapi.middleware.asyncexitstack` (`import fastapi.middleware.asyncexitstack`,
`from fastapi.middleware.asyncexitstack import AsyncExitStackMiddleware`,
`from fastapi.middleware import asyncexitstack`, `importlib.import_module(...)` of it) in a project
that can run a FastAPI release without that module. The rule knows which releases the project can
run (its lock file, requirements, pyproject.toml, or the `fastapi-version` option; see
`astack-lint --show-settings`) and stays quiet when all of them have the module. Imports guarded by
`try: ... except ImportError`, `contextlib.suppress(ImportError)`, `if TYPE_CHECKING:` or a version
check are fine.

## Why is this bad?
The module exists in FastAPI 0.74.0 - 0.105.x and again from 0.118.0. It does not exist before
0.74.0, and FastAPI 0.106.0 removed it until 0.118.0 brought it back: on 0.106.0 - 0.117.1 the
import raises `ModuleNotFoundError: No module named 'fastapi.middleware.asyncexitstack'`, so the
app does not even start. A constraint such as `fastapi>=0.100` admits those releases; a fresh
install or a resolver that backtracks can land on one.

## Example
```python
# pyproject.toml: dependencies = ["fastapi>=0.100"]
from fastapi.middleware.asyncexitstack import AsyncExitStackMiddleware
```

## Use instead
Require a release that has the module (`fastapi>=0.118`), or do without it: an ordinary `FastAPI()`
app installs its own exit stack, so most code needs no import at all. Code that must run on every
release can guard the import:
```python
try:
    from fastapi.middleware.asyncexitstack import AsyncExitStackMiddleware
except ImportError:  # FastAPI 0.106.0 - 0.117.1
    AsyncExitStackMiddleware = None
```

## Fix safety
No automatic fix: the right fix is a dependency constraint or a code path for the releases without
the module.

## References
- FastAPI 0.106.0 release notes (the request exit stack moved; the middleware module was removed)
- FastAPI 0.118.0 release notes (`AsyncExitStackMiddleware` is back, default name
  `fastapi_middleware_astack`)
"""

from __future__ import annotations

from typing import List, NamedTuple, Optional, Tuple

import libcst as cst

from ..cst.visitors import RuleCollector, dotted_name
from ..releases.affected import Affected
from .api import CheckContext, Rule

MODULE = "fastapi.middleware.asyncexitstack"
PARENT, _, LEAF = MODULE.rpartition(".")
_IMPORT_ERRORS = ("ImportError", "ModuleNotFoundError", "Exception", "BaseException")


class ImportSite(NamedTuple):
    line: int
    col: int
    end_line: int
    end_col: int


class Data(NamedTuple):
    imports: List[ImportSite]
    guarded: List[Tuple[int, int]]  # line ranges where a failing import is handled


def _catches_import_error(handler: cst.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    types = handler.type.elements if isinstance(handler.type, cst.Tuple) else [handler.type]
    for t in types:
        node = t.value if isinstance(t, cst.Element) else t
        name = dotted_name(node) if isinstance(node, (cst.Name, cst.Attribute)) else None
        if name and name.rsplit(".", 1)[-1] in _IMPORT_ERRORS:
            return True
    return False


def _mentions_version(node: cst.CSTNode, module: cst.Module) -> bool:
    text = module.code_for_node(node).lower()
    return "version" in text and "version_info" not in text


class Collector(RuleCollector):
    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.data = Data([], [])

    def _guard(self, node: cst.CSTNode) -> None:
        start, _c, end, _e = self.range(node)
        self.data.guarded.append((start, end))

    def visit_Try(self, node: cst.Try) -> None:
        if any(_catches_import_error(h) for h in node.handlers):
            self._guard(node.body)

    def visit_With(self, node: cst.With) -> None:
        for item in node.items:
            call = item.item
            if isinstance(call, cst.Call):
                callee = dotted_name(call.func) or ""
                if callee.rsplit(".", 1)[-1] == "suppress" and any(
                    (dotted_name(a.value) or "").rsplit(".", 1)[-1] in _IMPORT_ERRORS for a in call.args
                ):
                    self._guard(node.body)

    def visit_If(self, node: cst.If) -> None:
        test = dotted_name(node.test) if isinstance(node.test, (cst.Name, cst.Attribute)) else None
        if test and test.rsplit(".", 1)[-1] == "TYPE_CHECKING":
            self._guard(node.body)
        elif _mentions_version(node.test, self.ctx.module):
            self._guard(node)

    def visit_Import(self, node: cst.Import) -> None:
        for alias in node.names:
            name = dotted_name(alias.name) or ""
            if name == MODULE or name.startswith(MODULE + "."):
                self._site(alias)

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if node.relative or node.module is None:
            return
        module = dotted_name(node.module) or ""
        if module == MODULE or module.startswith(MODULE + "."):
            self._site(node.module)
        elif module == PARENT and not isinstance(node.names, cst.ImportStar):
            for alias in node.names:
                if dotted_name(alias.name) == LEAF:
                    self._site(alias)

    def _site(self, node: cst.CSTNode) -> None:
        self.data.imports.append(ImportSite(*self.range(node)))


class MissingAsyncExitStackModule(Rule):
    code = "AXS102"
    name = "asyncexitstack-module-missing"
    summary = "import of fastapi.middleware.asyncexitstack where the project admits FastAPI releases without it"
    proven_on = ("0.110.0", "0.165.0/1.10.0")
    collector = Collector
    tokens = (b"asyncexitstack",)  # prefilter: a file that never names the module cannot import it

    # docs/framework-facts.md part A: the module exists in 0.74.0 - 0.105.x and from 0.118.0
    affected = (
        Affected(fastapi="<0.74.0", symptom="the module does not exist yet (it came in 0.74.0)"),
        Affected(fastapi=">=0.106.0,<0.118.0", symptom="FastAPI had removed it (it is back from 0.118.0)"),
    )

    def check(self, ctx: CheckContext) -> None:
        data: Optional[Data] = ctx.data or None
        project, facts = ctx.project, ctx.facts
        if data is None:
            return
        # the project's own `fastapi` package (FastAPI's source tree, a vendored copy): not ours to judge
        if "fastapi.applications" in project.modules or MODULE in project.modules:
            return
        sites = list(data.imports)
        for c in facts.calls:  # importlib.import_module("fastapi.middleware.asyncexitstack")
            call = c.call
            if not call.args or call.args[0].kind != "str" or call.args[0].value != MODULE:
                continue
            callee = project.resolve(facts, c.scope, call.value)
            if callee in ("importlib.import_module", "builtins.__import__", "__import__"):
                sites.append(ImportSite(call.line, call.col, c.end_line, c.end_col))
        sites = [s for s in sites if not any(a <= s.line <= b for a, b in data.guarded)]
        if not sites:
            return
        hits = ctx.affected_hits()
        if not hits:
            return
        why = ctx.explain_releases(hits)
        for s in sites:
            ctx.report(
                s.line,
                s.col,
                f"{MODULE} is missing on FastAPI releases this project can run (the import raises "
                f"ModuleNotFoundError): {why}; require fastapi>=0.118, or guard the import with "
                f"try/except ImportError (an ordinary FastAPI() app needs no import at all)",
                s.end_line,
                s.end_col,
            )
