"""Throwaway virtual environments with a pinned FastAPI release, for proof tests whose harm exists
only on older releases. One venv per requirement set and Python release, built once and kept
between runs under pytest's cache directory (``.pytest_cache/d/astack-venvs`` in the checkout), or
under ``$ASTACK_LINT_TEST_VENVS`` when set (to share them between checkouts); delete the directory
to rebuild them. Tests using it are marked ``@pytest.mark.releases`` (and so ``slow``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Sequence

import pytest


def build_venv(cache_dir: Path, requirements: Sequence[str]) -> Path:
    """The python of a venv holding ``requirements`` (built if missing; concurrent builders race to
    an atomic rename, the loser's copy is discarded)."""
    key = hashlib.sha256(json.dumps([sys.version_info[:2], sorted(requirements)]).encode()).hexdigest()[:16]
    home = cache_dir / key
    python = home / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    if (home / "ok").exists() and python.exists():
        return python
    cache_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"{key}-", dir=cache_dir))
    try:
        subprocess.run([sys.executable, "-m", "venv", str(work)], check=True, capture_output=True, timeout=300)
        wpy = work / python.relative_to(home)
        proc = subprocess.run(
            [str(wpy), "-m", "pip", "install", "-q", "--disable-pip-version-check", *requirements],
            capture_output=True,
            text=True,
            timeout=900,
        )
        if proc.returncode != 0:
            pytest.skip(f"cannot install {' '.join(requirements)}: {proc.stderr.strip()[-500:]}")
        (work / "requirements.json").write_text(json.dumps(list(requirements)))
        (work / "ok").write_text("")
        try:
            os.rename(work, home)
        except OSError:  # another run finished first
            shutil.rmtree(work, ignore_errors=True)
    finally:
        if work.exists() and work != home:
            shutil.rmtree(work, ignore_errors=True)
    # a venv's scripts hold absolute paths: run its python through the interpreter path only
    return python


@pytest.fixture(scope="session")
def pinned(request):
    """pinned("fastapi==0.100.0", "httpx") -> path of a python with those installed."""
    shared = os.environ.get("ASTACK_LINT_TEST_VENVS")
    cache_dir = Path(shared) if shared else Path(request.config.cache.mkdir("astack-venvs"))

    def make(*requirements: str) -> Path:
        return build_venv(cache_dir, requirements)

    return make


def run_script(python: Path, root: Path, *args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([str(python), *args], cwd=str(root), capture_output=True, text=True, timeout=timeout)
