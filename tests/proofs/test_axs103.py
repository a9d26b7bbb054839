"""AXS103 against real FastAPI: an APIRouter served by plain Starlette has no exit stack.

Every HTTP route answers 500 with ``AssertionError: fastapi_middleware_astack not found in request
scope`` (FastAPI >= 0.118). Both suggested fixes work and are not flagged: the default-named
``Middleware(AsyncExitStackMiddleware)``, or serving the routes from a FastAPI app.
"""

from __future__ import annotations

import sys

import fastapi
import pytest
from fastapi.testclient import TestClient

from .harness import codes, load, write_project

# lint the proof project as the release it runs on (this venv's): the rules are release-aware
CURRENT = {"fastapi_version": fastapi.__version__}

ROUTER = """
from fastapi import APIRouter, Depends, Form

router = APIRouter()


async def resource():
    yield "resource"


@router.get("/items")
async def items():
    return ["a"]


@router.get("/with-dep")
async def with_dep(res: str = Depends(resource)):
    return [res]


@router.post("/form")
async def form(name: str = Form(...)):
    return [name]
"""

BAD = """
from starlette.applications import Starlette
from starlette.routing import Mount

from routes import router

app = Starlette(routes=[Mount("/api", app=router)])
"""

FIX_MIDDLEWARE = """
from fastapi.middleware.asyncexitstack import AsyncExitStackMiddleware
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount

from routes import router

app = Starlette(
    routes=[Mount("/api", app=router)],
    middleware=[Middleware(AsyncExitStackMiddleware)],
)
"""

FIX_FASTAPI = """
from fastapi import FastAPI

from routes import router

app = FastAPI()
app.include_router(router, prefix="/api")
"""

FIX_MOUNT_FASTAPI = """
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.routing import Mount

from routes import router

api = FastAPI()
api.include_router(router)
app = Starlette(routes=[Mount("/api", app=api)])
"""

def _load(root):
    sys.modules.pop("routes", None)  # each test imports its own project's routes.py
    return load(root)


REQUESTS = [
    ("get", "/api/items", {}),
    ("get", "/api/with-dep", {}),
    ("post", "/api/form", {"data": {"name": "x"}}),
]


@pytest.mark.parametrize("method,path,kw", REQUESTS, ids=[p for _m, p, _k in REQUESTS])
def test_router_in_plain_starlette_fails(tmp_path, method, path, kw):
    root = write_project(tmp_path, {"routes.py": ROUTER, "app.py": BAD})
    assert codes(root, **CURRENT) == ["AXS103"]
    mod = _load(root)
    with TestClient(mod.app, raise_server_exceptions=False) as client:
        assert getattr(client, method)(path, **kw).status_code == 500
    with TestClient(mod.app) as client:
        with pytest.raises(AssertionError, match="fastapi_middleware_astack not found in request scope"):
            getattr(client, method)(path, **kw)


@pytest.mark.parametrize("fix", [FIX_MIDDLEWARE, FIX_FASTAPI, FIX_MOUNT_FASTAPI], ids=["middleware", "fastapi", "mount-fastapi"])
@pytest.mark.parametrize("method,path,kw", REQUESTS, ids=[p for _m, p, _k in REQUESTS])
def test_fixes_work_and_are_not_flagged(tmp_path, fix, method, path, kw):
    root = write_project(tmp_path, {"routes.py": ROUTER, "app.py": fix})
    assert codes(root, **CURRENT) == []
    mod = _load(root)
    with TestClient(mod.app) as client:
        r = getattr(client, method)(path, **kw)
    assert r.status_code == 200, r.text
