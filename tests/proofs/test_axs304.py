"""AXS304 against real FastAPI: a dependency with a path that returns before any ``yield``.

On FastAPI 0.165 the request answers 500 with ``RuntimeError: generator didn't yield`` (sync and
async dependencies alike). Raising an ``HTTPException`` instead refuses the request properly and is
not flagged. Behind a ``functools.wraps`` decorator the same dependency is a 500 from FastAPI
0.123.5 on, and on 0.123.4 the endpoint silently receives the generator object.
"""

from __future__ import annotations

import json
import sys

import pytest
from fastapi.testclient import TestClient

from .harness import codes, load, write_project
from .pinned import pinned, run_script  # noqa: F401  (pytest fixture)

APP = """
from typing import Optional

from fastapi import Depends, FastAPI, Header, HTTPException

app = FastAPI()


def get_user(x_token: Optional[str] = Header(default=None)):
    if not x_token:
        {refuse}
    yield {{"token": x_token}}


async def get_limit(x_limit: int = Header(default=0)):
    if x_limit <= 0:
        {refuse}
    yield x_limit


@app.get("/me")
def me(user: dict = Depends(get_user)):
    return user


@app.get("/limit")
async def limit(value: int = Depends(get_limit)):
    return {{"limit": value}}
"""
BAD = APP.format(refuse="return")
FIX = APP.format(refuse="raise HTTPException(status_code=401)")


def test_return_before_yield_is_a_500(tmp_path):
    root = write_project(tmp_path, {"bad.py": BAD})
    assert codes(root, "bad.py") == ["AXS304", "AXS304"]
    mod = load(root, "bad")
    with TestClient(mod.app, raise_server_exceptions=False) as client:
        assert client.get("/me").status_code == 500
        assert client.get("/limit").status_code == 500
        assert client.get("/me", headers={"x-token": "t"}).status_code == 200
    with TestClient(mod.app) as client:
        for path in ("/me", "/limit"):
            with pytest.raises(RuntimeError, match="generator didn't yield"):
                client.get(path)


def test_raise_fix_refuses_properly_and_is_not_flagged(tmp_path):
    root = write_project(tmp_path, {"fixed.py": FIX})
    assert codes(root, "fixed.py") == []
    mod = load(root, "fixed")
    with TestClient(mod.app) as client:
        assert client.get("/me").status_code == 401
        assert client.get("/limit").status_code == 401
        assert client.get("/limit", headers={"x-limit": "3"}).json() == {"limit": 3}


# A generator dependency behind a functools.wraps decorator: FastAPI 0.123.5 and later unwrap it
# and run it as a dependency with yield (the early return is a 500); 0.123.4 and earlier call the
# wrapper and inject the generator object itself (no setup, no cleanup, no error).
WRAPPED = """
import functools
from typing import Optional

from fastapi import Depends, FastAPI, Header, HTTPException

app = FastAPI()


def traced(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return func(*args, **kwargs)

    return wrapper


@traced
def get_user(x_token: Optional[str] = Header(default=None)):
    if not x_token:
        {refuse}
    yield {{"token": x_token}}


@app.get("/me")
def me(user=Depends(get_user)):
    return {{"kind": type(user).__name__}}
"""
PROBE = (
    "import sys, json; sys.path.insert(0, '.');"
    "from fastapi.testclient import TestClient; import {module} as m;"
    "c = TestClient(m.app, raise_server_exceptions=False);"
    "print(json.dumps([c.get('/me').status_code, c.get('/me', headers={{'x-token': 't'}}).json()]))"
)


@pytest.fixture
def wrapped_project(tmp_path):
    return write_project(tmp_path, {
        "wrapped.py": WRAPPED.format(refuse="return"),
        "wrapped_fixed.py": WRAPPED.format(refuse="raise HTTPException(status_code=401)"),
    })


def _probe(python, root, module):
    proc = run_script(python, root, "-c", PROBE.format(module=module))
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_wrapped_dependency_is_flagged_only_where_fastapi_unwraps_it(wrapped_project):
    assert codes(wrapped_project, "wrapped.py") == ["AXS304"]
    assert codes(wrapped_project, "wrapped.py", fastapi_version=">=0.124") == ["AXS304"]
    assert codes(wrapped_project, "wrapped.py", fastapi_version="<=0.123.4") == []
    assert codes(wrapped_project, "wrapped_fixed.py") == []


def test_wrapped_dependency_returning_early_is_a_500_on_the_current_release(wrapped_project):
    assert _probe(sys.executable, wrapped_project, "wrapped") == [500, {"kind": "dict"}]
    assert _probe(sys.executable, wrapped_project, "wrapped_fixed") == [401, {"kind": "dict"}]


@pytest.mark.releases
def test_wrapped_dependency_is_the_generator_object_on_fastapi_0_123_4(wrapped_project, pinned):  # noqa: F811
    python = pinned("fastapi==0.123.4", "httpx<0.28")
    assert _probe(python, wrapped_project, "wrapped") == [200, {"kind": "generator"}]
    assert _probe(python, wrapped_project, "wrapped_fixed") == [200, {"kind": "generator"}]
