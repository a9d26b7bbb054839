"""Refresh the known-release table (``data.py``) from PyPI, for maintainers:

    python -m astack_lint.releases.refresh          # rewrite data.py's release lists
    python -m astack_lint.releases.refresh --check  # only report; exit 1 when something is out of date

The release lists come from ``pip index versions fastapi`` / ``pip index versions starlette``
(final releases only, oldest first). For every FastAPI release the table does not know yet, the
wheel is downloaded (``pip download --no-deps --only-binary :all:``) and the Starlette requirement
of its METADATA compared with the ``STARLETTE_PINS`` row that covers it: a mismatch is reported, and
the row is for a maintainer to edit (with the framework's behaviour re-checked on that release),
never rewritten by this command. Nothing here runs during linting.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from typing import Callable, List, Optional, Sequence, Tuple

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from . import data

DATA_PY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data.py")
_NAMES = {"fastapi": "FASTAPI_RELEASES", "starlette": "STARLETTE_RELEASES"}


def parse_index_versions(output: str) -> List[str]:
    """The final releases in the output of ``pip index versions NAME``, oldest first."""
    m = re.search(r"^Available versions:\s*(.*)$", output, re.M)
    if not m:
        raise ValueError("no 'Available versions:' line in the output of pip index versions")
    out = []
    for text in m.group(1).split(","):
        text = text.strip()
        try:
            v = Version(text)
        except InvalidVersion:
            continue
        if not (v.is_prerelease or v.is_devrelease):
            out.append(text)
    return sorted(set(out), key=Version)


def render_tuple(name: str, versions: Sequence[str], width: int = 100) -> str:
    """``NAME = (\\n    "0.1.0", ...\\n)`` wrapped as data.py writes it."""
    lines = [f"{name} = ("]
    line = "   "
    for v in versions:
        item = f' "{v}",'
        if len(line) + len(item) > width:
            lines.append(line)
            line = "   "
        line += item
    lines.append(line)
    lines.append(")")
    return "\n".join(lines)


def replace_tuple(text: str, name: str, versions: Sequence[str]) -> str:
    """data.py's text with the tuple ``name`` replaced."""
    pattern = re.compile(rf"^{name} = \(\n.*?^\)", re.M | re.S)
    if not pattern.search(text):
        raise ValueError(f"{name} not found in data.py")
    return pattern.sub(lambda _m: render_tuple(name, versions), text, count=1)


def starlette_requirement(metadata: str) -> Optional[SpecifierSet]:
    """The unconditional Starlette requirement in a wheel's METADATA (None: none)."""
    header = re.split(r"\r?\n\r?\n", metadata, maxsplit=1)[0]
    for line in header.splitlines():
        name, sep, value = line.partition(":")
        if not sep or name.strip().lower() != "requires-dist":
            continue
        try:
            req = Requirement(value.strip())
        except InvalidRequirement:
            continue
        if req.name.lower() == "starlette" and req.marker is None:
            return req.specifier
    return None


def pin_row(fastapi: str) -> Optional[Tuple[str, str]]:
    for fspec, sspec in data.STARLETTE_PINS:
        if SpecifierSet(fspec).contains(fastapi, prereleases=True):
            return fspec, sspec
    return None


def pin_mismatch(fastapi: str, required: Optional[SpecifierSet]) -> Optional[str]:
    """Why the table's pin row disagrees with what the release's METADATA requires (None: it agrees)."""
    row = pin_row(fastapi)
    if row is None:
        return f"FastAPI {fastapi}: no STARLETTE_PINS row covers it (it requires starlette {required or 'anything'})"
    if required is None:
        return None if row[1] == "" else f"FastAPI {fastapi}: requires any starlette, the row {row[0]!r} says {row[1]!r}"
    if str(required) != str(SpecifierSet(row[1])):
        return f"FastAPI {fastapi}: requires starlette {required}, the row {row[0]!r} says {row[1]!r}"
    return None


def _pip(*args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"pip {' '.join(args)} failed: {proc.stderr.strip()[-500:]}")
    return proc.stdout


def index_versions(package: str) -> List[str]:
    return parse_index_versions(_pip("index", "versions", package))


def wheel_metadata(package: str, version: str) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        _pip("download", "-q", "--no-deps", "--only-binary", ":all:", "-d", tmp, f"{package}=={version}")
        for name in os.listdir(tmp):
            if name.endswith(".whl"):
                with zipfile.ZipFile(os.path.join(tmp, name)) as whl:
                    for member in whl.namelist():
                        if member.endswith(".dist-info/METADATA"):
                            return whl.read(member).decode("utf-8", "replace")
    raise RuntimeError(f"no wheel METADATA for {package}=={version}")


def refresh(
    check: bool,
    versions_of: Callable[[str], List[str]] = index_versions,
    metadata_of: Callable[[str, str], str] = wheel_metadata,
    path: str = DATA_PY,
    out=sys.stdout,
) -> int:
    """Compare (and unless ``check``, rewrite) data.py; 1 when it is out of date or a pin disagrees."""
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    known = {"fastapi": data.FASTAPI_RELEASES, "starlette": data.STARLETTE_RELEASES}
    new_text = text
    stale = False
    problems: List[str] = []
    for package, name in _NAMES.items():
        found = versions_of(package)
        added = [v for v in found if v not in known[package]]
        gone = [v for v in known[package] if v not in found]
        if added or gone:
            stale = True
            print(f"{package}: {len(added)} new release(s) {', '.join(added) or '-'}; "
                  f"{len(gone)} no longer listed {', '.join(gone) or '-'}", file=out)
            new_text = replace_tuple(new_text, name, found)
        if package == "fastapi":
            for v in added:
                problem = pin_mismatch(v, starlette_requirement(metadata_of(package, v)))
                if problem:
                    problems.append(problem)
    for p in problems:
        print(f"STARLETTE_PINS: {p}: edit the row by hand after checking that release", file=out)
    if not stale and not problems:
        print("data.py is up to date", file=out)
    if stale and not check:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(new_text)
        print(f"rewrote {path}; then run the test suite (tests/test_release_table.py checks every rule's rows)", file=out)
    return 1 if (problems or (stale and check)) else 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m astack_lint.releases.refresh", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report; exit 1 when data.py is out of date")
    args = parser.parse_args(argv)
    return refresh(args.check)


if __name__ == "__main__":
    sys.exit(main())
