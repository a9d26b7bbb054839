"""AXS404 against real FastAPI (0.165 / Starlette 1.10; FACTS E: Starlette >= 0.24): adding
middleware once the app has started raises ``RuntimeError: Cannot add middleware after an
application has started``, in the lifespan (the app never starts) and in an endpoint (the request
fails). Registering the middleware where the app is created works and is not flagged."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from .harness import codes, load, write_project

IN_LIFESPAN = """
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.middleware.gzip import GZipMiddleware


@asynccontextmanager
async def lifespan(app: FastAPI):
    app.add_middleware(GZipMiddleware)
    yield


app = FastAPI(lifespan=lifespan)


@app.get("/")
async def index():
    return {"ok": True}
"""

IN_ENDPOINT = """
from fastapi import FastAPI, Request
from starlette.middleware.gzip import GZipMiddleware

app = FastAPI()


@app.get("/enable")
async def enable(request: Request):
    request.app.add_middleware(GZipMiddleware)
    return {"ok": True}
"""

FIXED = """
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.middleware.gzip import GZipMiddleware


@asynccontextmanager
async def lifespan(app: FastAPI):
    yield


app = FastAPI(lifespan=lifespan)
app.add_middleware(GZipMiddleware, minimum_size=10)


@app.get("/")
async def index():
    return {"text": "x" * 100}
"""

MESSAGE = "Cannot add middleware after an application has started"


def test_in_lifespan_the_app_never_starts(tmp_path):
    root = write_project(tmp_path, {"app.py": IN_LIFESPAN})
    assert codes(root) == ["AXS404"]
    app = load(root).app
    with pytest.raises(RuntimeError, match=MESSAGE):
        with TestClient(app):
            pass


def test_in_an_endpoint_the_request_fails(tmp_path):
    root = write_project(tmp_path, {"app.py": IN_ENDPOINT})
    assert codes(root) == ["AXS404"]
    app = load(root).app
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/enable").status_code == 500
    with TestClient(app) as client:
        with pytest.raises(RuntimeError, match=MESSAGE):
            client.get("/enable")


def test_registered_at_creation_works(tmp_path):
    root = write_project(tmp_path, {"app.py": FIXED})
    assert codes(root) == []
    app = load(root).app
    with TestClient(app) as client:
        response = client.get("/", headers={"accept-encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
