"""AXS201 against real FastAPI: BaseHTTPMiddleware holds the response for the background task.

On an affected release (FastAPI 0.100.0, Starlette 0.27.0: the 0.23.1 - 0.28.0 row of docs/framework-facts.md part C) the
final body message of the response behind ``@app.middleware("http")`` is sent only after the
endpoint's background task has finished: the client's request is held for the task's duration. The
fix, a pure ASGI middleware, sends the response before the task runs, on the same release, and is
not flagged. On the current release (Starlette >= 1.7) the flagged app no longer holds the response.

The app is driven through a raw ASGI harness (TestClient always waits for the whole ASGI call,
background tasks included, so it cannot tell the two apart).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .harness import codes, write_project
from .pinned import pinned, run_script  # noqa: F401  (pytest fixture)

TASK_SECONDS = 1.0

ROUTES = """
import time

from fastapi import APIRouter, BackgroundTasks

router = APIRouter()


def slow_task():
    time.sleep(TASK_SECONDS)


@router.post("/signup")
async def signup(tasks: BackgroundTasks):
    tasks.add_task(slow_task)
    return {"ok": True}
""".replace("TASK_SECONDS", repr(TASK_SECONDS))

BAD = """
from fastapi import FastAPI

from routes import router

app = FastAPI()


@app.middleware("http")
async def timing(request, call_next):
    response = await call_next(request)
    response.headers["x-timed"] = "1"
    return response


app.include_router(router)
"""

FIXED = """
from fastapi import FastAPI

from routes import router


class Timing:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_timed(message):
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + [(b"x-timed", b"1")]
            await send(message)

        await self.app(scope, receive, send_timed)


app = FastAPI()
app.add_middleware(Timing)
app.include_router(router)
"""

# Sends one POST /signup through the app; prints when the response was complete (the final
# http.response.body) and when the ASGI call returned (after the background task), in seconds.
RUNNER = """
import asyncio, importlib, json, sys, time

async def main(module):
    app = importlib.import_module(module).app
    start = time.monotonic()
    times = {}
    delivered = []

    async def receive():
        if not delivered:
            delivered.append(1)
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.sleep(30)
        return {"type": "http.disconnect"}

    async def send(message):
        if message["type"] == "http.response.start":
            times["status"] = message["status"]
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            times["response_complete"] = time.monotonic() - start

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": "/signup", "raw_path": b"/signup", "root_path": "",
             "query_string": b"", "headers": [(b"host", b"testserver")],
             "client": ("127.0.0.1", 5000), "server": ("testserver", 80)}
    await app(scope, receive, send)
    times["call_returned"] = time.monotonic() - start
    print(json.dumps(times))

sys.path.insert(0, ".")
asyncio.run(main(sys.argv[1]))
"""


@pytest.fixture
def proof_project(tmp_path):
    return write_project(tmp_path, {"routes.py": ROUTES, "app.py": BAD, "fixed.py": FIXED, "run.py": RUNNER})


def _timings(python, root, module):
    proc = run_script(python, root, "run.py", module)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_flagged_and_fix_not_flagged(proof_project):
    assert codes(proof_project, "app.py") == ["AXS201"]
    assert codes(proof_project, "fixed.py") == []


@pytest.mark.releases
def test_affected_release_holds_the_response_for_the_task(proof_project, pinned):  # noqa: F811
    python = pinned("fastapi==0.100.0", "httpx")
    versions = subprocess.run(
        [str(python), "-c", "import fastapi, starlette; print(fastapi.__version__, starlette.__version__)"],
        capture_output=True, text=True, check=True,
    ).stdout.split()
    assert versions == ["0.100.0", "0.27.0"]
    _assert_held_and_fixed(python, proof_project, "app", "fixed")


def _assert_held_and_fixed(python, root, bad_module, fixed_module):
    bad = _timings(python, root, bad_module)
    assert bad["status"] == 200
    # the client has its response only once the task is done
    assert bad["response_complete"] >= TASK_SECONDS * 0.9

    fixed = _timings(python, root, fixed_module)
    assert fixed["status"] == 200
    assert fixed["response_complete"] < TASK_SECONDS / 2
    assert fixed["call_returned"] >= TASK_SECONDS * 0.9  # the task still ran, after the response


def test_current_release_does_not_hold_it(proof_project):
    """docs/framework-facts.md part C: Starlette >= 1.7 (FastAPI 0.165) works; the rule's message names only the affected
    ranges."""
    current = _timings(sys.executable, proof_project, "app")
    assert current["status"] == 200
    assert current["response_complete"] < TASK_SECONDS / 2
    assert current["call_returned"] >= TASK_SECONDS * 0.9


# slowapi's SlowAPIMiddleware is a BaseHTTPMiddleware subclass in slowapi's own package (seen in
# ethyca-fides); its pure ASGI variant, SlowAPIASGIMiddleware, is the fix.
SLOWAPI_BAD = """
from fastapi import FastAPI
from slowapi import Limiter
from slowapi.middleware import SlowAPIMiddleware
from slowapi.util import get_remote_address

from routes import router

app = FastAPI()
app.state.limiter = Limiter(key_func=get_remote_address, default_limits=["100/minute"])
app.add_middleware(SlowAPIMiddleware)
app.include_router(router)
"""

SLOWAPI_FIXED = SLOWAPI_BAD.replace("SlowAPIMiddleware", "SlowAPIASGIMiddleware")


@pytest.fixture
def slowapi_project(tmp_path):
    return write_project(
        tmp_path, {"routes.py": ROUTES, "limited.py": SLOWAPI_BAD, "limited_fixed.py": SLOWAPI_FIXED, "run.py": RUNNER}
    )


def test_slowapi_middleware_flagged_and_its_asgi_variant_not(slowapi_project):
    assert codes(slowapi_project, "limited.py") == ["AXS201"]
    assert codes(slowapi_project, "limited_fixed.py") == []


@pytest.mark.releases
def test_slowapi_middleware_holds_the_response_on_an_affected_release(slowapi_project, pinned):  # noqa: F811
    python = pinned("fastapi==0.100.0", "httpx", "slowapi==0.1.10")
    _assert_held_and_fixed(python, slowapi_project, "limited", "limited_fixed")


# An endpoint annotated with a BackgroundTasks subclass (langflow-base's
# LimitVertexBuildBackgroundTasks): FastAPI injects a BackgroundTasks for it all the same.
SUBCLASS_ROUTES = ROUTES.replace(
    "router = APIRouter()", "router = APIRouter()\n\n\nclass LimitedTasks(BackgroundTasks):\n    pass"
).replace("tasks: BackgroundTasks", "tasks: LimitedTasks")


@pytest.fixture
def subclass_project(tmp_path):
    return write_project(tmp_path, {"routes.py": SUBCLASS_ROUTES, "app.py": BAD, "fixed.py": FIXED, "run.py": RUNNER})


def test_backgroundtasks_subclass_flagged_and_its_task_runs(subclass_project):
    assert "tasks: LimitedTasks" in SUBCLASS_ROUTES
    assert codes(subclass_project, "app.py") == ["AXS201"]
    assert codes(subclass_project, "fixed.py") == []
    current = _timings(sys.executable, subclass_project, "fixed")
    assert current["status"] == 200
    assert current["call_returned"] >= TASK_SECONDS * 0.9  # injected: the task ran


@pytest.mark.releases
def test_backgroundtasks_subclass_holds_the_response_on_an_affected_release(subclass_project, pinned):  # noqa: F811
    _assert_held_and_fixed(pinned("fastapi==0.100.0", "httpx"), subclass_project, "app", "fixed")
