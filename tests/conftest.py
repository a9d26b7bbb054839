from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Dict, List, Set, Tuple

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"
# fixtures in syntax newer than the oldest supported Python (3.9): their first line says
# "# needs Python >= 3.11 to parse: ..."; an older interpreter reports them as syntax errors, so
# they live apart from fixtures/, whose findings are the same on every supported interpreter
NEWER_FIXTURES = REPO / "fixtures-py311"
NEEDS_PYTHON = re.compile(r"^# needs Python >= (\d+)\.(\d+) to parse")
EXPECT = re.compile(r"#\s*expect:\s*(AXS\d{3}(?:\s*,\s*AXS\d{3})*)")
FINDING = re.compile(r"^(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): (?P<code>[A-Z]+\d+) (?P<msg>.*)$")

Key = Tuple[str, int, str]  # (path relative to the fixtures' parent, line, code)


def expectations(root: Path = FIXTURES) -> Set[Key]:
    out: Set[Key] = set()
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root.parent).as_posix()
        for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            m = EXPECT.search(line)
            if m:
                for code in re.split(r"\s*,\s*", m.group(1)):
                    out.add((rel, n, code))
    return out


def needs_python(path: Path) -> Tuple[int, int]:
    """The Python release a file's syntax needs, from its first line (else 3.9)."""
    with open(path, encoding="utf-8", errors="replace") as fh:
        m = NEEDS_PYTHON.match(fh.readline())
    return (int(m.group(1)), int(m.group(2))) if m else (3, 9)


def parse_output(text: str, cwd: Path) -> List[Tuple[str, int, int, str, str]]:
    rows = []
    for line in text.splitlines():
        m = FINDING.match(line)
        if m:
            p = Path(m.group("path"))
            if not p.is_absolute():
                p = (cwd / p).resolve()
            rows.append((str(p), int(m.group("line")), int(m.group("col")), m.group("code"), m.group("msg")))
    return rows


def run(args: List[str], cwd: Path, **kw) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("NO_COLOR", None)
    return subprocess.run(args, cwd=str(cwd), capture_output=True, text=True, env=env, timeout=600, **kw)


def run_cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "astack_lint", *args], cwd)


def run_flake8(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "flake8", "--isolated", "--select", "AXS", *args], cwd)


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    """The tests never read or write the user's cache: each session gets its own."""
    os.environ["ASTACK_LINT_CACHE_DIR"] = str(tmp_path_factory.mktemp("astack-cache"))
    yield


@pytest.fixture
def project(tmp_path: Path):
    """Write a small project: project({"app.py": "..."}) -> its root."""

    def make(files: Dict[str, str], marker: bool = True) -> Path:
        if marker:
            (tmp_path / "pyproject.toml").write_text('[project]\nname = "demo"\n')
        for name, text in files.items():
            p = tmp_path / name
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return tmp_path

    return make


def codes_in(root: Path, *paths: str, **options) -> List[Tuple[str, int, str]]:
    """Lint with the library: [(path relative to root, line, code)]."""
    from astack_lint.api import Settings, lint_paths

    result = lint_paths([str(root / p) for p in (paths or ("",))], Settings.from_values(options, base_dir=str(root)))
    return [(os.path.relpath(f.path, root), f.line, f.code) for f in result.findings]


def pytest_addoption(parser):
    parser.addoption(
        "--fuzz-examples",
        type=int,
        default=None,
        help="examples per fuzz test in tests/test_fuzz.py (default: a short run; same as ASTACK_LINT_FUZZ_EXAMPLES)",
    )


def pytest_configure(config):
    n = config.getoption("--fuzz-examples", default=None)
    if n:
        os.environ["ASTACK_LINT_FUZZ_EXAMPLES"] = str(n)


def pytest_collection_modifyitems(config, items):
    """Every ``releases`` test is ``slow`` too; a ``syntax((3, 11))`` test is skipped, with the
    reason, on an interpreter that cannot parse that syntax."""
    for item in items:
        if item.get_closest_marker("releases") is not None and item.get_closest_marker("slow") is None:
            item.add_marker(pytest.mark.slow)
        needs = item.get_closest_marker("syntax")
        if needs is not None and sys.version_info[:2] < tuple(needs.args[0]):
            version = ".".join(map(str, needs.args[0]))
            why = needs.kwargs.get("reason", "newer syntax")
            item.add_marker(pytest.mark.skip(reason=f"needs Python >= {version} to parse ({why})"))
