"""AXS302 against real FastAPI: ``except Exception`` around a dependency's ``yield`` that can finish
without raising.

On FastAPI 0.165 the endpoint's ``HTTPException(404)`` becomes a 500 and another endpoint error ends
as a 500 whose only trace is ``FastAPIError: Response not awaited...``: the original error is never
logged. The handler that re-raises only on some path is just as bad. Re-raising, or converting to an
``HTTPException``, works and is not flagged. On FastAPI 0.100 (the 0.74 - 0.109 range) the 404 still
passed and the error was re-raised for you: the message names those ranges.
"""

from __future__ import annotations

import logging

import pytest
from fastapi.exceptions import FastAPIError
from fastapi.testclient import TestClient

from .harness import codes, load, write_project
from .pinned import pinned, run_script  # noqa: F401  (pytest fixture)
from .rawasgi import RUNNER, result

APP = """
from fastapi import Depends, FastAPI, HTTPException

sessions = []
app = FastAPI()


class Session:
    def __init__(self):
        self.rolled_back = False
        sessions.append(self)

    def rollback(self):
        self.rolled_back = True


def get_db(strict: bool = False):
    db = Session()
    try:
        yield db
    except Exception as exc:
        db.rollback()
{handler_end}


@app.get("/items/{{item_id}}")
def read_item(item_id: int, db: Session = Depends(get_db)):
    if item_id == 0:
        raise HTTPException(status_code=404, detail="Item not found")
    if item_id == 1:
        raise KeyError("boom-original")
    return {{"item_id": item_id}}
"""
BAD = APP.format(handler_end="")
# re-raises only when asked to: falling through on the other path is still a swallow
PARTIAL = APP.format(handler_end="        if strict:\n            raise")
RERAISE = APP.format(handler_end="        raise")
CONVERT = APP.format(handler_end="        raise HTTPException(status_code=400, detail='rolled back') from exc")


def _chain(exc):
    seen = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


@pytest.mark.parametrize("source", [BAD, PARTIAL], ids=["falls-through", "raises-on-one-path"])
def test_swallowing_handler_turns_404_into_500_and_loses_the_error(tmp_path, caplog, source):
    root = write_project(tmp_path, {"bad.py": source})
    assert codes(root, "bad.py") == ["AXS302"]
    mod = load(root, "bad")
    caplog.set_level(logging.DEBUG)
    with TestClient(mod.app, raise_server_exceptions=False) as client:
        assert client.get("/items/0").status_code == 500  # the endpoint said 404
        assert client.get("/items/1").status_code == 500
        assert client.get("/items/5").status_code == 200
    with TestClient(mod.app) as client:
        with pytest.raises(FastAPIError, match="Response not awaited") as info:
            client.get("/items/1")
    assert not any(isinstance(e, KeyError) for e in _chain(info.value))
    assert "boom-original" not in caplog.text
    assert all(s.rolled_back for s in mod.sessions[:2])


def test_reraise_fix_keeps_the_404_and_is_not_flagged(tmp_path):
    root = write_project(tmp_path, {"fixed.py": RERAISE})
    assert codes(root, "fixed.py") == []
    mod = load(root, "fixed")
    with TestClient(mod.app, raise_server_exceptions=False) as client:
        assert client.get("/items/0").status_code == 404
    with TestClient(mod.app) as client:
        with pytest.raises(KeyError, match="boom-original"):
            client.get("/items/1")


def test_converting_to_httpexception_is_fine_and_not_flagged(tmp_path):
    root = write_project(tmp_path, {"fixed.py": CONVERT})
    assert codes(root, "fixed.py") == []
    mod = load(root, "fixed")
    with TestClient(mod.app) as client:
        r = client.get("/items/1")
        assert r.status_code == 400 and r.json() == {"detail": "rolled back"}


@pytest.mark.releases
def test_fastapi_0_100_still_passed_the_404(tmp_path, pinned):  # noqa: F811
    """docs/framework-facts.md part B, 0.74 - 0.109: the HTTPException reaches the client, another error is re-raised for
    you (a 500 with the original error): the rule's message says so for that range."""
    python = pinned("fastapi==0.100.0", "httpx")
    root = write_project(tmp_path, {"bad.py": BAD, "run.py": RUNNER})
    proc = run_script(python, root, "run.py", "bad", "GET", "/items/0", "/items/1")
    assert result(proc) == {"/items/0": [404, None], "/items/1": [500, "KeyError"]}
