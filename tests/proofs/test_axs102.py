"""AXS102 against real FastAPI: ``fastapi.middleware.asyncexitstack`` is missing on 0.106.0 - 0.117.1.

- On FastAPI 0.110.0 (a throwaway venv; TestClient there needs httpx < 0.28) importing the module raises ``ModuleNotFoundError``, so the
  app does not start; a project that pins that release is flagged, naming it.
- On the current release (this venv) it imports and the app serves; a project pinned to it is not
  flagged.
- The guarded import (``try/except ImportError``) runs on both releases and is not flagged.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from .harness import codes, lint, write_project
from .pinned import pinned, run_script  # noqa: F401  (pytest fixture)

APP = """
from fastapi import FastAPI
from fastapi.middleware.asyncexitstack import AsyncExitStackMiddleware

app = FastAPI()


@app.get("/")
async def index():
    return {"stack": AsyncExitStackMiddleware.__name__}
"""

GUARDED = """
from fastapi import FastAPI

try:
    from fastapi.middleware.asyncexitstack import AsyncExitStackMiddleware
except ImportError:  # FastAPI 0.106.0 - 0.117.1
    AsyncExitStackMiddleware = None

app = FastAPI()


@app.get("/")
async def index():
    return {"stack": AsyncExitStackMiddleware is not None}
"""

RUN = """
import sys
sys.path.insert(0, ".")
from fastapi.testclient import TestClient
import importlib
app = importlib.import_module(sys.argv[1]).app
print(TestClient(app).get("/").json())
"""


def _pin(root, version):
    (root / "requirements.txt").write_text(f"fastapi=={version}\n")


@pytest.fixture
def proof_project(tmp_path):
    return write_project(tmp_path, {"app.py": APP, "guarded.py": GUARDED, "run.py": RUN})


def test_flagged_where_releases_are_open_and_fix_not_flagged(proof_project):
    # nothing pinned: every release is possible
    assert codes(proof_project, "app.py") == ["AXS102"]
    assert codes(proof_project, "guarded.py") == []


@pytest.mark.releases
def test_affected_release_cannot_import_it(proof_project, pinned):  # noqa: F811
    python = pinned("fastapi==0.110.0", "httpx<0.28")
    proc = run_script(python, proof_project, "run.py", "app")
    assert proc.returncode != 0
    assert "ModuleNotFoundError: No module named 'fastapi.middleware.asyncexitstack'" in proc.stderr
    # the guarded import starts and serves there
    proc = run_script(python, proof_project, "run.py", "guarded")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "{'stack': False}"
    # and the linter, told that release, names it
    _pin(proof_project, "0.110.0")
    [(path, line, code)] = lint(proof_project, "app.py")
    assert (path, line, code) == ("app.py", 2, "AXS102")
    from astack_lint.api import Settings, lint_paths

    [finding] = lint_paths([str(proof_project / "app.py")], Settings(base_dir=str(proof_project))).findings
    assert "requirements.txt pins fastapi 0.110.0, where FastAPI had removed it" in finding.message


def test_current_release_imports_it(proof_project):
    proc = subprocess.run([sys.executable, "run.py", "app"], cwd=str(proof_project), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "{'stack': 'AsyncExitStackMiddleware'}"
    import fastapi

    _pin(proof_project, fastapi.__version__)
    assert codes(proof_project, "app.py") == []
