"""AXS303 against real FastAPI: a dependency that reaches ``yield`` a second time.

On FastAPI 0.165 with the default scope the client gets its 200, then the server raises
``RuntimeError: generator didn't stop`` and the code after the second ``yield`` never runs; with
``scope="function"`` the request answers 500. Yielding once works and is not flagged.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from .harness import codes, load, write_project

BAD = """
from fastapi import Depends, FastAPI

URLS = ["db-a", "db-b"]
closed = []
app = FastAPI()


def get_connections():
    for url in URLS:
        yield url
        closed.append(url)


@app.get("/")
def index(conn: str = Depends(get_connections)):
    return {"conn": conn}


@app.get("/fn")
def index_fn(conn: str = Depends(get_connections, scope="function")):
    return {"conn": conn}
"""

FIX = """
from fastapi import Depends, FastAPI

URLS = ["db-a", "db-b"]
closed = []
app = FastAPI()


def get_connections():
    conns = list(URLS)
    try:
        yield conns
    finally:
        closed.extend(conns)


@app.get("/")
def index(conns: list = Depends(get_connections)):
    return {"conns": conns}
"""


def test_second_yield_generator_didnt_stop(tmp_path):
    root = write_project(tmp_path, {"bad.py": BAD})
    assert codes(root, "bad.py") == ["AXS303"]
    mod = load(root, "bad")
    with TestClient(mod.app, raise_server_exceptions=False) as client:
        r = client.get("/")
        assert r.status_code == 200 and r.json() == {"conn": "db-a"}  # the client saw nothing wrong
        assert client.get("/fn").status_code == 500
    with TestClient(mod.app) as client:
        with pytest.raises(RuntimeError, match="generator didn't stop"):
            client.get("/")
    # the loop never got past its second yield: the code after it never ran for db-b
    assert "db-b" not in mod.closed


def test_yield_once_fix_works_and_is_not_flagged(tmp_path):
    root = write_project(tmp_path, {"fixed.py": FIX})
    assert codes(root, "fixed.py") == []
    mod = load(root, "fixed")
    with TestClient(mod.app) as client:
        r = client.get("/")
        assert r.status_code == 200 and r.json() == {"conns": ["db-a", "db-b"]}
    assert mod.closed == ["db-a", "db-b"]
