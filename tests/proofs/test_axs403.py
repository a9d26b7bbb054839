"""AXS403 against real FastAPI (0.165): on an app created with ``lifespan=``, ``@app.on_event``
handlers never run; nothing fails, only a DeprecationWarning is shown. The fix (the handler's code
moved into the lifespan) runs and is not flagged."""

from __future__ import annotations

import warnings

from fastapi.testclient import TestClient

from .harness import codes, load, write_project

BAD = """
from contextlib import asynccontextmanager

from fastapi import FastAPI

ran = []


@asynccontextmanager
async def lifespan(app):
    ran.append("lifespan startup")
    yield
    ran.append("lifespan shutdown")


app = FastAPI(lifespan=lifespan)


@app.on_event("startup")
async def connect():
    ran.append("connect")


@app.on_event("shutdown")
async def disconnect():
    ran.append("disconnect")


@app.get("/")
async def index():
    return {"ok": True}
"""

FIXED = """
from contextlib import asynccontextmanager

from fastapi import FastAPI

ran = []


@asynccontextmanager
async def lifespan(app):
    ran.append("lifespan startup")
    ran.append("connect")
    yield
    ran.append("disconnect")
    ran.append("lifespan shutdown")


app = FastAPI(lifespan=lifespan)


@app.get("/")
async def index():
    return {"ok": True}
"""


def test_on_event_handlers_never_run(tmp_path):
    root = write_project(tmp_path, {"app.py": BAD})
    assert codes(root) == ["AXS403", "AXS403"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mod = load(root)
    assert any(issubclass(w.category, DeprecationWarning) and "on_event" in str(w.message) for w in caught)
    with TestClient(mod.app) as client:
        assert client.get("/").status_code == 200
    assert mod.ran == ["lifespan startup", "lifespan shutdown"]  # connect/disconnect never ran


def test_code_moved_into_the_lifespan_runs(tmp_path):
    root = write_project(tmp_path, {"app.py": FIXED})
    assert codes(root) == []
    mod = load(root)
    with TestClient(mod.app) as client:
        assert client.get("/").status_code == 200
    assert mod.ran == ["lifespan startup", "connect", "disconnect", "lifespan shutdown"]
