"""AXS301 against real FastAPI: a bare ``except:`` around a dependency's ``yield`` that does not
re-raise.

On FastAPI 0.165 the endpoint's ``HTTPException(404)`` turns into a 500, any other endpoint error
also ends as a 500 whose only trace is ``FastAPIError: Response not awaited...`` (the original
exception is nowhere in it, nor in the logs), and the handler catches cancellation too. The fix, a
bare ``raise``, lets the 404 through and is not flagged.
"""

from __future__ import annotations

import logging

import pytest
from fastapi.exceptions import FastAPIError
from fastapi.testclient import TestClient

from .harness import codes, load, write_project

APP = """
import asyncio
import sys

from fastapi import Depends, FastAPI, HTTPException

caught = []
app = FastAPI()


async def get_resource():
    try:
        yield "resource"
    except:
        caught.append(type(sys.exc_info()[1]).__name__){reraise}


@app.get("/items/{{item_id}}")
async def read_item(item_id: int, resource: str = Depends(get_resource)):
    if item_id == 0:
        raise HTTPException(status_code=404, detail="Item not found")
    if item_id == 1:
        raise KeyError("boom-original")
    if item_id == 2:
        raise asyncio.CancelledError()
    return {{"item_id": item_id}}
"""
BAD = APP.format(reraise="")
FIX = APP.format(reraise="\n        raise")


def _chain(exc):
    seen = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def test_bare_except_turns_404_into_500_and_loses_the_error(tmp_path, caplog):
    root = write_project(tmp_path, {"bad.py": BAD, "fixed.py": FIX})
    assert codes(root, "bad.py") == ["AXS301"]
    mod = load(root, "bad")
    caplog.set_level(logging.DEBUG)
    with TestClient(mod.app, raise_server_exceptions=False) as client:
        assert client.get("/items/0").status_code == 500  # the endpoint said 404
        assert client.get("/items/1").status_code == 500
        assert client.get("/items/5").status_code == 200
    with TestClient(mod.app) as client:
        with pytest.raises(FastAPIError, match="Response not awaited") as info:
            client.get("/items/1")
    # the original error is nowhere: not in the exception chain, not in the logs
    assert not any(isinstance(e, KeyError) for e in _chain(info.value))
    assert "boom-original" not in caplog.text
    assert mod.caught[:2] == ["HTTPException", "KeyError"]


def test_bare_except_catches_cancellation(tmp_path):
    root = write_project(tmp_path, {"bad.py": BAD})
    mod = load(root, "bad")
    with TestClient(mod.app, raise_server_exceptions=False) as client:
        assert client.get("/items/2").status_code == 500
    assert mod.caught == ["CancelledError"]


def test_reraise_fix_keeps_the_404_and_is_not_flagged(tmp_path):
    root = write_project(tmp_path, {"fixed.py": FIX})
    assert codes(root, "fixed.py") == []
    mod = load(root, "fixed")
    with TestClient(mod.app, raise_server_exceptions=False) as client:
        r = client.get("/items/0")
        assert r.status_code == 404 and r.json() == {"detail": "Item not found"}
        assert client.get("/items/5").status_code == 200
    with TestClient(mod.app) as client:
        with pytest.raises(KeyError, match="boom-original"):
            client.get("/items/1")
