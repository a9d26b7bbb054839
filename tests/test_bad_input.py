"""Bad input: each bad file gets one clear line naming it and the reason, exit 2, no traceback, and
every other file of the run is still linted. Fine-but-odd inputs lint normally. Under flake8, no
exception of ours aborts the run and a file we cannot parse gets no AXS finding."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Callable, Dict, List, Optional

import pytest

from .conftest import run_cli, run_flake8

POSITIVE = b"""\
from fastapi import FastAPI
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware

app = FastAPI()
app.add_middleware(Middleware(GZipMiddleware))
"""
POSITIVE_FINDING = "pos.py:6:1: AXS105 "

# libcst 1.9's native parser gives up on more than 3000 implicitly concatenated string literals
# ("Syntax Error @ N:1"); CPython accepts any number. The model is built from CPython's tree, so
# such a file is linted, unless a rule needs LibCST's tree of it: the asyncexitstack import makes
# AXS102 read its imports there, so LibCST really parses it.
LIBCST_ACCEPTS_NOT = b"from fastapi import FastAPI\n\nTEXT = (\n" + b'    "abc"\n' * 3001 + b")\napp = FastAPI()\n"
LIBCST_REJECTS = b"import fastapi.middleware.asyncexitstack\n" + LIBCST_ACCEPTS_NOT
# Python accepts a flat 10,000-term `and`; LibCST's parser recursed past the main thread's C stack
# on it (a segmentation fault that killed the whole run, every other file's findings with it).
DEEP_BUT_VALID = b"from fastapi import FastAPI\n\nx = " + b" and ".join([b"a"] * 10000) + b"\n"
# the same, in a file whose concrete tree a rule needs (AXS102 reads its imports): LibCST gives up
DEEP_NEEDS_TREE = b"import fastapi.middleware.asyncexitstack\n" + DEEP_BUT_VALID


def _write(root: Path, files: Dict[str, bytes]) -> None:
    (root / "pyproject.toml").write_text('[project]\nname = "demo"\n')
    (root / "pos.py").write_bytes(POSITIVE)
    for name, data in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)


def _symlink(target: str) -> Callable[[Path], None]:
    def make(root: Path) -> None:
        os.symlink(target, root / "bad.py")

    return make


def _unreadable(root: Path) -> None:
    p = root / "bad.py"
    p.write_bytes(b"x = 1\n")
    p.chmod(0)


def _proc_mem(root: Path) -> None:
    """As root, chmod 000 does not stop reading; /proc/self/mem can be opened but not read (EIO)."""
    os.symlink("/proc/self/mem", root / "bad.py")


def _proc_mem_unreadable() -> bool:
    try:
        with open("/proc/self/mem", "rb") as fh:
            fh.read()
    except OSError:
        return True
    return False


# name -> (files or a maker, the path to lint besides pos.py, regex of the one stderr line)
BAD = {
    "syntax-error": ({"bad.py": b"def f(:\n    pass\n"}, "bad.py", r"bad\.py:1:\d+: error: syntax error: .+"),
    "libcst-rejects-python-accepts": (
        {"bad.py": LIBCST_REJECTS},
        "bad.py",
        r"bad\.py:\d+:\d+: error: LibCST cannot parse this file, though Python accepts it .*",
    ),
    "non-utf8-without-cookie": (
        {"bad.py": b'# caf\xe9\nx = "caf\xe9"\n'},
        "bad.py",
        r"bad\.py: error: cannot decode as utf-8 \(line 1, byte 5\): .*coding.*",
    ),
    "non-utf8-after-line-two": (
        {"bad.py": b'"""doc"""\n\nx = "caf\xe9"\n'},
        "bad.py",
        r"bad\.py: error: cannot decode as utf-8 \(line 3, byte \d+\): .*coding.*",
    ),
    "unknown-cookie": (
        {"bad.py": b"# -*- coding: klingon -*-\nx = 1\n"},
        "bad.py",
        r"bad\.py: error: cannot decode: unknown encoding.*klingon.*",
    ),
    "nul-bytes": ({"bad.py": b"x = 1\x00\n"}, "bad.py", r"bad\.py(:\d+:\d+)?: error: .*null bytes.*"),
    "missing-path": ({}, "missing.py", r"missing\.py: error: no such file or directory"),
    "broken-symlink": (_symlink("nowhere.py"), "bad.py", r"bad\.py: error: broken symbolic link.*"),
    "broken-symlink-in-a-walk": (_symlink("nowhere.py"), ".", r"bad\.py: error: broken symbolic link.*"),
    "symlink-loop": (_symlink("bad.py"), ".", r"bad\.py: error: .*(symbolic link|symlinks).*"),
    "unreadable": (_unreadable, "bad.py", r"bad\.py: error: cannot read: Permission denied"),
    "unreadable-as-root": (_proc_mem, ".", r"bad\.py: error: cannot read: Input/output error"),
    "deep-needs-tree": (
        {"bad.py": DEEP_NEEDS_TREE},
        "bad.py",
        r"bad\.py: error: too deeply nested to (parse|analyse).*",
    ),
}


def _skip(name: str) -> Optional[str]:
    if name == "unreadable" and (not hasattr(os, "geteuid") or os.geteuid() == 0):
        return "root reads files whatever their mode (see unreadable-as-root)"
    if name == "unreadable-as-root" and not (sys.platform.startswith("linux") and _proc_mem_unreadable()):
        return "needs Linux's /proc/self/mem"
    if name in ("broken-symlink", "broken-symlink-in-a-walk", "symlink-loop", "unreadable-as-root") and not hasattr(os, "symlink"):
        return "no symlinks"
    return None


def _setup(tmp_path: Path, name: str) -> str:
    files, target, _ = BAD[name]
    _write(tmp_path, files if isinstance(files, dict) else {})
    if callable(files):
        files(tmp_path)
    return target


def _stderr_lines(text: str) -> List[str]:
    return [line for line in text.splitlines() if line.strip()]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_input_one_line_exit_2_others_still_linted(tmp_path, name):
    reason = _skip(name)
    if reason:
        pytest.skip(reason)
    target = _setup(tmp_path, name)
    proc = run_cli("--quiet", target, "pos.py", cwd=tmp_path)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = _stderr_lines(proc.stderr)
    assert len(lines) == 1, proc.stderr
    assert re.fullmatch(BAD[name][2], lines[0]), lines[0]
    assert "Traceback" not in proc.stderr
    # the good file next to it is still linted and reported
    assert POSITIVE_FINDING in proc.stdout, proc.stdout
    assert "bad.py:" not in proc.stdout


@pytest.mark.slow
@pytest.mark.parametrize("name", ["syntax-error", "non-utf8-without-cookie", "missing-path"])
def test_bad_input_without_quiet_still_names_the_file(tmp_path, name):
    target = _setup(tmp_path, name)
    proc = run_cli(target, "pos.py", cwd=tmp_path)
    assert proc.returncode == 2
    assert re.fullmatch(BAD[name][2], _stderr_lines(proc.stderr)[0])
    assert "Traceback" not in proc.stderr
    assert POSITIVE_FINDING in proc.stdout


# files that are odd but fine: each must lint normally (and report what is in it)
LATIN1 = b"# -*- coding: latin-1 -*-\n# caf\xe9\n" + POSITIVE.replace(b"app = FastAPI()", b'app = FastAPI(title="caf\xe9")')
FINE = {
    "latin1-with-cookie": ({"odd.py": LATIN1}, "odd.py", ["odd.py:8:1: AXS105 "]),
    "utf8-bom": ({"odd.py": b"\xef\xbb\xbf" + POSITIVE}, "odd.py", ["odd.py:6:1: AXS105 "]),
    "utf8-bom-with-cookie": (
        {"odd.py": b"\xef\xbb\xbf# -*- coding: utf-8 -*-\n" + POSITIVE},
        "odd.py",
        ["odd.py:7:1: AXS105 "],
    ),
    "crlf": ({"odd.py": POSITIVE.replace(b"\n", b"\r\n")}, "odd.py", ["odd.py:6:1: AXS105 "]),
    "empty-file": ({"odd.py": b""}, "odd.py", []),
    "only-a-comment": ({"odd.py": b"# nothing here"}, "odd.py", []),
    "no-final-newline": ({"odd.py": POSITIVE.rstrip(b"\n")}, "odd.py", ["odd.py:6:1: AXS105 "]),
    "directory-named-like-a-module": ({"odd.py/README": b"not python\n"}, "odd.py", []),
    "package-dir": ({"pkg/__init__.py": b"", "pkg/mod.py": POSITIVE}, "pkg", ["pkg/mod.py:6:1: AXS105 "]),
    # CPython reads it (LibCST would not): the model is built from CPython's tree, and no rule needs
    # LibCST's tree of this file
    "deep-but-valid": ({"odd.py": DEEP_BUT_VALID}, "odd.py", []),
    "libcst-would-reject": ({"odd.py": LIBCST_ACCEPTS_NOT}, "odd.py", []),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(FINE))
def test_odd_but_fine_input_lints(tmp_path, name):
    files, target, expected = FINE[name]
    _write(tmp_path, files)
    proc = run_cli("--quiet", target, "pos.py", cwd=tmp_path)
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert proc.stderr == ""
    got = [line for line in proc.stdout.splitlines() if not line.startswith("pos.py:")]
    assert len(got) == len(expected), proc.stdout
    for line, want in zip(got, expected):
        assert line.startswith(want), (line, want)
    assert POSITIVE_FINDING in proc.stdout


@pytest.mark.slow
def test_directory_without_python_files(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "demo"\n')
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no python here\n")
    proc = run_cli("empty", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    lines = _stderr_lines(proc.stderr)
    assert any(re.fullmatch(r"empty: warning: no Python files found", line) for line in lines), proc.stderr
    assert "Traceback" not in proc.stderr
    # --quiet: nothing at all
    quiet = run_cli("--quiet", "empty", cwd=tmp_path)
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")


@pytest.mark.slow
def test_many_bad_files_in_one_run(tmp_path):
    """All at once: one line per bad file, sorted, and the good file still reported."""
    names = [n for n in BAD if not _skip(n) and isinstance(BAD[n][0], dict) and BAD[n][0]]
    # flake8 itself crashes where CPython raises ValueError, not SyntaxError (a null byte before 3.11.4)
    names = [n for n in names if not _value_error(BAD[n][0]["bad.py"])]  # type: ignore[index]
    files: Dict[str, bytes] = {}
    for n in names:
        files[f"{n}.py"] = BAD[n][0]["bad.py"]  # type: ignore[index]
    _write(tmp_path, files)
    os.symlink("nowhere.py", tmp_path / "zz-broken.py")
    proc = run_cli("--quiet", ".", cwd=tmp_path)
    assert proc.returncode == 2
    lines = _stderr_lines(proc.stderr)
    assert [line.split(":", 1)[0] for line in lines] == sorted(f"{n}.py" for n in names) + ["zz-broken.py"]
    assert "Traceback" not in proc.stderr
    assert POSITIVE_FINDING in proc.stdout


def _value_error(source: bytes) -> bool:
    try:
        compile(source, "bad.py", "exec", dont_inherit=True)
    except ValueError:
        return True
    except SyntaxError:
        pass
    return False


@pytest.mark.slow
def test_flake8_survives_bad_input(tmp_path):
    """flake8 reports (or, with --select AXS, hides) the syntax errors itself; we add nothing and never
    abort its run."""
    names = [n for n in BAD if not _skip(n) and isinstance(BAD[n][0], dict) and BAD[n][0]]
    files: Dict[str, bytes] = {f"{n}.py": BAD[n][0]["bad.py"] for n in names}  # type: ignore[index]
    files.update({f"fine-{n}.py": FINE[n][0]["odd.py"] for n in FINE if "odd.py" in FINE[n][0]})
    _write(tmp_path, files)
    proc = run_flake8(".", cwd=tmp_path)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "astack-lint: internal error" not in proc.stderr, proc.stderr
    axs = [line for line in proc.stdout.splitlines() if re.search(r":\d+:\d+: AXS\d+ ", line)]
    bad_files = {f"./{n}.py" for n in names}
    assert not [line for line in axs if line.split(":", 1)[0] in bad_files], axs
    assert "./" + POSITIVE_FINDING in proc.stdout, (proc.stdout, proc.stderr)
    assert "./fine-latin1-with-cookie.py:8:1: AXS105 " in proc.stdout
    assert "./fine-utf8-bom.py:6:1: AXS105 " in proc.stdout
    assert proc.returncode == 1, (proc.stdout, proc.stderr)


@pytest.mark.slow
def test_flake8_single_bad_file_with_e999(tmp_path):
    """With E999 selected too, flake8 itself reports the syntax error; AXS stays silent."""
    _write(tmp_path, {"bad.py": b"def f(:\n    pass\n"})
    proc = run_flake8("--select", "AXS,E999", "bad.py", "pos.py", cwd=tmp_path)
    assert "Traceback" not in proc.stderr
    assert re.search(r"^bad\.py:1:\d+: E999 ", proc.stdout, re.M), proc.stdout
    assert not re.search(r"^bad\.py:\d+:\d+: AXS", proc.stdout, re.M)
    assert POSITIVE_FINDING in proc.stdout
