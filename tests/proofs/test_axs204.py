"""AXS204 against real FastAPI/Starlette: an HTTPException raised in middleware is a 500.

User middleware sits outside ExceptionMiddleware, so ServerErrorMiddleware answers the exception
with 500 Internal Server Error, on the current release and on an old one (0.100.0). Each form the
rule knows (an ``@app.middleware("http")`` function, a BaseHTTPMiddleware subclass's ``dispatch``, a
``dispatch=`` function, a pure ASGI ``__call__``, a helper the middleware calls) gives the same 500;
returning the response instead gives the intended 401 and is not flagged; an app with a handler for
``Exception`` gets what that handler answers, and is not flagged either.
"""

from __future__ import annotations

import json
import sys

import pytest

from .harness import codes, write_project
from .pinned import pinned, run_script  # noqa: F401  (pytest fixture)

HEAD = """
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.middleware.base import BaseHTTPMiddleware

app = FastAPI()


@app.get("/")
async def index():
    return {"ok": True}
"""

SHAPES = {
    "http": """
@app.middleware("http")
async def require_key(request: Request, call_next):
    if not request.headers.get("x-key"):
        {refuse}
    return await call_next(request)
""",
    "subclass": """
class RequireKey(BaseHTTPMiddleware):
    async def dispatch(self, request, call_next):
        if not request.headers.get("x-key"):
            {refuse}
        return await call_next(request)


app.add_middleware(RequireKey)
""",
    "dispatch": """
async def require_key(request, call_next):
    if not request.headers.get("x-key"):
        {refuse}
    return await call_next(request)


app.add_middleware(BaseHTTPMiddleware, dispatch=require_key)
""",
    "asgi": """
class RequireKey:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and b"x-key" not in dict(scope["headers"]):
            {refuse_asgi}
        await self.app(scope, receive, send)


app.add_middleware(RequireKey)
""",
    "helper": """
def check_key(request):
    if not request.headers.get("x-key"):
        raise HTTPException(status_code=401)


@app.middleware("http")
async def require_key(request: Request, call_next):
    {call_helper}
    return await call_next(request)
""",
}
RAISE = "raise HTTPException(status_code=401)"
RETURN = 'return JSONResponse({"detail": "no key"}, status_code=401)'
RETURN_ASGI = 'return await JSONResponse({"detail": "no key"}, status_code=401)(scope, receive, send)'
CALL = "check_key(request)"
CALL_FIXED = (
    "try:\n        check_key(request)\n    except HTTPException as exc:\n"
    '        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)'
)
HANDLED = """
async def on_error(request, exc):
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    return JSONResponse({"detail": "handled"}, status_code=status)


app.add_exception_handler(Exception, on_error)
"""
PROBE = (
    "import sys, json; sys.path.insert(0, '.');"
    "from fastapi.testclient import TestClient; import {module} as m;"
    "c = TestClient(m.app, raise_server_exceptions=False);"
    "print(json.dumps([c.get('/').status_code, c.get('/', headers={{'x-key': 'k'}}).status_code]))"
)


def _source(shape: str, fixed: bool, handled: bool = False) -> str:
    body = SHAPES[shape].format(
        refuse=RETURN if fixed else RAISE,
        refuse_asgi=RETURN_ASGI if fixed else RAISE,
        call_helper=CALL_FIXED if fixed else CALL,
    )
    return HEAD + body + (HANDLED if handled else "")


@pytest.fixture
def shapes(tmp_path):
    files = {}
    for shape in SHAPES:
        files[f"bad_{shape}.py"] = _source(shape, fixed=False)
        files[f"fixed_{shape}.py"] = _source(shape, fixed=True)
    files["handled.py"] = _source("http", fixed=False, handled=True)
    return write_project(tmp_path, files)


def _probe(python, root, module):
    proc = run_script(python, root, "-c", PROBE.format(module=module))
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_flagged_only_where_the_exception_escapes(shapes, shape):
    assert codes(shapes, f"bad_{shape}.py") == ["AXS204"]
    assert codes(shapes, f"fixed_{shape}.py") == []


def test_a_handler_for_exception_is_not_flagged(shapes):
    assert codes(shapes, "handled.py") == []


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_500_on_the_current_release_and_the_fix_gives_401(shapes, shape):
    assert _probe(sys.executable, shapes, f"bad_{shape}") == [500, 200]
    assert _probe(sys.executable, shapes, f"fixed_{shape}") == [401, 200]


def test_a_handler_for_exception_answers_instead(shapes):
    assert _probe(sys.executable, shapes, "handled") == [401, 200]


@pytest.mark.releases
def test_500_on_fastapi_0_100_too(shapes, pinned):  # noqa: F811
    python = pinned("fastapi==0.100.0", "httpx<0.28")
    for shape in sorted(SHAPES):
        assert _probe(python, shapes, f"bad_{shape}") == [500, 200], shape
        assert _probe(python, shapes, f"fixed_{shape}") == [401, 200], shape
