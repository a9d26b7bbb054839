"""Golden outputs: what the CLI prints for every rule's fixtures, pinned byte for byte.

For each ``fixtures/AXSnnn/`` directory, ``tests/golden/`` holds:

- ``AXSnnn.txt``: the text report with ``--show-source`` (message, position, and the caret line that
  shows the range);
- ``AXSnnn.json``: the JSON report (start and end positions, fixes with their edits), file names
  relative to the checkout;
- ``AXSnnn.diff``: what ``--diff --unsafe-fixes`` prints for the files of that directory.

Every finding of a fixture directory is in its files, whatever rule reports it. A change to any of
them is a change of behaviour: make it on purpose, regenerate, and commit the new files with the
change that explains them::

    ASTACK_LINT_GOLDEN=update python -m pytest tests/test_golden.py
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest

from .conftest import FIXTURES, REPO

pytestmark = pytest.mark.slow  # the CLI in subprocesses, on every fixture

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("ASTACK_LINT_GOLDEN") == "update"
_FIXTURE_DIR = re.compile(r"^fixtures/(AXS\d{3})/")


def _directory(rel: str) -> str:
    m = _FIXTURE_DIR.match(rel.replace(os.sep, "/"))
    assert m, f"a finding outside the rule fixtures: {rel}"
    return m.group(1)


def _text_by_dir(out: str) -> Dict[str, str]:
    """Split the text report: a finding line starts with its path; --show-source lines follow it."""
    groups: Dict[str, List[str]] = {}
    current = None
    for line in out.splitlines(True):
        if not line.startswith(" "):
            current = _directory(line.split(":", 1)[0])
        assert current is not None, line
        groups.setdefault(current, []).append(line)
    return {k: "".join(v) for k, v in groups.items()}


def _json_by_dir(out: str) -> Dict[str, str]:
    groups: Dict[str, list] = {}
    for finding in json.loads(out):
        rel = Path(finding["filename"]).resolve().relative_to(REPO).as_posix()
        finding["filename"] = rel
        groups.setdefault(_directory(rel), []).append(finding)
    return {k: json.dumps(v, indent=2, ensure_ascii=False) + "\n" for k, v in groups.items()}


def _diff_by_dir(out: str) -> Dict[str, str]:
    groups: Dict[str, List[str]] = {}
    current = None
    for line in out.splitlines(True):
        if line.startswith("--- a/"):
            current = _directory(line[len("--- a/") :])
        assert current is not None, line
        groups.setdefault(current, []).append(line)
    return {k: "".join(v) for k, v in groups.items()}


def _cli(*args: str) -> str:
    """The CLI's standard output, exactly (no newline translation), from the checkout."""
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    proc = subprocess.run([sys.executable, "-m", "astack_lint", "--no-cache", *args, "fixtures"], cwd=str(REPO),
                          capture_output=True, env=env, timeout=600)
    assert proc.returncode == 1, proc.stderr.decode("utf-8", "replace")
    return proc.stdout.decode("utf-8")


@pytest.fixture(scope="module")
def outputs() -> Dict[str, Dict[str, str]]:
    return {
        "txt": _text_by_dir(_cli("--show-source")),
        "json": _json_by_dir(_cli("--output-format", "json")),
        "diff": _diff_by_dir(_cli("--diff", "--unsafe-fixes")),
    }


CODES = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir() and re.match(r"^AXS\d{3}$", p.name))


@pytest.mark.parametrize("kind", ["txt", "json", "diff"])
@pytest.mark.parametrize("code", CODES)
def test_golden_output(outputs, code, kind):
    got = outputs[kind].get(code, "")
    path = GOLDEN / f"{code}.{kind}"
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_bytes(got.encode("utf-8"))
    want = path.read_bytes().decode("utf-8") if path.exists() else None
    assert want is not None, f"no {path.relative_to(REPO)}: run ASTACK_LINT_GOLDEN=update python -m pytest tests/test_golden.py"
    assert got == want, f"{path.relative_to(REPO)} differs (a change on purpose? regenerate it, see the module docstring)"


def test_every_golden_file_belongs_to_a_fixture_directory():
    stale = sorted(p.name for p in GOLDEN.iterdir() if p.stem not in CODES or p.suffix not in (".txt", ".json", ".diff"))
    assert not stale, f"golden files without a fixture directory: {stale}"
