"""Fuzzing: generated programs never make the library, the CLI or the flake8 plugin raise (nor print
an internal error); findings are deterministic (same input twice, --jobs 1 vs 2); applying every
fix to a generated FastAPI-flavoured program gives code that parses, and a second fix changes
nothing.

Programs come from hypothesmith (from the grammar and from LibCST nodes) and from a FastAPI-
flavoured strategy composing apps, routers, Depends, generators with try/except/yield,
add_middleware and BackgroundTasks, so the rules' code paths actually run. The prefilter is off
(ASTACK_LINT_NO_PREFILTER) so that every generated file is parsed and collected.

A short run by default; a long one with ``pytest --fuzz-examples N tests/test_fuzz.py`` or
``ASTACK_LINT_FUZZ_EXAMPLES=N``.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import List, Tuple

import pytest

hypothesis = pytest.importorskip("hypothesis")
hypothesmith = pytest.importorskip("hypothesmith")

import libcst as cst  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from astack_lint.api import Settings, lint_paths  # noqa: E402

from .conftest import REPO  # noqa: E402

pytestmark = pytest.mark.slow  # generated programs, and the CLI and flake8 in subprocesses

EXAMPLES = int(os.environ.get("ASTACK_LINT_FUZZ_EXAMPLES") or 30)
LONG = "ASTACK_LINT_FUZZ_EXAMPLES" in os.environ
FEW = EXAMPLES if LONG else 5  # for the slow paths: the CLI subprocess, --jobs 2

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=not LONG,  # the short run is the same in every CI run; the long run explores
)
FUZZ_FEW = settings(FUZZ, max_examples=FEW)

PYPROJECT = '[project]\nname = "fuzz"\ndependencies = ["fastapi>=0.100"]\n'


@pytest.fixture(autouse=True)
def _no_prefilter(monkeypatch):
    monkeypatch.setenv("ASTACK_LINT_NO_PREFILTER", "1")


# ---------------------------------------------------------------------------------------------
# a FastAPI-flavoured strategy

HEADER = """\
import fastapi
from fastapi import APIRouter, BackgroundTasks, Depends, FastAPI, Request
from fastapi.middleware.asyncexitstack import AsyncExitStackMiddleware
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.routing import Mount

app = FastAPI()
router = APIRouter()
"""

names = st.sampled_from(["app", "router", "sub", "api", "other"])
deps = st.integers(0, 3).map(lambda i: f"dep{i}")
exc_types = st.sampled_from(
    ["", " Exception", " BaseException", " ValueError", " (KeyError, Exception)", " Exception as exc",
     " BaseException as e", " fastapi.HTTPException"]
)
handlers = st.sampled_from(["pass", "raise", "log(exc)", "return", "raise ValueError()", "db.rollback()",
                            "if flag:\n    raise", "return None", "x = 1\nraise"])
values = st.sampled_from(["db", "None", "1", "object()", "session()"])


def _indent(text: str, n: int = 4) -> str:
    return "\n".join((" " * n + line) if line.strip() else line for line in text.splitlines())


@st.composite
def dependency(draw) -> str:
    name = draw(deps)
    prefix = draw(st.sampled_from(["", "async "]))
    body = f"try:\n    yield {draw(values)}\n"
    for _ in range(draw(st.integers(0, 2))):
        body += f"except{draw(exc_types)}:\n{_indent(draw(handlers))}\n"
    if draw(st.booleans()) or "except" not in body:
        body += f"finally:\n{_indent(draw(handlers))}\n"
    shape = draw(st.sampled_from(["plain", "loop", "twice", "nested", "after"]))
    if shape == "loop":
        body = f"for item in items:\n{_indent(body)}\n"
    elif shape == "twice":
        body += "yield 2\n"
    elif shape == "nested":
        body = f"with ctx() as db:\n{_indent(body)}\n"
    elif shape == "after":
        body = "db = session()\n" + body
    return f"{prefix}def {name}(request: Request = None):\n{_indent(body)}\n"


@st.composite
def route(draw) -> str:
    app = draw(names)
    dep = draw(deps)
    method = draw(st.sampled_from(["get", "post", "websocket", "api_route"]))
    params = draw(st.sampled_from([
        f"x=Depends({dep})", f"tasks: BackgroundTasks, x=Depends({dep})", "request: Request",
        f"x: int = Depends({dep}), *, y=fastapi.Depends({dep})", "",
    ]))
    body = draw(st.sampled_from([
        "return 1", f"tasks.add_task({dep})", 'return request.scope["fastapi_astack"]',
        'return request.scope.get("fastapi_middleware_astack")', "background = BackgroundTasks()",
        "return x", "pass",
    ]))
    prefix = draw(st.sampled_from(["", "async "]))
    return f'@{app}.{method}("/p")\n{prefix}def handler_{draw(st.integers(0, 9))}({params}):\n{_indent(body)}\n'


@st.composite
def wiring(draw) -> str:
    app = draw(names)
    dep = draw(deps)
    return draw(st.sampled_from([
        f"{app} = FastAPI(dependencies=[Depends({dep})])",
        f"{app} = APIRouter()",
        f"app.include_router({app})",
        f"{app}.add_middleware(Middleware(GZipMiddleware))",
        f"{app}.add_middleware(GZipMiddleware, minimum_size=10)",
        f'{app}.add_middleware(AsyncExitStackMiddleware, context_name="x")',
        f"{app}.add_middleware(BaseHTTPMiddleware, dispatch={dep})",
        f'{app}.mount("/m", {app})',
        f'star = Starlette(routes=[Mount("/api", app={app})])',
        f"{app}.dependency_overrides[{dep}] = {dep}",
        f'@{app}.middleware("http")\nasync def mw(request, call_next):\n    return await call_next(request)',
        f'@{app}.on_event("startup")\nasync def startup():\n    pass',
        "class Mw(BaseHTTPMiddleware):\n    async def dispatch(self, request, call_next):\n        return await call_next(request)",
        f"{app} = FastAPI(middleware=[Middleware(Mw)])",
        f"{app}.add_middleware(Middleware(AsyncExitStackMiddleware, {dep!r}))",
    ]))


@st.composite
def fastapi_program(draw) -> str:
    parts = draw(st.lists(st.one_of(dependency(), route(), wiring()), min_size=1, max_size=8))
    body = "\n\n".join(parts)
    if draw(st.booleans()):  # inside a factory function
        body = "def create_app():\n" + _indent(body) + "\n    return app"
    return HEADER + "\n" + body + "\n"


generated = st.one_of(hypothesmith.from_grammar(), hypothesmith.from_node(), fastapi_program())


# ---------------------------------------------------------------------------------------------
# helpers


Row = Tuple[str, int, int, str, str]


def _lint(root: str, jobs: int = 1) -> Tuple[List[Row], List[str]]:
    """Lint a tree with the library (no cache): the findings, the error messages; no internal error
    printed."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        result = lint_paths([root], Settings.from_values({"no_cache": True, "jobs": jobs}, base_dir=root))
    assert "internal error" not in err.getvalue(), err.getvalue()
    messages = [e.message for e in result.errors]
    assert not [m for m in messages if "internal error" in m], messages
    rows = [(os.path.relpath(f.path, root), f.line, f.col, f.code, f.message) for f in result.findings]
    return rows, messages


def _tree(files: List[str]) -> "tempfile.TemporaryDirectory[str]":
    tmp = tempfile.TemporaryDirectory(prefix="astack-fuzz-")
    root = Path(tmp.name)
    (root / "pyproject.toml").write_text(PYPROJECT)
    for i, text in enumerate(files):
        (root / f"mod{i}.py").write_text(text, encoding="utf-8", errors="surrogatepass")
    return tmp


def _compiles(text: str) -> bool:
    try:
        compile(text, "<fuzz>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return False
    return True


# ---------------------------------------------------------------------------------------------
# the library


@FUZZ
@given(source=generated)
def test_library_never_raises_and_is_deterministic(source):
    with _tree([source]) as root:
        first = _lint(root)
        second = _lint(root)
    assert first == second
    if _compiles(source):
        # what CPython accepts, LibCST may refuse (that is reported, one line); nothing else
        assert all(m.startswith(("LibCST cannot parse", "too deeply nested")) for m in first[1]), first[1]


@FUZZ
@given(source=fastapi_program())
def test_fastapi_programs_run_the_rules(source):
    with _tree([source]) as root:
        rows, errors = _lint(root)
    if _compiles(source):
        assert errors == []
    else:  # the snippets can combine into code CPython refuses (two bare excepts): one error line
        assert len(errors) == 1 and errors[0].startswith("syntax error"), errors


def test_fastapi_strategy_reaches_the_rules():
    """The snippets are worth their name: programs built from them (with a seeded Random, so the
    test is cheap and the same every run) make several rules report."""
    import random

    codes = set()
    for seed in range(30):
        rng = random.Random(seed)
        parts = [rng.choice(_SAMPLES)(rng) for _ in range(rng.randint(2, 8))]
        with _tree([HEADER + "\n" + "\n\n".join(parts) + "\n"]) as root:
            codes.update(r[3] for r in _lint(root)[0])
    assert len(codes) >= 4, codes


def _s_dep(rng) -> str:
    exc = rng.choice(["", " Exception", " BaseException", " ValueError"])
    handler = rng.choice(["pass", "raise", "log(exc)", "return"])
    return (f"{rng.choice(['', 'async '])}def dep{rng.randint(0, 3)}():\n    try:\n        yield db\n"
            f"    except{exc}:\n        {handler}\n")


def _s_route(rng) -> str:
    body = rng.choice(['return request.scope["fastapi_astack"]', "tasks.add_task(send)", "return 1"])
    return f'@app.get("/p")\nasync def handler(tasks: BackgroundTasks, x=Depends(dep{rng.randint(0, 3)})):\n    {body}\n'


def _s_wiring(rng) -> str:
    return rng.choice([
        "app.add_middleware(Middleware(GZipMiddleware))",
        'app.add_middleware(AsyncExitStackMiddleware, context_name="x")',
        '@app.middleware("http")\nasync def mw(request, call_next):\n    return await call_next(request)',
        'star = Starlette(routes=[Mount("/api", app=router)])',
        "def dep9():\n    yield 1\n    yield 2",
    ])


_SAMPLES = [_s_dep, _s_route, _s_wiring]


@FUZZ_FEW
@given(sources=st.lists(fastapi_program(), min_size=8, max_size=10), other=hypothesmith.from_node())
def test_jobs_do_not_change_findings(sources, other):
    """--jobs 2 (a process pool, from 8 files to parse) finds exactly what --jobs 1 finds.
    (hypothesmith's strategies may be drawn once per example: they record a target.)"""
    with _tree(sources + [other]) as root:
        assert _lint(root, jobs=1) == _lint(root, jobs=2)


# ---------------------------------------------------------------------------------------------
# the CLI


@FUZZ_FEW
@given(source=st.one_of(hypothesmith.from_grammar(), fastapi_program()))
def test_cli_never_crashes(source):
    with _tree([source]) as root:
        env = dict(os.environ, ASTACK_LINT_NO_PREFILTER="1")
        runs = [
            subprocess.run([sys.executable, "-m", "astack_lint", "--no-cache", "--output-format", fmt, "."],
                           cwd=root, capture_output=True, text=True, env=env, timeout=600)
            for fmt in ("text", "json")
        ]
    for proc in runs:
        assert proc.returncode in (0, 1, 2), proc.stderr
        assert "Traceback" not in proc.stderr, proc.stderr
        assert "internal error" not in proc.stderr, proc.stderr
    # exit 2 only for a file LibCST cannot parse (the grammar's programs all compile)
    if runs[0].returncode == 2:
        assert "LibCST cannot parse" in runs[0].stderr or "too deeply nested" in runs[0].stderr, runs[0].stderr


# ---------------------------------------------------------------------------------------------
# the flake8 plugin


@FUZZ
@given(source=generated, other=st.one_of(st.none(), fastapi_program()))
def test_flake8_plugin_never_raises(source, other):
    """Called as flake8 calls it: once with the file's own lines, once with lines that differ from
    the file on disk (stdin, or a file changed since)."""
    from astack_lint.flake8_plugin import Plugin

    with _tree([source]) as root:
        path = os.path.join(root, "mod0.py")
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            Plugin.parse_options(_Options())
            first = list(Plugin(None, path, source.splitlines(True)).run())
            Plugin._projects = {}
            again = list(Plugin(None, path, source.splitlines(True)).run())
            if other is not None:
                list(Plugin(None, path, other.splitlines(True)).run())
        assert "internal error" not in err.getvalue(), err.getvalue()
    assert first == again
    for line, col, text, _type in first:
        assert isinstance(line, int) and line >= 1 and isinstance(col, int) and col >= 0
        assert text.startswith("AXS")


class _Options:
    """What flake8 hands parse_options: every option at its default."""

    def __getattr__(self, name):
        return None


# ---------------------------------------------------------------------------------------------
# fix safety


@FUZZ
@given(source=fastapi_program())
def test_every_fix_parses_and_a_second_fix_changes_nothing(source):
    from astack_lint.api import fix_paths

    hypothesis.assume(_compiles(source))  # e.g. 'return None' drawn into an async generator
    with _tree([source]) as root:
        path = os.path.join(root, "mod0.py")
        settings_ = Settings.from_values({"no_cache": True, "jobs": 1}, base_dir=root)
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            first = fix_paths([root], settings_, unsafe=True, write=True)
            after = Path(path).read_bytes()
            second = fix_paths([root], settings_, unsafe=True, write=True)
        assert "internal error" not in err.getvalue(), err.getvalue()
        assert not [e for e in first.result.errors], first.result.errors  # no fix refused
        text = after.decode("utf-8")
        compile(text, path, "exec", dont_inherit=True)
        cst.parse_module(text)
        assert second.counts == {} and second.texts == {}, second.counts
        assert Path(path).read_bytes() == after
        assert first.converged
