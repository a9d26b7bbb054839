"""AXS104 against real FastAPI: reading ``fastapi_astack`` from the scope fails.

On FastAPI 0.165 ``request.scope["fastapi_astack"]`` raises ``KeyError`` (500) for HTTP requests and
for WebSockets. The suggested fix, a dependency with ``yield``, runs its cleanup after the request
and is not flagged.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from .harness import codes, load, write_project

BAD = """
from fastapi import FastAPI, Request, WebSocket

cleaned = []
app = FastAPI()


async def cleanup():
    cleaned.append("done")


@app.get("/items")
async def items(request: Request):
    stack = request.scope["fastapi_astack"]
    stack.push_async_callback(cleanup)
    return ["a"]


@app.websocket("/ws")
async def ws(websocket: WebSocket):
    await websocket.accept()
    stack = websocket.scope["fastapi_astack"]
    stack.push_async_callback(cleanup)
    await websocket.send_text("hi")
    await websocket.close()
"""

FIX = """
from fastapi import Depends, FastAPI, WebSocket

cleaned = []
app = FastAPI()


async def cleanup():
    cleaned.append("done")


async def cleanup_after():
    yield
    await cleanup()


@app.get("/items", dependencies=[Depends(cleanup_after)])
async def items():
    return ["a"]


@app.websocket("/ws", dependencies=[Depends(cleanup_after)])
async def ws(websocket: WebSocket):
    await websocket.accept()
    await websocket.send_text("hi")
    await websocket.close()
"""


def test_http_read_raises_keyerror(tmp_path):
    root = write_project(tmp_path, {"app.py": BAD})
    assert codes(root) == ["AXS104", "AXS104"]
    mod = load(root)
    with TestClient(mod.app, raise_server_exceptions=False) as client:
        assert client.get("/items").status_code == 500
    with TestClient(mod.app) as client:
        with pytest.raises(KeyError, match="fastapi_astack"):
            client.get("/items")
    assert mod.cleaned == []


def test_websocket_read_raises_keyerror(tmp_path):
    root = write_project(tmp_path, {"app.py": BAD})
    mod = load(root)
    with TestClient(mod.app) as client:
        with pytest.raises(KeyError, match="fastapi_astack"):
            with client.websocket_connect("/ws") as ws:
                ws.receive_text()
    assert mod.cleaned == []


def test_dependency_with_yield_works_and_is_not_flagged(tmp_path):
    root = write_project(tmp_path, {"app.py": FIX})
    assert codes(root) == []
    mod = load(root)
    with TestClient(mod.app) as client:
        r = client.get("/items")
        assert r.status_code == 200, r.text
        assert mod.cleaned == ["done"]
        with client.websocket_connect("/ws") as ws:
            assert ws.receive_text() == "hi"
    assert mod.cleaned == ["done", "done"]


GET_AND_IN = """
from fastapi import FastAPI, Request

app = FastAPI()


@app.get("/probe")
async def probe(request: Request):
    return {
        "get": request.scope.get("fastapi_astack"),
        "in": "fastapi_astack" in request.scope,
    }
"""


def test_get_and_in_see_nothing(tmp_path):
    """The key is gone on 0.165: .get() gives None and an 'in' test is false (no KeyError, but a
    stack-shaped hole: whatever the code meant to do with the stack does not happen)."""
    root = write_project(tmp_path, {"app.py": GET_AND_IN})
    assert codes(root) == ["AXS104", "AXS104"]
    mod = load(root)
    with TestClient(mod.app) as client:
        assert client.get("/probe").json() == {"get": None, "in": False}
