"""The package's layers: imports only go down, nothing imports in a circle, and the few deliberate
exceptions stay the exceptions. Every module of ``astack_lint`` is parsed (not imported); every
import counts, at module level, under ``if TYPE_CHECKING``, or inside a function.

From the top (see docs/architecture.md):

    applications   cli/, flake8_plugin.py, api.py, docgen.py, __main__.py
    cache/         state between runs
    engine/ report/  siblings: never import each other
    rules/         one module per rule, their API and shared helpers
    cst/           the only layer that imports libcst
    model/         the project model (stdlib only)
    config/        options, config files, noqa
    releases/      which FastAPI / Starlette releases a project runs
    base           the package's __init__, results.py, source.py, layout.py, tomlfile.py
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Set, Tuple

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "astack_lint"

LAYERS: Tuple[Tuple[str, Tuple[str, ...]], ...] = (
    ("applications", ("astack_lint.cli", "astack_lint.flake8_plugin", "astack_lint.api", "astack_lint.docgen",
                      "astack_lint.__main__")),
    ("cache", ("astack_lint.cache",)),
    ("engine|report", ("astack_lint.engine", "astack_lint.report")),
    ("rules", ("astack_lint.rules",)),
    ("cst", ("astack_lint.cst",)),
    ("model", ("astack_lint.model",)),
    ("config", ("astack_lint.config",)),
    ("releases", ("astack_lint.releases",)),
    ("base", ("astack_lint.results", "astack_lint.source", "astack_lint.layout", "astack_lint.tomlfile", "astack_lint")),
)
SIBLINGS = ("astack_lint.engine", "astack_lint.report")
# the one import inside a function: the entry point loads the command line only when it cannot
# replay the last result (a replay must load nothing else)
LAZY_IMPORTS = {("astack_lint.cli.main", "astack_lint.cli.lint")}
# the one place that imports by name at run time: the rule registry loads rule modules on first use
DYNAMIC_IMPORTERS = {"astack_lint.rules.registry"}


class Import(NamedTuple):
    source: str  # the importing module
    target: str  # an astack_lint module, or a third-party / stdlib top-level name
    line: int
    in_function: bool


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def modules() -> Dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_package(name: str, mods: Dict[str, Path]) -> bool:
    return name in mods and mods[name].name == "__init__.py"


def _resolve(source: str, mods: Dict[str, Path], module: Optional[str], level: int) -> str:
    if not level:
        return module or ""
    base = source.split(".")
    if not _is_package(source, mods):
        base = base[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def imports_of(name: str, path: Path, mods: Dict[str, Path]) -> List[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    out: List[Import] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                for alias in child.names:
                    out.append(Import(name, alias.name, child.lineno, in_function))
            elif isinstance(child, ast.ImportFrom):
                target = _resolve(name, mods, child.module, child.level)
                for alias in child.names:
                    sub = f"{target}.{alias.name}"
                    out.append(Import(name, sub if sub in mods else target, child.lineno, in_function))
            visit(child, inner)

    visit(tree, False)
    return out


def layer_of(name: str) -> Tuple[int, str]:
    """(rank from the bottom, the prefix that placed it)."""
    best: Optional[Tuple[int, int, str]] = None
    for rank, (_label, prefixes) in enumerate(reversed(LAYERS)):
        for prefix in prefixes:
            if name == prefix or name.startswith(prefix + "."):
                if best is None or len(prefix) > best[1]:
                    best = (rank, len(prefix), prefix)
    assert best is not None, f"{name} is in no layer: add it to LAYERS (and docs/architecture.md)"
    return best[0], best[2]


@pytest.fixture(scope="module")
def graph() -> Tuple[Dict[str, Path], List[Import]]:
    mods = modules()
    found: List[Import] = []
    for name, path in mods.items():
        found.extend(imports_of(name, path, mods))
    return mods, found


def _internal(imp: Import) -> bool:
    return imp.target == "astack_lint" or imp.target.startswith("astack_lint.")


def test_every_module_has_a_layer(graph):
    mods, _ = graph
    for name in mods:
        layer_of(name)


def test_imports_only_go_down(graph):
    _, found = graph
    up = []
    for imp in found:
        if not _internal(imp):
            continue
        (src_rank, src_prefix), (dst_rank, dst_prefix) = layer_of(imp.source), layer_of(imp.target)
        if dst_rank > src_rank:
            up.append(f"{imp.source}:{imp.line} imports {imp.target} (a higher layer)")
        elif dst_rank == src_rank and {src_prefix, dst_prefix} == set(SIBLINGS):
            up.append(f"{imp.source}:{imp.line} imports {imp.target} (engine and report are siblings)")
    assert not up, "\n".join(up)


def test_no_import_cycle(graph):
    mods, found = graph
    edges: Dict[str, Set[str]] = {m: set() for m in mods}
    for imp in found:
        if _internal(imp) and imp.target in mods and imp.target != imp.source:
            edges[imp.source].add(imp.target)
    # importing a module runs its packages' __init__ first
    for m in mods:
        parts = m.split(".")
        for i in range(1, len(parts)):
            parent = ".".join(parts[:i])
            if parent in mods and parent != m:
                edges[m].add(parent)
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on: Set[str] = set()
    cycles: List[List[str]] = []
    counter = [0]

    def strong(v: str) -> None:  # Tarjan, iteratively deep enough for this package
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            strong(v)
    assert not cycles, f"import cycles: {cycles}"


def test_imports_inside_functions_are_the_listed_exceptions(graph):
    _, found = graph
    lazy = {(imp.source, imp.target) for imp in found if imp.in_function}
    assert lazy == LAZY_IMPORTS, sorted(lazy)


def test_only_the_rule_registry_imports_by_name(graph):
    mods, _ = graph
    offenders = []
    for name, path in mods.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            callee = node.func if isinstance(node, ast.Call) else None
            named = (isinstance(callee, ast.Attribute) and callee.attr in ("import_module", "__import__")) or (
                isinstance(callee, ast.Name) and callee.id in ("import_module", "__import__"))
            if named and name not in DYNAMIC_IMPORTERS:
                offenders.append(f"{name}:{node.lineno}")
    assert not offenders, offenders


def test_only_the_cst_layer_and_rule_collectors_import_libcst(graph):
    """LibCST is the cst/ layer's, and a rule module's own collector's (a rule stays one module):
    the rules' API and helpers, the engine, the model and everything else never import it."""
    _, found = graph
    offenders = [f"{imp.source}:{imp.line}" for imp in found
                 if imp.target.split(".")[0] == "libcst"
                 and not imp.source.startswith(("astack_lint.cst.", "astack_lint.rules.axs"))]
    assert not offenders, offenders


@pytest.mark.skipif(not hasattr(sys, "stdlib_module_names"), reason="sys.stdlib_module_names is new in Python 3.10")
def test_the_model_and_the_base_need_nothing_but_the_standard_library(graph):
    _, found = graph
    offenders = []
    for imp in found:
        rank = layer_of(imp.source)[1]
        if rank.startswith(("astack_lint.model",)) or layer_of(imp.source)[0] == 0:
            top = imp.target.split(".")[0]
            # tomllib is standard from 3.11 (tomlfile.py falls back to tomli before)
            if not _internal(imp) and top not in sys.stdlib_module_names and top not in ("tomli", "tomllib"):
                offenders.append(f"{imp.source}:{imp.line} imports {imp.target}")
    assert not offenders, offenders


def test_rules_are_independent(graph):
    """A rule module imports no other rule module: what two rules share lives in a helper module."""
    _, found = graph
    offenders = [f"{imp.source}:{imp.line} imports {imp.target}" for imp in found
                 if imp.source.startswith("astack_lint.rules.axs") and imp.target.startswith("astack_lint.rules.axs")]
    assert not offenders, offenders
