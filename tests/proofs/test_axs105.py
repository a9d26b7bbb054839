"""AXS105 against real FastAPI/Starlette: ``add_middleware(Middleware(X))`` never serves a request.

Starlette >= 0.24 accepts the call, then fails with ``TypeError: 'Middleware' object is not
callable`` when it builds the middleware stack: at startup (lifespan) or on the first request.
Both suggested fixes work and are not flagged.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from .harness import codes, load, write_project

BAD = """
from fastapi import FastAPI
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware

app = FastAPI()
app.add_middleware(Middleware(GZipMiddleware, minimum_size=10))


@app.get("/")
async def index():
    return {"text": "x" * 100}
"""

FIX_CLASS = """
from fastapi import FastAPI
from starlette.middleware.gzip import GZipMiddleware

app = FastAPI()
app.add_middleware(GZipMiddleware, minimum_size=10)


@app.get("/")
async def index():
    return {"text": "x" * 100}
"""

FIX_LIST = """
from fastapi import FastAPI
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware

app = FastAPI(middleware=[Middleware(GZipMiddleware, minimum_size=10)])


@app.get("/")
async def index():
    return {"text": "x" * 100}
"""

MSG = "'Middleware' object is not callable"


def test_fails_at_startup(tmp_path):
    root = write_project(tmp_path, {"app.py": BAD})
    assert codes(root) == ["AXS105"]
    mod = load(root)  # the add_middleware call itself raises nothing on Starlette >= 0.24
    with pytest.raises(TypeError, match=MSG):
        with TestClient(mod.app):  # lifespan startup builds the middleware stack
            pass


def test_fails_on_first_request_without_lifespan(tmp_path):
    root = write_project(tmp_path, {"app.py": BAD})
    mod = load(root)
    client = TestClient(mod.app)  # no `with`: no lifespan, the first request builds the stack
    with pytest.raises(TypeError, match=MSG):
        client.get("/")


@pytest.mark.parametrize("fix", [FIX_CLASS, FIX_LIST], ids=["class", "middleware-list"])
def test_fixes_work_and_are_not_flagged(tmp_path, fix):
    root = write_project(tmp_path, {"app.py": fix})
    assert codes(root) == []
    mod = load(root)
    with TestClient(mod.app) as client:
        r = client.get("/", headers={"accept-encoding": "gzip"})
    assert r.status_code == 200
    assert r.headers.get("content-encoding") == "gzip"  # the middleware really runs
