"""AXS402 against real FastAPI (0.165): a response with its own ``background=`` drops the tasks the
endpoint added to the injected ``BackgroundTasks``, silently. The fix (add every task to the
injected object, or pass it as ``background=``) runs them all and is not flagged."""

from __future__ import annotations

from fastapi.testclient import TestClient

from .harness import codes, load, write_project

COMMON = """
from fastapi import BackgroundTasks, FastAPI
from fastapi.responses import JSONResponse
from starlette.background import BackgroundTask

app = FastAPI()
ran = []


def send_mail(to):
    ran.append(("send_mail", to))


def audit(event):
    ran.append(("audit", event))
"""

BAD = COMMON + """

@app.post("/signup")
async def signup(email: str, tasks: BackgroundTasks):
    tasks.add_task(send_mail, email)
    return JSONResponse({"ok": True}, background=BackgroundTask(audit, "signup"))
"""

FIXED = COMMON + """

@app.post("/signup")
async def signup(email: str, tasks: BackgroundTasks):
    tasks.add_task(send_mail, email)
    tasks.add_task(audit, "signup")
    return JSONResponse({"ok": True})


@app.post("/passed")
async def passed(email: str, tasks: BackgroundTasks):
    tasks.add_task(send_mail, email)
    return JSONResponse({"ok": True}, background=tasks)
"""


def test_injected_tasks_are_dropped(tmp_path):
    root = write_project(tmp_path, {"app.py": BAD})
    assert codes(root) == ["AXS402"]
    mod = load(root)
    with TestClient(mod.app) as client:
        assert client.post("/signup", params={"email": "a@example.com"}).status_code == 200
    assert mod.ran == [("audit", "signup")]  # send_mail never ran, nothing was logged


def test_fix_runs_every_task(tmp_path):
    root = write_project(tmp_path, {"app.py": FIXED})
    assert codes(root) == []
    mod = load(root)
    with TestClient(mod.app) as client:
        assert client.post("/signup", params={"email": "a@example.com"}).status_code == 200
        assert client.post("/passed", params={"email": "b@example.com"}).status_code == 200
    assert mod.ran == [("send_mail", "a@example.com"), ("audit", "signup"), ("send_mail", "b@example.com")]
