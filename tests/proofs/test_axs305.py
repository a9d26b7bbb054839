"""AXS305 against real FastAPI: raising after ``yield`` in a request-scoped dependency.

On FastAPI 0.165 (default request scope) the client gets its 200 and never sees the error: an
``HTTPException`` raised after ``yield`` only makes the server raise ``RuntimeError: Caught handled
exception, but response already started.``, and a failed commit after ``yield`` converted to an
``HTTPException`` is just as invisible. With ``Depends(..., scope="function")`` the client gets the
error, and that is not flagged. On FastAPI 0.100 (<= 0.105) the client also already had its 200.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from .harness import codes, load, write_project
from .pinned import pinned, run_script  # noqa: F401  (pytest fixture)
from .rawasgi import RUNNER, result

APP = """
from fastapi import Depends, FastAPI, HTTPException

app = FastAPI()


class Session:
    def __init__(self):
        self.dirty = True

    def commit(self):
        raise ValueError("commit failed")

    def rollback(self):
        pass


def get_db():
    db = Session()
    yield db
    if db.dirty:
        raise HTTPException(status_code=409, detail="unsaved changes")


def get_committing():
    db = Session()
    try:
        yield db
        db.commit()
    except ValueError as exc:
        db.rollback()
        raise HTTPException(status_code=500, detail="could not save") from exc


@app.post("/items")
def create(db: Session = Depends(get_db{scope})):
    return {{"created": True}}


@app.post("/orders")
def order(db: Session = Depends(get_committing{scope})):
    return {{"ordered": True}}
"""
BAD = APP.format(scope="")
FIX = APP.format(scope=', scope="function"')


def test_raise_after_yield_never_reaches_the_client(tmp_path):
    root = write_project(tmp_path, {"bad.py": BAD})
    assert codes(root, "bad.py") == ["AXS305", "AXS305"]
    mod = load(root, "bad")
    with TestClient(mod.app, raise_server_exceptions=False) as client:
        r = client.post("/items")
        assert r.status_code == 200 and r.json() == {"created": True}
        r = client.post("/orders")
        assert r.status_code == 200 and r.json() == {"ordered": True}  # the commit failed
    with TestClient(mod.app) as client:
        for path in ("/items", "/orders"):
            with pytest.raises(RuntimeError, match="response already started"):
                client.post(path)


def test_function_scope_fix_reaches_the_client_and_is_not_flagged(tmp_path):
    root = write_project(tmp_path, {"fixed.py": FIX})
    assert codes(root, "fixed.py") == []
    mod = load(root, "fixed")
    with TestClient(mod.app) as client:
        r = client.post("/items")
        assert r.status_code == 409 and r.json() == {"detail": "unsaved changes"}
        r = client.post("/orders")
        assert r.status_code == 500 and r.json() == {"detail": "could not save"}


@pytest.mark.releases
def test_fastapi_0_100_client_also_had_its_200(tmp_path, pinned):  # noqa: F811
    python = pinned("fastapi==0.100.0", "httpx")
    root = write_project(tmp_path, {"bad.py": BAD, "run.py": RUNNER})
    proc = run_script(python, root, "run.py", "bad", "POST", "/items", "/orders")
    assert result(proc) == {"/items": [200, "RuntimeError"], "/orders": [200, "RuntimeError"]}
