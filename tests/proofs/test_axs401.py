"""AXS401 against real FastAPI: request resources are closed by the time a background task runs.

- FastAPI 0.110.0 (in the 0.106.0 - 0.117.1 range of docs/framework-facts.md part D): an ``UploadFile`` handed to
  ``add_task`` fails with ``ValueError: I/O operation on closed file.``; a yield dependency's value
  handed to a task or a ``StreamingResponse`` generator has already been cleaned up. The fixes
  (pass the bytes; let the task open its own resource) work there and are not flagged.
- FastAPI 0.165 (current): the same UploadFile code works (so the message names only the affected
  range), but a dependency with ``scope="function"`` is cleaned up before the task, by design.
"""

from __future__ import annotations

import json
import sys

import pytest

from .harness import codes, write_project
from .pinned import pinned, run_script  # noqa: F401  (pytest fixture)

APP = """
from fastapi import BackgroundTasks, Depends, FastAPI, UploadFile
from fastapi.responses import StreamingResponse

app = FastAPI()
seen = []


class Session:
    def __init__(self):
        self.closed = False

    def rows(self):
        return ["closed" if self.closed else "open"]

    def close(self):
        self.closed = True


def get_db():
    db = Session()
    try:
        yield db
    finally:
        db.close()


def process(file):
    seen.append(file.file.read().decode())


def save(db):
    seen.append(db.rows()[0])


def rows_as_text(db):
    for row in db.rows():
        yield row


@app.post("/upload")
async def upload(file: UploadFile, tasks: BackgroundTasks):
    tasks.add_task(process, file)
    return {"name": file.filename}


@app.post("/save")
async def save_later(tasks: BackgroundTasks, db: Session = Depends(get_db)):
    tasks.add_task(save, db)
    return {}


@app.get("/export")
async def export(db: Session = Depends(get_db)):
    return StreamingResponse(rows_as_text(db))
"""

FIXED = """
from fastapi import BackgroundTasks, FastAPI, UploadFile
from fastapi.responses import StreamingResponse

app = FastAPI()
seen = []


class Session:
    def __init__(self):
        self.closed = False

    def rows(self):
        return ["closed" if self.closed else "open"]

    def close(self):
        self.closed = True


def process(data):
    seen.append(data.decode())


def save():
    db = Session()
    try:
        seen.append(db.rows()[0])
    finally:
        db.close()


def rows_as_text():
    db = Session()
    try:
        yield from db.rows()
    finally:
        db.close()


@app.post("/upload")
async def upload(file: UploadFile, tasks: BackgroundTasks):
    tasks.add_task(process, await file.read())
    return {"name": file.filename}


@app.post("/save")
async def save_later(tasks: BackgroundTasks):
    tasks.add_task(save)
    return {}


@app.get("/export")
async def export():
    return StreamingResponse(rows_as_text())
"""

FUNCTION_SCOPE = """
from fastapi import BackgroundTasks, Depends, FastAPI

app = FastAPI()
seen = []


class Session:
    def __init__(self):
        self.closed = False

    def close(self):
        self.closed = True


def get_db():
    db = Session()
    try:
        yield db
    finally:
        db.close()


def save(db):
    seen.append("closed" if db.closed else "open")


@app.post("/save")
async def save_later(tasks: BackgroundTasks, db: Session = Depends(get_db, scope="function")):
    tasks.add_task(save, db)
    return {}
"""

# Runs the three requests with TestClient; prints what each produced (or the error it raised).
RUNNER = """
import json, sys
sys.path.insert(0, ".")
import importlib
from fastapi.testclient import TestClient

mod = importlib.import_module(sys.argv[1])
out = {}
with TestClient(mod.app) as client:
    for name, call in [
        ("upload", lambda: client.post("/upload", files={"file": ("a.txt", b"hello")})),
        ("save", lambda: client.post("/save")),
        ("export", lambda: client.get("/export")),
    ]:
        mod.seen.clear()
        try:
            response = call()
            out[name] = {"status": response.status_code, "seen": list(mod.seen), "body": response.text}
        except Exception as exc:
            out[name] = {"error": f"{type(exc).__name__}: {exc}"}
print(json.dumps(out))
"""


@pytest.fixture
def proof_project(tmp_path):
    return write_project(tmp_path, {"app.py": APP, "fixed.py": FIXED, "run.py": RUNNER, "scoped.py": FUNCTION_SCOPE})


def _run(python, root, module):
    proc = run_script(python, root, "run.py", module)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_flagged_and_fixes_not_flagged(proof_project):
    assert codes(proof_project, "app.py") == ["AXS401", "AXS401", "AXS401"]
    assert codes(proof_project, "fixed.py") == []
    assert codes(proof_project, "scoped.py") == ["AXS401"]


@pytest.mark.releases
def test_closed_on_fastapi_0_110(proof_project, pinned):  # noqa: F811
    python = pinned("fastapi==0.110.0", "httpx<0.28", "python-multipart")
    bad = _run(python, proof_project, "app")
    assert bad["upload"] == {"error": "ValueError: I/O operation on closed file."}
    assert bad["save"]["seen"] == ["closed"]
    assert bad["export"]["body"] == "closed"

    fixed = _run(python, proof_project, "fixed")
    assert fixed["upload"]["seen"] == ["hello"]
    assert fixed["save"]["seen"] == ["open"]
    assert fixed["export"]["body"] == "open"


def test_current_release_keeps_request_resources_open(proof_project):
    current = _run(sys.executable, proof_project, "app")
    assert current["upload"]["seen"] == ["hello"]
    assert current["save"]["seen"] == ["open"]
    assert current["export"]["body"] == "open"


def test_function_scope_is_closed_before_the_task_on_the_current_release(proof_project):
    proc = run_script(sys.executable, proof_project, "-c", (
        "import sys; sys.path.insert(0, '.');"
        "from fastapi.testclient import TestClient; import scoped;"
        "c = TestClient(scoped.app); c.post('/save'); print(scoped.seen)"
    ))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "['closed']"
