"""AXS304 against real FastAPI: a dependency with a path that returns before any ``yield``.

On FastAPI 0.165 the request answers 500 with ``RuntimeError: generator didn't yield`` (sync and
async dependencies alike). Raising an ``HTTPException`` instead refuses the request properly and is
not flagged.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from .harness import codes, load, write_project

APP = """
from typing import Optional

from fastapi import Depends, FastAPI, Header, HTTPException

app = FastAPI()


def get_user(x_token: Optional[str] = Header(default=None)):
    if not x_token:
        {refuse}
    yield {{"token": x_token}}


async def get_limit(x_limit: int = Header(default=0)):
    if x_limit <= 0:
        {refuse}
    yield x_limit


@app.get("/me")
def me(user: dict = Depends(get_user)):
    return user


@app.get("/limit")
async def limit(value: int = Depends(get_limit)):
    return {{"limit": value}}
"""
BAD = APP.format(refuse="return")
FIX = APP.format(refuse="raise HTTPException(status_code=401)")


def test_return_before_yield_is_a_500(tmp_path):
    root = write_project(tmp_path, {"bad.py": BAD})
    assert codes(root, "bad.py") == ["AXS304", "AXS304"]
    mod = load(root, "bad")
    with TestClient(mod.app, raise_server_exceptions=False) as client:
        assert client.get("/me").status_code == 500
        assert client.get("/limit").status_code == 500
        assert client.get("/me", headers={"x-token": "t"}).status_code == 200
    with TestClient(mod.app) as client:
        for path in ("/me", "/limit"):
            with pytest.raises(RuntimeError, match="generator didn't yield"):
                client.get(path)


def test_raise_fix_refuses_properly_and_is_not_flagged(tmp_path):
    root = write_project(tmp_path, {"fixed.py": FIX})
    assert codes(root, "fixed.py") == []
    mod = load(root, "fixed")
    with TestClient(mod.app) as client:
        assert client.get("/me").status_code == 401
        assert client.get("/limit").status_code == 401
        assert client.get("/limit", headers={"x-limit": "3"}).json() == {"limit": 3}
