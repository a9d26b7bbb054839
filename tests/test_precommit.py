"""The hook, run through pre-commit itself: ``pre-commit try-repo`` installs this repository (its
committed HEAD, or a snapshot of uncommitted changes) into a fresh environment, from PyPI, and runs
the ``astack-lint`` hook on a throwaway git repository. Then CLI, flake8 and pre-commit must report
the same findings on a copy of ``fixtures/``, and on projects whose releases only setup.py,
setup.cfg, a wheel's METADATA or an in-project virtual environment tell (the hook runs in an
environment of its own, so it must find the project's)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, Set, Tuple

import pytest

from .conftest import FIXTURES, REPO, run_cli, run_flake8
from .test_release_sources import PROJECTS, write_projects

POSITIVE = """\
from fastapi import FastAPI
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware

app = FastAPI()
app.add_middleware(Middleware(GZipMiddleware))
"""
FINDING = re.compile(r"^(?:\./)?(?P<path>[^\s:]+\.py):(?P<line>\d+):(?P<col>\d+): (?P<code>AXS\d+) ", re.M)

pytestmark = [
    pytest.mark.slow,  # pre-commit builds an environment and installs the checkout into it
    pytest.mark.skipif(shutil.which("git") is None or not (REPO / ".git").exists(), reason="needs git and a git checkout"),
]


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false", *args],
        cwd=str(cwd),
        check=True,
        capture_output=True,
    )


def _pre_commit(repo: Path, home: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PRE_COMMIT_HOME"] = str(home)  # never the user's ~/.cache/pre-commit
    env.pop("PRE_COMMIT", None)
    env.pop("SKIP", None)
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(REPO), "astack-lint", "--all-files", "--verbose"],
        cwd=str(repo),
        capture_output=True,
        text=True,
        env=env,
        timeout=1200,
    )


def _keys(text: str) -> Set[Tuple[str, int, int, str]]:
    return {(m.group("path"), int(m.group("line")), int(m.group("col")), m.group("code")) for m in FINDING.finditer(text)}


@pytest.fixture(scope="module")
def hook_run(tmp_path_factory) -> Dict[str, object]:
    """One throwaway repository with a positive AXS105 file and a copy of fixtures/, one try-repo run."""
    pytest.importorskip("pre_commit")
    base = tmp_path_factory.mktemp("precommit")
    repo = base / "repo"
    repo.mkdir()
    (repo / "app.py").write_text(POSITIVE)
    shutil.copytree(str(FIXTURES), str(repo / "fixtures"))
    write_projects(repo / "releases")  # pinned only in setup.py, setup.cfg, a wheel's METADATA; an in-project .venv
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "init")
    proc = _pre_commit(repo, base / "pre-commit-home")
    return {"repo": repo, "proc": proc}


def test_hook_fails_with_the_finding(hook_run):
    proc = hook_run["proc"]
    out = proc.stdout + proc.stderr
    assert "An unexpected error" not in out, out[-4000:]
    assert proc.returncode == 1, out[-4000:]
    assert re.search(r"^astack-lint\.+Failed$", proc.stdout, re.M), out[-4000:]
    assert "app.py:6:1: AXS105 add_middleware() takes the middleware class" in proc.stdout
    assert "Traceback" not in out


def test_cli_flake8_and_pre_commit_agree_on_fixtures(hook_run):
    repo: Path = hook_run["repo"]  # type: ignore[assignment]
    hook = {k for k in _keys(hook_run["proc"].stdout) if k[0].startswith("fixtures/")}  # type: ignore[union-attr]
    files = sorted(p.relative_to(repo).as_posix() for p in (repo / "fixtures").rglob("*.py"))
    cli = run_cli("--quiet", *files, cwd=repo)
    f8 = run_flake8(*files, cwd=repo)
    assert "Traceback" not in cli.stderr + f8.stderr
    assert hook, hook_run["proc"].stdout[-4000:]  # type: ignore[index]
    assert _keys(cli.stdout) == hook
    assert _keys(f8.stdout) == hook


def test_cli_flake8_and_pre_commit_agree_on_each_projects_releases(hook_run, monkeypatch):
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    repo: Path = hook_run["repo"]  # type: ignore[assignment]
    stdout: str = hook_run["proc"].stdout  # type: ignore[union-attr]
    for name, (_files, _releases, codes) in PROJECTS.items():
        file = f"releases/{name}/app.py"
        hook = {k for k in _keys(stdout) if k[0] == file}
        assert sorted({k[3] for k in hook}) == codes, (name, stdout[-4000:])
        assert _keys(run_cli("--quiet", file, cwd=repo).stdout) == hook
        assert _keys(run_flake8(file, cwd=repo).stdout) == hook


def _readme_local_config() -> str:
    """The README's ``repo: local`` pre-commit configuration, pointed at this checkout."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", readme, re.S)
    local = [b for b in blocks if "repo: local" in b]
    assert len(local) == 1, "the README shows one repo: local configuration"
    assert "/path/to/astack-lint" in local[0]
    return local[0].replace("/path/to/astack-lint", str(REPO))


def test_readme_local_hook_runs_against_the_checkout(tmp_path):
    """The README's repo: local snippet works as shown, with no published tag."""
    pytest.importorskip("pre_commit")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "app.py").write_text(POSITIVE)
    (repo / ".pre-commit-config.yaml").write_text(_readme_local_config())
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "init")
    env = dict(os.environ)
    env["PRE_COMMIT_HOME"] = str(tmp_path / "pre-commit-home")
    env.pop("PRE_COMMIT", None)
    env.pop("SKIP", None)
    proc = subprocess.run(
        [sys.executable, "-m", "pre_commit", "run", "--all-files", "--verbose"],
        cwd=str(repo),
        capture_output=True,
        text=True,
        env=env,
        timeout=1200,
    )
    out = proc.stdout + proc.stderr
    assert "An unexpected error" not in out, out[-4000:]
    assert proc.returncode == 1, out[-4000:]
    assert re.search(r"^astack-lint\.+Failed$", proc.stdout, re.M), out[-4000:]
    assert "app.py:6:1: AXS105 add_middleware() takes the middleware class" in proc.stdout
