"""The packages as an index would get them: ``python -m build`` builds an sdist and a wheel without a
warning, ``twine check --strict`` accepts both, the sdist holds everything the tests need, and the
fast tests pass in the unpacked sdist with the sdist installed into a fresh virtual environment."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import List

import pytest

from .conftest import REPO

pytestmark = pytest.mark.slow  # builds, and installs into a fresh virtual environment

SKIP = {".git", ".venv", "build", "dist", ".pytest_cache", "__pycache__", ".mypy_cache", ".tox", ".nox"}
# what the tests read, relative to the sdist's top directory
NEEDED = [
    "LICENSE",
    "README.md",
    "pyproject.toml",
    ".pre-commit-hooks.yaml",
    "tests/conftest.py",
    "tests/proofs/harness.py",
    "tests/proofs/pinned.py",
    "tests/golden/AXS101.json",
    "tests/data/sarif-schema-2.1.0.json",
    "fixtures/AXS101/pkg/app.py",
    "fixtures-py311/AXS302/positive_except_star.py",
    "docs/architecture.md",
    "docs/rules/AXS101.md",
]


def _ignore(directory: str, names: List[str]) -> List[str]:
    return [n for n in names if n in SKIP or n.startswith(".venv") or n.endswith(".egg-info")]


def _run(args: List[str], cwd: Path, timeout: int = 1800) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "ASTACK_LINT_"))}
    return subprocess.run([str(a) for a in args], cwd=str(cwd), capture_output=True, text=True, env=env, timeout=timeout)


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    pytest.importorskip("build")
    base = tmp_path_factory.mktemp("packaging")
    src = base / "src"
    shutil.copytree(str(REPO), str(src), ignore=_ignore)
    proc = _run([sys.executable, "-m", "build", "--outdir", base / "dist"], src)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    assert "Warning" not in out and "deprecat" not in out.lower(), out[-6000:]
    return base / "dist"


def test_twine_check_is_clean(dist):
    pytest.importorskip("twine")
    files = sorted(dist.iterdir())
    assert sorted(f.suffix for f in files) == [".gz", ".whl"], files
    proc = _run([sys.executable, "-m", "twine", "check", "--strict", *files], dist)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "WARNING" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr


def test_metadata_license_classifiers_and_typed(dist):
    wheel = next(dist.glob("*.whl"))
    with zipfile.ZipFile(str(wheel)) as zf:
        names = zf.namelist()
        meta = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "License-Expression: MIT" in meta
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), names
    assert "astack_lint/py.typed" in names
    for classifier in ("Typing :: Typed", "Framework :: FastAPI", "Topic :: Software Development :: Quality Assurance"):
        assert f"Classifier: {classifier}" in meta
    for minor in range(9, 15):
        assert f"Classifier: Programming Language :: Python :: 3.{minor}" in meta
    relative = re.findall(r"\]\((?!https?://)[^)]*\)", meta)
    assert not relative, f"links that break on a package index: {relative}"


def test_sdist_tests_pass_with_the_sdist_installed(dist, tmp_path):
    sdist = next(dist.glob("*.tar.gz"))
    with tarfile.open(str(sdist)) as tf:
        members = tf.getnames()
        top = members[0].split("/")[0]
        for rel in NEEDED:
            assert f"{top}/{rel}" in members, f"the sdist lacks {rel}"
        tf.extractall(str(tmp_path))
    unpacked = tmp_path / top
    venv = tmp_path / "venv"
    assert _run([sys.executable, "-m", "venv", venv], tmp_path).returncode == 0
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    proc = _run([python, "-m", "pip", "install", "-q", f"{sdist}[test]"], tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    proc = _run([python, "-m", "pytest", "-q", "-x", "-m", "not slow", "-p", "no:cacheprovider"], unpacked)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    assert " passed" in proc.stdout
