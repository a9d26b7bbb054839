"""The core facts come from CPython's ``ast`` (model/collect.py); rule collectors join their LibCST records
with them by position, so both must agree: every fact, every position, in the same order, as the
LibCST reference collector (tests/reference_core.py) gives them."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path
from typing import Any, List

import pytest

from astack_lint.model.collect import collect
from astack_lint.model.facts import FileFacts
from astack_lint.source import read_source

from .conftest import REPO, needs_python
from .reference_core import reference_facts


def _table(f: FileFacts) -> List[Any]:
    return [
        ("imports", f.imports),
        ("functions", list(f.functions.items())),
        ("classes", list(f.classes.items())),
        ("bindings", f.bindings),
        ("subscript_assigns", f.subscript_assigns),
        ("calls", f.calls),
    ]


def assert_same_facts(path: str, text: str) -> None:
    want = reference_facts(path, text)
    got = collect(path, text, ast.parse(text))
    for (name, w), (_, g) in zip(_table(want), _table(got)):
        if w != g:
            for i, (a, b) in enumerate(zip(w, g)):
                assert a == b, f"{path}: {name}[{i}]:\nLibCST: {a}\nast:    {b}"
            assert len(w) == len(g), f"{path}: {name}: {len(w)} from LibCST, {len(g)} from ast"


SOURCES = [
    pytest.param(p, id=p.relative_to(REPO).as_posix(), marks=pytest.mark.syntax(needs_python(p)))
    for p in sorted(
        p
        for d in ("fixtures", "fixtures-py311", "astack_lint", "tests", "benchmarks")
        for p in (REPO / d).rglob("*.py")
        if ".venv" not in p.parts
    )
]


@pytest.mark.parametrize("path", SOURCES)
def test_same_facts_as_libcst_on_the_repository(path):
    assert_same_facts(str(path), read_source(str(path)).text)


SNIPPETS = {
    "comprehensions": """
        routers = [make(name) for name in NAMES if ok(name)]
        apps = {k: FastAPI(title=k) for k in keys}
        total = sum(len(r.routes) for r in routers)
        both = [(a, b) for a in xs for b in ys(a)]
        nested = [[g(y) for y in row] for row in grid]
        pairs = {x for x, _ in items()}

        class Server:
            def setup(self, app):
                [app.include_router(r, prefix=p) for r, p in self.routers]
                list(
                    (
                        app.add_middleware(m)
                        for m in self.middleware
                    )
                )
    """,
    "decorated": """
        @app.get("/", dependencies=[Depends(check)])
        @other
        async def handler(a, /, b: int = Depends(dep), *args: str, c=f(), d, **kw: Any) -> Response:
            return JSONResponse(g(a), background=BackgroundTask(h, *args, **kw))

        class Service(Base, *mixins, metaclass=Meta(x)):
            x: int = field(default=1)

            @staticmethod
            def make(app):
                app.state.x = 1
                return app

            def __init__(self, app):
                self.app = app
                self.routers[0] = APIRouter()

                def inner(self):
                    self.y = 2
    """,
    "expressions": """
        x = (1, 2)
        y = ((a), b)
        z = (a), (b)
        w = ([1], [2],)
        s = x[(a, b)]
        t = x[a, b:c]
        u = x[(a), b]
        v = Annotated[Session, Depends(get_db)]
        d = {"a": f(), **other, 1: g()}
        e = {*a, b}
        f = [*a, (yield)]
        g = "a" "b"
        h = b"x"
        i = f"{k()}"
        j = -1, 0x10, 1_000, 1.5, 2j, ..., True, None
        k = (lambda q=r(): (yield s()))
        m = await (await t())(u)
        o = (f)(x)(y)
        p = a.b().c[d].e
        for item in items(): item.add_task(f)
        async def g2():
            async for each in stream(): yield each
            async with ctx() as c: await c.run(x=lambda: z())
        if (n := compute()): pass
        try:
            pass
        except (A, B) as exc:
            raise C() from exc
        finally:
            cleanup()
    """,
    "imports": """
        import a.b.c
        import a.b as ab, d
        from . import x
        from ..pkg.mod import (y as why, z)
        from mod import *
        def f():
            import inner
            from .sub import thing
    """,
    "unicode": """
        café = "thé"; x = f(é=1, b=g("ü"))
        app = FastAPI(title="日本語", lifespan=life())   # 日本
        data = {"ключ": значение(1)}
    """,
    "line-ends": "x = f(1)\r\ny = g(\r\n  2)\rz = h(3)\n",
    "nested-returns": """
        def outer():
            def inner():
                return 1
            return inner, [x() for x in y if z()], {k: v() for k, v in w}
        def many():
            return a
            return b
            return c
            return d
            return e
            return f
            return g
            return h
            return i
    """,
    "star-subscript": "n = x[*args]\n",
    "match": """
        def handle(cmd):
            match cmd:
                case Point(x=0): call()
                case _: other()
    """,
    "deep-expression": "x = " + "f(" * 30 + ")" * 30 + "\ny = " + "[" * 30 + "]" * 30 + "\n",
}


NEWER_SNIPPETS = {"star-subscript": (3, 11), "match": (3, 10)}


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.syntax(NEWER_SNIPPETS.get(n, (3, 9)))) for n in sorted(SNIPPETS)]
)
def test_same_facts_as_libcst_on_snippets(name):
    text = SNIPPETS[name]
    text = textwrap.dedent(text).lstrip("\n") if "\r" not in text else text
    assert_same_facts(f"{name}.py", text)
