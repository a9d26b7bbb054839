"""AXS101 against real FastAPI: a custom-named AsyncExitStackMiddleware is never used.

- In a plain ``FastAPI()`` app nothing breaks, but FastAPI pushes nothing onto the custom-named
  stack: it uses its own default-named one (dead, misleading configuration).
- Where FastAPI's own stack is absent (an ``APIRouter`` served by plain Starlette), the custom name
  does not help: every route answers 500 with
  ``AssertionError: fastapi_middleware_astack not found in request scope``.
- The fix (no custom name) works and is not flagged.
"""

from __future__ import annotations

import fastapi
import pytest
from fastapi.testclient import TestClient

from .harness import codes, load, write_project

# lint the proof project as the release it runs on (this venv's): the rules are release-aware
CURRENT = {"fastapi_version": fastapi.__version__}

PLAIN_APP = """
from fastapi import Depends, FastAPI, File, Request, UploadFile
from fastapi.middleware.asyncexitstack import AsyncExitStackMiddleware

events = []
probe = None  # the test sets this to look inside the scope during the request


async def resource():
    events.append("open")
    yield "resource"
    events.append("close")


app = FastAPI()
app.add_middleware(AsyncExitStackMiddleware, context_name=STACK_NAME)


@app.post("/upload")
async def upload(request: Request, file: UploadFile = File(...), res: str = Depends(resource)):
    if probe is not None:
        probe(request.scope)
    return {"res": res, "size": len(await file.read())}
"""

ROUTER_APP = """
from fastapi import APIRouter, Depends
from fastapi.middleware.asyncexitstack import AsyncExitStackMiddleware
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount

router = APIRouter()


async def resource():
    yield "resource"


@router.get("/items")
async def items():
    return ["a"]


@router.get("/with-dep")
async def with_dep(res: str = Depends(resource)):
    return [res]


app = Starlette(
    routes=[Mount("/api", app=router)],
    middleware=[Middleware(AsyncExitStackMiddleware, context_name=STACK_NAME)],
)
"""


def _source(template: str, name: str) -> str:
    return template.replace("STACK_NAME", repr(name))


def test_plain_fastapi_never_uses_the_custom_stack(tmp_path):
    root = write_project(tmp_path, {"app.py": _source(PLAIN_APP, "my_stack")})
    assert codes(root, **CURRENT) == ["AXS101"]
    mod = load(root)
    seen = {}

    def probe(scope):  # during the request, after FastAPI read the form
        custom, default = scope.get("my_stack"), scope.get("fastapi_middleware_astack")
        assert custom is not None and default is not None and custom is not default
        # stdlib AsyncExitStack internals: the callbacks pending on each stack
        seen["custom"], seen["default"] = len(custom._exit_callbacks), len(default._exit_callbacks)

    mod.probe = probe
    with TestClient(mod.app) as client:
        r = client.post("/upload", files={"file": ("a.txt", b"hello")})
    # nothing breaks: the dependency with yield ran and was closed, the upload was read ...
    assert r.status_code == 200, r.text
    assert r.json() == {"res": "resource", "size": 5}
    assert mod.events == ["open", "close"]
    # ... but the custom-named stack is a stack nobody pushes to: FastAPI used its own default-named one
    assert seen["custom"] == 0
    assert seen["default"] >= 1  # the uploaded form's close()


def test_plain_fastapi_default_name_is_not_flagged(tmp_path):
    root = write_project(tmp_path, {"app.py": _source(PLAIN_APP, "fastapi_middleware_astack")})
    assert codes(root, **CURRENT) == []
    mod = load(root)
    with TestClient(mod.app) as client:
        r = client.post("/upload", files={"file": ("a.txt", b"hello")})
    assert r.status_code == 200, r.text
    assert mod.events == ["open", "close"]


@pytest.mark.parametrize("path", ["/api/items", "/api/with-dep"])
def test_router_behind_plain_starlette_with_custom_name_fails(tmp_path, path):
    root = write_project(tmp_path, {"app.py": _source(ROUTER_APP, "my_stack")})
    # the custom name is AXS101; the router still has no (default-named) stack: AXS103
    assert codes(root, **CURRENT) == ["AXS101", "AXS103"]
    mod = load(root)
    with TestClient(mod.app, raise_server_exceptions=False) as client:
        assert client.get(path).status_code == 500
    with TestClient(mod.app) as client:
        with pytest.raises(AssertionError, match="fastapi_middleware_astack not found in request scope"):
            client.get(path)


@pytest.mark.parametrize("path", ["/api/items", "/api/with-dep"])
def test_router_behind_plain_starlette_with_default_name_works(tmp_path, path):
    root = write_project(tmp_path, {"app.py": _source(ROUTER_APP, "fastapi_middleware_astack")})
    assert codes(root, **CURRENT) == []
    mod = load(root)
    with TestClient(mod.app) as client:
        r = client.get(path)
    assert r.status_code == 200, r.text
