"""AXS101, AXS103 and AXS203 on affected and unaffected releases (release awareness).

A router served by a plain Starlette app, on FastAPI 0.100.0 (a throwaway venv), 0.110.0 (a
throwaway venv) and the current release (this venv):

- AXS101: the exit-stack name FastAPI reads is ``fastapi_astack`` on 0.74 - 0.105 and
  ``fastapi_middleware_astack`` from 0.118. Each name works on its own release and fails on the
  other; the linter, told the release, flags exactly the failing pair.
- AXS103: without any stack, a route with a yield dependency fails on 0.100.0 and every route fails
  on the current release, while 0.110.0 serves them all (and a JSON-only router works on 0.100.0);
  the linter flags only the failing releases.

- AXS203: behind ``@app.middleware("http")``, ``request.is_disconnected()`` notices a client that
  left on FastAPI 0.86.0 (Starlette 0.20.4) and never does on the current release (Starlette >= 0.21);
  the linter flags only the latter.

The project's release is given to the linter as it would be in real life: a requirements file.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .harness import codes, write_project
from .pinned import pinned, run_script  # noqa: F401  (pytest fixture)

ROUTES = """
from fastapi import APIRouter, Depends

router = APIRouter()


async def resource():
    yield "resource"


@router.get("/items")
async def items():
    return ["a"]


@router.get("/with-dep")
async def with_dep(res: str = Depends(resource)):
    return [res]
"""

NAMED_STACK = """
from fastapi.middleware.asyncexitstack import AsyncExitStackMiddleware
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount

from routes import router

app = Starlette(
    routes=[Mount("/api", app=router)],
    middleware=[Middleware(AsyncExitStackMiddleware, context_name=STACK_NAME)],
)
"""

NO_STACK = """
from starlette.applications import Starlette
from starlette.routing import Mount

from routes import router

app = Starlette(routes=[Mount("/api", app=router)])
"""

JSON_ONLY = """
from fastapi import APIRouter
from starlette.applications import Starlette
from starlette.routing import Mount

router = APIRouter()


@router.get("/items")
async def items():
    return ["a"]


app = Starlette(routes=[Mount("/api", app=router)])
"""

RUN = """
import importlib, json, sys
sys.path.insert(0, ".")
from fastapi.testclient import TestClient
app = importlib.import_module(sys.argv[1]).app
with TestClient(app, raise_server_exceptions=False) as client:
    print(json.dumps({p: client.get(p).status_code for p in sys.argv[2:]}))
"""

PATHS = ("/api/items", "/api/with-dep")


@pytest.fixture
def proof_project(tmp_path):
    return write_project(
        tmp_path,
        {
            "routes.py": ROUTES,
            "old_name.py": NAMED_STACK.replace("STACK_NAME", repr("fastapi_astack")),
            "new_name.py": NAMED_STACK.replace("STACK_NAME", repr("fastapi_middleware_astack")),
            "no_stack.py": NO_STACK,
            "json_only.py": JSON_ONLY,
            "run.py": RUN,
        },
    )


def statuses(python, root, module, paths=PATHS):
    proc = run_script(python, root, "run.py", module, *paths)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def lint_as(root, version, module):
    (root / "requirements.txt").write_text(f"fastapi=={version}\n")
    return codes(root, f"{module}.py")


@pytest.mark.releases
def test_on_fastapi_0_100(proof_project, pinned):  # noqa: F811
    python = pinned("fastapi==0.100.0", "httpx<0.28")
    # AXS101: 0.100 reads "fastapi_astack"
    assert statuses(python, proof_project, "old_name") == {"/api/items": 200, "/api/with-dep": 200}
    assert lint_as(proof_project, "0.100.0", "old_name") == []
    assert statuses(python, proof_project, "new_name") == {"/api/items": 200, "/api/with-dep": 500}
    assert lint_as(proof_project, "0.100.0", "new_name") == ["AXS101"]
    # AXS103: the yield dependency needs the stack here; a JSON-only router does not
    assert statuses(python, proof_project, "no_stack") == {"/api/items": 200, "/api/with-dep": 500}
    assert lint_as(proof_project, "0.100.0", "no_stack") == ["AXS103"]
    assert statuses(python, proof_project, "json_only", ("/api/items",)) == {"/api/items": 200}
    assert lint_as(proof_project, "0.100.0", "json_only") == []


@pytest.mark.releases
def test_on_fastapi_0_110(proof_project, pinned):  # noqa: F811
    python = pinned("fastapi==0.110.0", "httpx<0.28")
    # AXS103: 0.106.0 - 0.117.1 serve such a router without any stack
    assert statuses(python, proof_project, "no_stack") == {"/api/items": 200, "/api/with-dep": 200}
    assert lint_as(proof_project, "0.110.0", "no_stack") == []
    # (the named-stack apps cannot even import there: AXS102)
    assert lint_as(proof_project, "0.110.0", "old_name") == ["AXS102"]


def test_on_the_current_release(proof_project):
    import fastapi

    current = fastapi.__version__
    python = sys.executable
    assert statuses(python, proof_project, "old_name") == {"/api/items": 500, "/api/with-dep": 500}
    assert lint_as(proof_project, current, "old_name") == ["AXS101"]
    assert statuses(python, proof_project, "new_name") == {"/api/items": 200, "/api/with-dep": 200}
    assert lint_as(proof_project, current, "new_name") == []
    assert statuses(python, proof_project, "no_stack") == {"/api/items": 500, "/api/with-dep": 500}
    assert lint_as(proof_project, current, "no_stack") == ["AXS103"]
    assert statuses(python, proof_project, "json_only", ("/api/items",)) == {"/api/items": 500}
    assert lint_as(proof_project, current, "json_only") == ["AXS103"]
    # the failure is the one the message names
    proc = subprocess.run(
        [python, "-c", "import sys; sys.path.insert(0, '.'); from fastapi.testclient import TestClient; "
         "import old_name; TestClient(old_name.app).get('/api/items')"],
        cwd=str(proof_project), capture_output=True, text=True, timeout=120,
    )
    assert "AssertionError: fastapi_middleware_astack not found in request scope" in proc.stderr


DISCONNECT_APP = """
import asyncio

from fastapi import FastAPI, Request

app = FastAPI()
noticed = []  # what the endpoint saw (the response body may never reach a client that left)


@app.middleware("http")
async def timing(request, call_next):
    return await call_next(request)


@app.get("/poll")
async def poll(request: Request):
    for _ in range(50):
        if await request.is_disconnected():
            noticed.append(True)
            return {"noticed": True}
        await asyncio.sleep(0.01)
    noticed.append(False)
    return {"noticed": False}
"""

# one request whose client disconnects right after sending it; prints what the endpoint noticed
DISCONNECT_RUN = """
import asyncio, importlib, json, sys
sys.path.insert(0, ".")

async def main():
    module = importlib.import_module(sys.argv[1])
    app = module.app
    messages = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive():
        if messages:
            return messages.pop(0)
        return {"type": "http.disconnect"}

    body = []

    async def send(message):
        if message["type"] == "http.response.body":
            body.append(message.get("body", b""))

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
             "scheme": "http", "path": "/poll", "raw_path": b"/poll", "root_path": "", "query_string": b"",
             "headers": [(b"host", b"testserver")], "client": ("127.0.0.1", 5000), "server": ("testserver", 80)}
    await app(scope, receive, send)
    print(json.dumps(module.noticed))

asyncio.run(main())
"""


@pytest.fixture
def disconnect_project(tmp_path):
    return write_project(tmp_path, {"disconnect.py": DISCONNECT_APP, "run_disconnect.py": DISCONNECT_RUN})


@pytest.mark.releases
def test_is_disconnected_on_fastapi_0_86(disconnect_project, pinned):  # noqa: F811
    python = pinned("fastapi==0.86.0")
    proc = run_script(python, disconnect_project, "-c", "import starlette; print(starlette.__version__)")
    assert proc.stdout.strip() == "0.20.4"
    proc = run_script(python, disconnect_project, "run_disconnect.py", "disconnect")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [True]
    assert lint_as(disconnect_project, "0.86.0", "disconnect") == []


def test_is_disconnected_on_the_current_release(disconnect_project):
    import fastapi

    proc = run_script(sys.executable, disconnect_project, "run_disconnect.py", "disconnect")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [False]
    assert lint_as(disconnect_project, fastapi.__version__, "disconnect") == ["AXS203"]
