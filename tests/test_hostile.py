"""Hostile inputs beyond tests/test_bad_input.py: a 50 MB file (memory stays bounded), deep brackets
and blocks, files that vanish or change kind between discovery and reading, a FIFO or a socket
named *.py (no hang), a directory symlink loop, non-ASCII and undecodable file names. Each bad file
gives one line on standard error naming it and the reason, exit 2, and every other file is still
linted."""

from __future__ import annotations

import ast
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

from astack_lint.api import Settings, lint_paths
from astack_lint.engine import run as engine_run
from astack_lint.engine import store as engine_store
from astack_lint.releases import sources as release_sources
from astack_lint.releases.versions import poetry_constraint
from astack_lint.source import MAX_FILE_BYTES

from .conftest import run_cli

POSITIVE = b"""\
from fastapi import FastAPI
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware

app = FastAPI()
app.add_middleware(Middleware(GZipMiddleware))
"""
POSITIVE_FINDING = "pos.py:6:1: AXS105 "
# imports that make a file interesting to the model, so LibCST really parses it
MODEL = b"from fastapi import FastAPI, Depends\napp = FastAPI()\n"


def _project(root: Path) -> Path:
    (root / "pyproject.toml").write_text('[project]\nname = "demo"\n')
    (root / "pos.py").write_bytes(POSITIVE)
    return root


def _lines(text: str) -> List[str]:
    return [line for line in text.splitlines() if line.strip()]


def _one_error(proc: subprocess.CompletedProcess, path: str, reason: str) -> None:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = _lines(proc.stderr)
    assert len(lines) == 1, proc.stderr
    assert re.fullmatch(re.escape(path) + r"(:\d+:\d+)?: error: " + reason, lines[0]), lines[0]
    assert "Traceback" not in proc.stderr
    assert POSITIVE_FINDING in proc.stdout, proc.stdout


# ---------------------------------------------------------------------------------------------
# size


RSS_SCRIPT = r"""
import resource, subprocess, sys
proc = subprocess.run([sys.executable, "-m", "astack_lint", "--quiet", "--no-cache", "."],
                      capture_output=True, text=True)
peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
sys.stdout.write("%d\n%d\n" % (peak_kb, proc.returncode))
sys.stdout.write(proc.stdout)
sys.stderr.write(proc.stderr)
"""


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="resource is POSIX")
def test_a_50_mb_file_is_refused_in_bounded_memory(tmp_path):
    root = _project(tmp_path)
    line = b"x = [1, 2, 3]  # fastapi Depends\n"
    with open(root / "big.py", "wb") as fh:
        fh.write(MODEL)
        chunk = line * (1024 * 1024 // len(line))
        for _ in range(50):
            fh.write(chunk)
    assert (root / "big.py").stat().st_size > 50 * 1000 * 1000
    proc = subprocess.run([sys.executable, "-c", RSS_SCRIPT], cwd=str(root), capture_output=True, text=True,
                          timeout=600)
    peak_kb, rc, *out = proc.stdout.splitlines()
    result = subprocess.CompletedProcess([], int(rc), "\n".join(out), proc.stderr)
    _one_error(result, "big.py", r"too large to lint \(\d+ bytes; the limit is \d+\)")
    # the interpreter, LibCST and the rules take ~100 MB; the file itself is never held
    assert int(peak_kb) < 250 * 1024, f"peak RSS {int(peak_kb) // 1024} MB"


@pytest.mark.slow
def test_a_file_just_under_the_limit_is_linted(tmp_path):
    """The limit is on bytes: a big but reasonable module (1 MB) lints normally."""
    root = _project(tmp_path)
    body = b"".join(b"def f%d(x):\n    return x + %d\n\n\n" % (i, i) for i in range(30000))
    assert 1_000_000 < len(body) < MAX_FILE_BYTES
    (root / "big.py").write_bytes(MODEL + body)
    proc = run_cli("--quiet", "--no-cache", ".", cwd=root)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr == ""
    assert POSITIVE_FINDING in proc.stdout


# ---------------------------------------------------------------------------------------------
# depth

DEEP = {
    # CPython: "too many nested parentheses" (its tokenizer stops at 200)
    "brackets-500": MODEL + b"x = " + b"[" * 500 + b"]" * 500 + b"\n",
    "calls-500": MODEL + b"x = " + b"f(" * 500 + b")" * 500 + b"\n",
    # CPython: "too many levels of indentation" (its tokenizer stops at 100)
    "blocks-200": MODEL + b"".join(b"    " * i + b"if x:\n" for i in range(200)) + b"    " * 200 + b"pass\n",
    # valid grammar: 90 nested blocks, a 3,000-deep unary chain, a 5,000-deep attribute chain (CPython
    # 3.11 gives up on the last two: "maximum recursion depth exceeded during ast construction")
    "blocks-90": MODEL + b"".join(b" " * i + b"if x:\n" for i in range(90)) + b" " * 90 + b"pass\n",
    "functions-90": MODEL + b"".join(b" " * i + b"def f():\n" for i in range(90)) + b" " * 90 + b"yield\n",
    "unary-3000": MODEL + b"x = " + b"-" * 3000 + b"1\n",
    "attributes-5000": MODEL + b"x = a" + b".b" * 5000 + b"\n",
    "lambdas-300": MODEL + b"x = " + b"lambda: " * 300 + b"1\n",
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(DEEP))
def test_deep_code_is_one_line_or_linted(tmp_path, name):
    root = _project(tmp_path)
    (root / "deep.py").write_bytes(DEEP[name])
    proc = run_cli("--quiet", "--no-cache", ".", cwd=root)
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    assert POSITIVE_FINDING in proc.stdout, (proc.stdout, proc.stderr)
    lines = _lines(proc.stderr)
    try:
        compile(DEEP[name], "deep.py", "exec", dont_inherit=True)
        python_accepts = True
    except (SyntaxError, RecursionError, MemoryError):
        python_accepts = False
    if not lines:  # linted fine: only what CPython accepts
        assert python_accepts
        assert proc.returncode == 1
        return
    assert len(lines) == 1, proc.stderr
    assert proc.returncode == 2
    if python_accepts:
        assert re.fullmatch(r"deep\.py(:\d+:\d+)?: error: (too deeply nested.*|LibCST cannot parse.*)", lines[0]), lines
    else:
        assert re.fullmatch(r"deep\.py(:\d+:\d+)?: error: (syntax error|too deeply nested).*", lines[0]), lines


# LibCST parses these, CPython refuses them: each is the one syntax-error line CPython gives, whether
# the file is parsed (prefilter off, or it feeds the model) or only compiled
LIBCST_ONLY = {
    "brackets-500": (MODEL + b"x = " + b"(" * 500 + b"1" + b")" * 500 + b"\n", "too many nested parentheses"),
    "subscripts-300": (MODEL + b"x = a" + b"[0" * 300 + b"]" * 300 + b"\n", "too many nested parentheses"),
    "non-ascii-bytes": (MODEL + "x = b'\u00e9'\n".encode(), "bytes can only contain ASCII literal characters.*"),
}


@pytest.mark.slow
@pytest.mark.parametrize("prefilter", ["on", "off"])
@pytest.mark.parametrize("name", sorted(LIBCST_ONLY))
def test_what_libcst_parses_but_cpython_refuses_is_a_syntax_error(tmp_path, monkeypatch, name, prefilter):
    src, reason = LIBCST_ONLY[name]
    import libcst

    libcst.parse_module(src.decode())  # the case in question: LibCST takes it
    with pytest.raises(SyntaxError):
        compile(src, "bad.py", "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
    if prefilter == "off":
        monkeypatch.setenv("ASTACK_LINT_NO_PREFILTER", "1")
    root = _project(tmp_path)
    (root / "bad.py").write_bytes(src)
    proc = run_cli("--quiet", "--no-cache", ".", cwd=root)
    _one_error(proc, "bad.py", "syntax error: " + reason)


@pytest.mark.slow
def test_syntax_warnings_are_neither_errors_nor_printed(tmp_path):
    """An invalid escape sequence is a SyntaxWarning (3.12+; DeprecationWarning before): Python
    prints it and runs the file. Not an error, even under -W error, and not printed by the linter."""
    root = _project(tmp_path)
    (root / "esc.py").write_bytes(MODEL + b'import re\nPAT = re.compile("\\d+")\nassert (1, "x")\n')
    (root / "plain.py").write_bytes(b'import re\nPAT = re.compile("\\d+")\n')  # compiled, not parsed
    for extra, prefilter in (([], "1"), (["-W", "error"], "1"), (["-W", "error"], "")):
        env = dict(os.environ, ASTACK_LINT_NO_PREFILTER=prefilter)
        proc = subprocess.run([sys.executable, *extra, "-m", "astack_lint", "--no-cache", "."], cwd=root,
                              capture_output=True, text=True, env=env)
        assert proc.returncode == 1, proc.stderr
        assert POSITIVE_FINDING in proc.stdout
        assert "Warning" not in proc.stderr and "error" not in proc.stderr, proc.stderr


# ---------------------------------------------------------------------------------------------
# the flake8 plugin: no size limit of its own before; an exception's text printed unbounded


class _Flake8Options:
    def __getattr__(self, name):
        return None


def _plugin_run(capsys, path: Path, lines) -> List[str]:
    from astack_lint.flake8_plugin import Plugin

    Plugin.parse_options(_Flake8Options())
    out = list(Plugin(None, str(path), lines).run())
    assert out == []
    return _lines(capsys.readouterr().err)


@pytest.mark.parametrize("given", ["flake8-lines", "no-lines"])
def test_flake8_plugin_skips_a_too_large_file_with_one_line(tmp_path, capsys, monkeypatch, given):
    from astack_lint.flake8_plugin import Plugin

    root = _project(tmp_path)
    line = "x = 1  # " + "a" * 90 + "\n"
    n = MAX_FILE_BYTES // len(line) + 1
    big = root / "big.py"
    with open(big, "w", encoding="utf-8") as fh:
        fh.write(line * n)
    # never parsed: LibCST's tree of it would take gigabytes
    monkeypatch.setattr(Plugin, "_findings", lambda self: pytest.fail("a too-large file was analysed"))
    lines = _plugin_run(capsys, big, [line] * n if given == "flake8-lines" else None)
    assert lines == [f"astack-lint: {big}: too large to lint ({n * len(line)} bytes; the limit is {MAX_FILE_BYTES}); "
                     "not checked"]


def test_flake8_plugin_counts_bytes_not_characters(tmp_path, capsys, monkeypatch):
    """4-byte characters: a third of the limit in characters, over it in bytes."""
    from astack_lint.flake8_plugin import Plugin

    line = "# " + "\U0001F600" * 1000 + "\n"
    n = MAX_FILE_BYTES // len(line.encode()) + 1
    monkeypatch.setattr(Plugin, "_findings", lambda self: pytest.fail("a too-large file was analysed"))
    lines = _plugin_run(capsys, tmp_path / "emoji.py", [line] * n)
    assert len(lines) == 1 and "too large to lint" in lines[0], lines


def test_flake8_plugin_lints_a_file_just_under_the_limit(tmp_path, capsys):
    from astack_lint.flake8_plugin import Plugin

    root = _project(tmp_path)
    lines = POSITIVE.decode().splitlines(True)
    Plugin.parse_options(_Flake8Options())
    found = list(Plugin(None, str(root / "pos.py"), lines).run())
    assert [(f[0], f[2][:6]) for f in found] == [(6, "AXS105")]
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("message", ["x" * 100_000, "line one\nline two\n" * 1000, ""])
def test_flake8_plugin_internal_error_is_one_short_line(tmp_path, capsys, monkeypatch, message):
    from astack_lint.flake8_plugin import Plugin

    def boom(self):
        raise RuntimeError(message)

    monkeypatch.setattr(Plugin, "_findings", boom)
    odd = tmp_path / "odd\nname\udcff.py"
    lines = _plugin_run(capsys, odd, ["x = 1\n"])
    assert len(lines) == 1, lines
    assert lines[0].startswith("astack-lint: internal error on ") and "RuntimeError" in lines[0], lines
    assert len(lines[0]) < 300 + len(str(tmp_path)), lines


# ---------------------------------------------------------------------------------------------
# races: a file that changes between discovery and reading


def _lint_in_process(root: Path, capsys, monkeypatch, *args: str):
    from astack_lint.cli.lint import main

    monkeypatch.chdir(root)
    rc = main(["--quiet", "--no-cache", *args])
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess([], rc, out, err)


def _after_discovery(monkeypatch, action):
    real = engine_run.discover

    def discover(*a, **k):
        found = real(*a, **k)
        action()
        return found

    monkeypatch.setattr(engine_run, "discover", discover)


def _before_parsing(monkeypatch, action):
    """Between the scan (stat, read, digest) and the parse (read again)."""
    real = engine_store.Store.parse_many
    done = []

    def parse_many(self, paths, jobs=1):
        if not done:
            done.append(1)
            action()
        return real(self, paths, jobs)

    monkeypatch.setattr(engine_store.Store, "parse_many", parse_many)


def _fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(str(path))


def _directory(path: Path) -> None:
    path.unlink()
    path.mkdir()


RACES = {
    "deleted": (lambda p: p.unlink(), r"cannot read: No such file or directory"),
    "became-a-directory": (_directory, r"is a directory, not a file"),
    "became-a-fifo": (_fifo, r"not a regular file \(a FIFO\); it was not read"),
    "became-undecodable": (lambda p: p.write_bytes(MODEL + b'x = "caf\xe9"\n'), r"cannot decode as utf-8.*"),
    "became-invalid": (lambda p: p.write_bytes(MODEL + b"def f(:\n"), r"syntax error: .*"),
}


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
@pytest.mark.parametrize("when", ["after-discovery", "before-parsing"])
@pytest.mark.parametrize("name", sorted(RACES))
def test_file_changes_between_discovery_and_reading(tmp_path, capsys, monkeypatch, name, when):
    root = _project(tmp_path)
    victim = root / "victim.py"
    victim.write_bytes(MODEL + b"def f():\n    pass\n")
    action, reason = RACES[name]
    hook = _after_discovery if when == "after-discovery" else _before_parsing
    hook(monkeypatch, lambda: action(victim))
    proc = _lint_in_process(root, capsys, monkeypatch, ".")
    _one_error(proc, "victim.py", reason)


# ---------------------------------------------------------------------------------------------
# special files


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
@pytest.mark.parametrize("how", ["walked", "named"])
def test_a_fifo_named_like_a_module_does_not_hang(tmp_path, how):
    root = _project(tmp_path)
    os.mkfifo(str(root / "pipe.py"))
    args = ["."] if how == "walked" else ["pipe.py", "pos.py"]
    proc = subprocess.run([sys.executable, "-m", "astack_lint", "--quiet", "--no-cache", *args], cwd=str(root),
                          capture_output=True, text=True, timeout=300)
    _one_error(proc, "pipe.py", r"not a regular file \(a FIFO\); it was not read")


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="no Unix sockets")
def test_a_socket_named_like_a_module(tmp_path):
    root = _project(tmp_path)
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(root / "sock.py"))
    except OSError as exc:  # path too long for AF_UNIX on some systems
        pytest.skip(str(exc))
    try:
        proc = run_cli("--quiet", "--no-cache", ".", cwd=root)
    finally:
        sock.close()
    _one_error(proc, "sock.py", r"(not a regular file \(a socket\); it was not read|cannot read: .*)")


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="needs /dev/null")
def test_a_device_named_like_a_module(tmp_path):
    root = _project(tmp_path)
    os.symlink("/dev/zero", root / "zero.py")  # reading it would never end
    proc = subprocess.run([sys.executable, "-m", "astack_lint", "--quiet", "--no-cache", "."], cwd=str(root),
                          capture_output=True, text=True, timeout=300)
    _one_error(proc, "zero.py", r"not a regular file \(a character device\); it was not read")


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks")
def test_a_directory_symlink_loop_lints_each_file_once(tmp_path):
    """sub/loop -> .. : the walk visits each directory once; nothing is wrong with any file."""
    root = _project(tmp_path)
    (root / "sub").mkdir()
    (root / "sub" / "mod.py").write_bytes(POSITIVE)
    os.symlink("..", root / "sub" / "loop")
    os.symlink(".", root / "self")
    proc = run_cli("--quiet", "--no-cache", ".", cwd=root)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr == ""
    assert sorted(line.split(":", 1)[0] for line in _lines(proc.stdout)) == ["pos.py", os.path.join("sub", "mod.py")]


# ---------------------------------------------------------------------------------------------
# file names


@pytest.mark.slow
def test_non_ascii_paths(tmp_path):
    root = _project(tmp_path)
    pkg = root / "ünïcødé" / "日本"
    pkg.mkdir(parents=True)
    (pkg / "café.py").write_bytes(POSITIVE)
    (pkg / "ошибка.py").write_bytes(b"def f(:\n")
    for fmt in ("text", "json"):
        proc = run_cli("--quiet", "--no-cache", "--output-format", fmt, ".", cwd=root)
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr
        lines = _lines(proc.stderr)
        assert len(lines) == 1 and lines[0].startswith(os.path.join("ünïcødé", "日本", "ошибка.py") + ":"), lines
        want = os.path.join("ünïcødé", "日本", "café.py")
        assert want in (proc.stdout if fmt == "text" else json.dumps(json.loads(proc.stdout), ensure_ascii=False))


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs a file system that takes any bytes")
@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "github"])
def test_undecodable_file_name(tmp_path, fmt):
    """A name that is not UTF-8 (b'\\xff'): Python gives it a surrogate escape; printing it must not
    raise UnicodeEncodeError."""
    root = _project(tmp_path)
    name = os.fsdecode(b"bad\xffname.py")
    try:
        (root / name).write_bytes(POSITIVE)
    except (OSError, UnicodeEncodeError) as exc:
        pytest.skip(str(exc))
    (root / os.fsdecode(b"broken\xfe.py")).write_bytes(b"def f(:\n")
    proc = subprocess.run([sys.executable, "-m", "astack_lint", "--quiet", "--no-cache", "--output-format", fmt, "."],
                          cwd=str(root), capture_output=True, timeout=300,
                          env={**os.environ, "PYTHONIOENCODING": "utf-8"})
    err = proc.stderr.decode("utf-8", "replace")
    assert "Traceback" not in err and "internal error" not in err, err
    assert proc.returncode == 2, err
    assert len(_lines(err)) == 1 and "broken" in err, err
    out = proc.stdout.decode("utf-8", "replace")
    assert out.count("AXS105") >= 2, out
    if fmt in ("json", "sarif"):
        json.loads(proc.stdout)


# ---------------------------------------------------------------------------------------------
# many bad files at once, through the library


def test_library_reports_every_hostile_file_and_lints_the_rest(tmp_path):
    root = _project(tmp_path)
    if hasattr(os, "mkfifo"):
        os.mkfifo(str(root / "pipe.py"))
    (root / "deep.py").write_bytes(DEEP["blocks-200"])
    (root / "ok.py").write_bytes(POSITIVE)
    result = lint_paths([str(root)], Settings.from_values({"no_cache": True}, base_dir=str(root)))
    assert sorted(os.path.basename(f.path) for f in result.findings) == ["ok.py", "pos.py"]
    bad = sorted(os.path.basename(e.path) for e in result.errors)
    assert bad == sorted(["deep.py"] + (["pipe.py"] if hasattr(os, "mkfifo") else [])), result.errors


# ---------------------------------------------------------------------------------------------
# more odd input (beyond the cases above): the verdict is CPython's, whichever release runs the
# tests (3.12 takes nested f-string quotes, 3.11 does not); one error for a refused file, none else

ODD = {
    "cr-only-line-ends": MODEL.replace(b"\n", b"\r") + b"x = 1\r",
    "mixed-line-ends": MODEL + b"x = 1\r\ny = 2\rz = 3\n",
    "form-feeds": MODEL + b"\x0cdef f():\n\x0c    return 1\n",
    "tabs-and-spaces": MODEL + b"if x:\n\tif y:\n        pass\n",
    "only-a-bom": b"\xef\xbb\xbf",
    "bom-and-latin-1-cookie": b"\xef\xbb\xbf# -*- coding: latin-1 -*-\nx = 1\n",
    "cookie-on-line-3": b"\n\n# -*- coding: latin-1 -*-\nx = '\xe9'\n",
    "utf-16": "x = 1\n".encode("utf-16"),
    "backslash-at-eof": MODEL + b"x = 1 + \\",
    "block-without-final-newline": MODEL + b"def f():\n    return 1",
    "escape-control-character": MODEL + b"x = 1\x1b\n",
    "no-break-space-indent": MODEL + "if x:\n\u00a0   pass\n".encode(),
    "nfkc-identifier": MODEL + "\ufb01le = 1\nprint(file)\n".encode(),
    "5000-digit-int": MODEL + b"x = " + b"9" * 5000 + b"\n",
    "nested-fstring-quotes": MODEL + b'x = f"{f"{1}"}"\n',
    "pep-695-generic": MODEL + b"def f[T](x: T) -> T:\n    return x\n",
    "python-2-print": MODEL + b"print 'hello'\n",
    "match-as-names": MODEL + b"match = 1\ncase = 2\nmatch(match)\n",
    "20000-parameters": MODEL + b"def f(" + b", ".join(b"a%d" % i for i in range(20000)) + b"): pass\n",
    "5000-decorators": MODEL + b"@app.get('/')\n" * 5000 + b"def f(): pass\n",
    "return-outside-function": MODEL + b"return 1\n",  # the compiler's error, not the parser's: linted
}


@pytest.mark.parametrize("prefilter", ["on", "off"])
@pytest.mark.parametrize("name", sorted(ODD))
def test_odd_input_gets_cpythons_verdict(tmp_path, monkeypatch, name, prefilter):
    if prefilter == "off":
        monkeypatch.setenv("ASTACK_LINT_NO_PREFILTER", "1")
    root = _project(tmp_path)
    (root / "mod.py").write_bytes(ODD[name])
    try:
        compile(ODD[name], "mod.py", "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
        accepted = True
    except (SyntaxError, ValueError):
        accepted = False
    result = lint_paths([str(root)], Settings.from_values({"no_cache": True, "jobs": 1}, base_dir=str(root)))
    assert [os.path.basename(f.path) for f in result.findings] == ["pos.py"]
    if accepted:
        assert result.errors == [] and result.files == 2, result.errors
    else:
        assert len(result.errors) == 1 and result.files == 1, result.errors
        assert os.path.basename(result.errors[0].path) == "mod.py"
        assert result.errors[0].message.startswith(("syntax error: ", "cannot decode")), result.errors[0]
        assert "\n" not in result.errors[0].message


# ---------------------------------------------------------------------------------------------
# a rule that raises: one error line, exit 2, every other rule and file still linted


@pytest.mark.slow
def test_a_rule_that_raises_is_an_internal_error_with_exit_2(tmp_path, capsys, monkeypatch):
    from astack_lint.rules.registry import get_rule

    root = _project(tmp_path)
    (root / "other.py").write_bytes(POSITIVE.replace(b"app = FastAPI()", b"api = FastAPI()").replace(b"app.add", b"api.add"))
    (root / "deps.py").write_bytes(MODEL + b"\n\ndef get_db():\n    try:\n        yield 1\n    except Exception:\n        pass\n\n\n"
                                   b"@app.get('/')\ndef index(db=Depends(get_db)):\n    return db\n")
    rule = get_rule("AXS302")

    def broken(ctx):
        raise RecursionError("maximum recursion depth exceeded\nwhile calling a Python object")

    monkeypatch.setattr(rule, "check", broken)
    proc = _lint_in_process(root, capsys, monkeypatch)
    assert proc.returncode == 2, proc
    errors = [line for line in _lines(proc.stderr) if ": error: " in line]
    assert errors == ["deps.py: error: internal error in AXS302 (RecursionError: maximum recursion depth exceeded while "
                      "calling a Python object); its findings in this file are missing"], proc.stderr
    # the other rules and files are linted as before
    assert POSITIVE_FINDING in proc.stdout and "other.py:6:1: AXS105 " in proc.stdout
    # flake8: one line on standard error, the other rules' findings still given to flake8
    from astack_lint.flake8_plugin import Plugin

    Plugin.parse_options(type("Options", (), {})())
    monkeypatch.setattr(rule, "check", broken)
    found = list(Plugin(None, str(root / "deps.py")).run())
    err = capsys.readouterr().err
    assert found == [] and err.count("internal error in AXS302") == 1 and "deps.py" in err, err


# ---------------------------------------------------------------------------------------------
# hostile project files: release sources and the configuration, bounded

APP = "from fastapi import FastAPI\nfrom fastapi.middleware.asyncexitstack import AsyncExitStackMiddleware\napp = FastAPI()\n"


def _req_project(root: Path, files: dict) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text('[project]\nname = "r"\n')
    (root / "app.py").write_text(APP)
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def _req_answer(root: Path):
    release_sources._FILE_CACHE.clear()
    return release_sources.directory_answer(str(root))


def _calls(monkeypatch, module, name: str, show=os.path.basename) -> List[str]:
    """Record the first argument (a path, through ``show``) of every call of ``module.name``."""
    seen: List[str] = []
    real = getattr(module, name)

    def recorded(path, *a, **kw):
        seen.append(show(path))
        return real(path, *a, **kw)

    monkeypatch.setattr(module, name, recorded)
    return seen


def test_requirements_include_loop_and_fan_out_read_each_file_once(tmp_path, monkeypatch):
    reads = _calls(monkeypatch, release_sources, "read_bytes")
    files = {"requirements.txt": "-r r0.txt\n-r b.txt\nfastapi>=0.100\n", "b.txt": "-r requirements.txt\n"}
    for i in range(16):  # each includes the next three times: 3**15 reads before
        files[f"r{i}.txt"] = "".join(f"-r r{i + 1}.txt\n" for _ in range(3)) if i < 15 else "fastapi<0.200\n"
    root = _req_project(tmp_path, files)
    ans = _req_answer(root)
    assert ans is not None and ans.texts["fastapi"] == "fastapi<0.200, fastapi>=0.100"
    assert sorted(reads) == sorted(n for n in files)  # every file once


@pytest.mark.skipif(not hasattr(os, "mkfifo") or not os.path.exists("/dev/zero"), reason="POSIX only")
def test_requirements_include_of_a_fifo_a_device_or_a_link_loop_never_hangs(tmp_path, capsys):
    root = _req_project(tmp_path, {"requirements.txt": "-r pipe.txt\n-r /dev/zero\n-r d/requirements.txt\n"
                                   "-r d/requirements.txt\nfastapi>=0.100\n"})
    os.mkfifo(root / "pipe.txt")
    os.symlink(".", root / "d")
    ans = _req_answer(root)
    assert ans is not None and ans.texts["fastapi"] == "fastapi>=0.100"
    err = capsys.readouterr().err
    assert "pipe.txt: cannot read this requirements file (not a regular file (a FIFO)" in err
    assert "/dev/zero: cannot read this requirements file (included by" in err  # outside the tree: not opened


def test_requirements_include_outside_the_repository_is_not_read(tmp_path, capsys):
    (tmp_path / "elsewhere.txt").write_text("fastapi==0.100.0\n")
    repo = tmp_path / "repo"
    (repo / "shared").mkdir(parents=True)
    (repo / "shared" / "base.txt").write_text("fastapi<0.120\n")
    root = _req_project(repo / "svc", {"requirements.txt": "-r ../../elsewhere.txt\n-r ../shared/base.txt\n"})
    # no repository: only the requirements file's own directory
    assert _req_answer(root) is None
    assert "outside" in capsys.readouterr().err
    (repo / ".git").mkdir()  # inside one repository, an include from elsewhere in it is read
    ans = _req_answer(root)
    assert ans is not None and ans.texts["fastapi"] == "fastapi<0.120"


def test_a_huge_requirements_include_is_refused(tmp_path, capsys):
    big = "fastapi>=0.100\n" + "# padding\n" * (release_sources.MAX_REQUIREMENTS_BYTES // 10)
    root = _req_project(tmp_path, {"requirements.txt": "-r big.txt\nfastapi<0.120\n", "big.txt": big})
    ans = _req_answer(root)
    assert ans is not None and ans.texts["fastapi"] == "fastapi<0.120"
    assert "big.txt: cannot read this requirements file (too large to read" in capsys.readouterr().err


def test_a_dependency_group_that_includes_itself_resolves_at_once(tmp_path):
    include = ", ".join(['{include-group = "dev"}'] * 5 + ['{include-group = "other"}'] * 5)
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "g"\n[dependency-groups]\n'
        f'dev = [{include}, "fastapi>=0.100"]\nother = [{include}, "fastapi<0.120"]\n')
    ans = _req_answer(tmp_path)
    assert ans is not None and ans.texts["fastapi"] == "fastapi<0.120, fastapi>=0.100 or fastapi>=0.100, fastapi<0.120"


def test_a_poetry_constraint_with_thousands_of_alternatives_is_not_read():
    alts = " || ".join(f"0.{i}.{j}" for i in range(100) for j in range(200))
    assert poetry_constraint(alts) is None
    assert poetry_constraint(" || ".join(["0.100.0"] * 63))  # a long but plausible one is read
    reqs = [release_sources._req(f"fastapi>=0.{i}") for i in range(5000)]  # one intersection, not 5000
    assert len(release_sources._combine(reqs)["fastapi"][0]) == 1


def test_jobs_is_capped_at_the_cores_available(tmp_path, monkeypatch):
    from astack_lint.engine import run as run_mod

    root = _project(tmp_path)
    for i in range(12):
        (root / f"m{i}.py").write_bytes(MODEL)
    asked: List[int] = []
    real = engine_store.concurrent.futures.ProcessPoolExecutor

    def pool(max_workers=None, **kw):
        asked.append(max_workers)
        return real(max_workers=1, **kw)

    monkeypatch.setattr(engine_store.concurrent.futures, "ProcessPoolExecutor", pool)
    monkeypatch.setattr(run_mod, "cpu_count", lambda: 2)
    lint_paths([str(root)], Settings.from_values({"jobs": 120, "no_cache": True}, base_dir=str(root)))
    assert asked and max(asked) == 2


def _deep_toml(extra: str = "") -> str:
    return '[project]\nname = "x"\n' + extra + "x = " + "[" * 100000 + "]" * 100000 + "\n"


@pytest.mark.parametrize("ours", [False, True])
def test_a_deeply_nested_pyproject_above_the_cwd_is_one_line(tmp_path, ours):
    (tmp_path / "pyproject.toml").write_text(_deep_toml("[tool.astack-lint]\n" if ours else ""))
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "setup.py").write_text("")
    (sub / "pos.py").write_bytes(POSITIVE)
    proc = run_cli("--no-cache", ".", cwd=sub)
    assert "Traceback" not in proc.stderr, proc.stderr
    if ours:  # our table is in there: the run stops, with one line
        assert proc.returncode == 2 and len(_lines(proc.stderr)) == 1, proc.stderr
        assert "pyproject.toml: invalid TOML" in proc.stderr
    else:
        assert proc.returncode == 1 and POSITIVE_FINDING in proc.stdout, proc.stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo") or not os.path.exists("/dev/zero"), reason="POSIX only")
@pytest.mark.parametrize("kind", ["fifo", "zero", "directory", "missing"])
def test_config_reads_only_a_regular_file(tmp_path, kind):
    root = _project(tmp_path)
    target = {"fifo": str(tmp_path / "cfg.toml"), "zero": "/dev/zero", "directory": str(tmp_path),
              "missing": str(tmp_path / "nope.toml")}[kind]
    if kind == "fifo":
        os.mkfifo(target)
    proc = run_cli("--no-cache", "--config", target, ".", cwd=root)
    assert proc.returncode == 2 and len(_lines(proc.stderr)) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.startswith(f"astack-lint: error: {target}: ")


# ---------------------------------------------------------------------------------------------
# roots, paths and names


def _no_marker_project(tmp_path: Path) -> Path:
    """home/scratch/pos.py without a project marker, and under home a clone of a package named
    starlette whose Middleware is a plain class: judged with home as its root, the finding hid."""
    home = tmp_path / "home"
    (home / "scratch").mkdir(parents=True)
    (home / "scratch" / "pos.py").write_bytes(POSITIVE)
    fake = home / "src" / "starlette"
    (fake / "starlette" / "middleware").mkdir(parents=True)
    (fake / "pyproject.toml").write_text('[project]\nname = "starlette"\n')
    (fake / "starlette" / "__init__.py").write_text("")
    (fake / "starlette" / "middleware" / "__init__.py").write_text("class Middleware:\n    pass\n")
    return home


def test_a_file_without_a_project_marker_is_its_own_project(tmp_path):
    home = _no_marker_project(tmp_path)
    for cwd, arg in ((home / "scratch", "pos.py"), (home, "scratch/pos.py"), (Path("/"), str(home / "scratch" / "pos.py"))):
        proc = run_cli("--no-cache", arg, cwd=cwd)
        assert proc.returncode == 1 and "AXS105" in proc.stdout, (cwd, proc.stdout, proc.stderr)
        shown = run_cli("--show-settings", arg, cwd=cwd)
        assert f"(project root {os.path.relpath(home / 'scratch', cwd)})" in shown.stdout, shown.stdout


def test_the_file_system_root_is_never_walked_as_a_project(tmp_path, monkeypatch):
    from astack_lint.engine import discover as discover_mod

    walked = _calls(monkeypatch, discover_mod, "walk_python_files", os.path.abspath)
    files = discover_mod.known_files("/", Settings(), [str(tmp_path / "x.py")])
    assert files == [str(tmp_path / "x.py")] and walked == []


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks")
def test_a_directory_symlink_is_not_followed_and_cannot_take_over_paths(tmp_path):
    root = _project(tmp_path)
    (root / "src").mkdir()
    (root / "pos.py").rename(root / "src" / "pos.py")
    (root / "pyproject.toml").write_text('[project]\nname = "p"\n[tool.astack-lint]\nper-file-ignores = { "src/*" = ["AXS105"] }\n')
    os.symlink("src", root / "a_link")  # sorts before src
    proc = run_cli("--no-cache", ".", cwd=root)
    assert proc.returncode == 0 and proc.stdout == "", (proc.stdout, proc.stderr)
    followed = run_cli("--no-cache", "--follow-symlinks", ".", cwd=root)  # reached twice: once, as src/
    assert followed.returncode == 0 and followed.stdout == "", (followed.stdout, followed.stderr)
    (root / "pyproject.toml").write_text('[project]\nname = "p"\n')
    both = run_cli("--no-cache", "--follow-symlinks", ".", cwd=root)
    assert _lines(both.stdout) and all(line.startswith("src" + os.sep + "pos.py:") for line in _lines(both.stdout)), both.stdout
    assert "1 file linted" in both.stderr


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks")
def test_a_file_symlink_to_a_linted_file_is_linted_once_and_fixed_once(tmp_path):
    root = _project(tmp_path)
    os.symlink("pos.py", root / "alias.py")
    proc = run_cli("--no-cache", ".", cwd=root)
    assert [line.split(":", 1)[0] for line in _lines(proc.stdout)] == ["pos.py"], proc.stdout
    fixed = run_cli("--no-cache", "--fix", ".", cwd=root)
    assert fixed.returncode == 0, (fixed.stdout, fixed.stderr)
    assert b"add_middleware(GZipMiddleware)" in (root / "pos.py").read_bytes() and (root / "alias.py").is_symlink()


@pytest.mark.parametrize("star", ["from starlette.middleware import *", "from fastapi.middleware import *",
                                  "from .common import *"])
def test_names_from_star_imports_resolve(tmp_path, star):
    root = _project(tmp_path)
    (root / "pos.py").unlink()
    (root / "pkg").mkdir()
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "common.py").write_text("from starlette.middleware import Middleware\n")
    (root / "pkg" / "app.py").write_text(
        POSITIVE.decode().replace("from starlette.middleware import Middleware", star))
    result = lint_paths([str(root)], Settings.from_values({"no_cache": True}, base_dir=str(root)))
    assert [(os.path.basename(f.path), f.code) for f in result.findings] == [("app.py", "AXS105")]


def test_a_star_import_does_not_invent_names(tmp_path):
    root = _project(tmp_path)
    (root / "pos.py").write_text(POSITIVE.decode().replace(
        "from starlette.middleware import Middleware", "from starlette.middleware import *\nfrom mylib import *\n"
        "class Middleware:\n    def __init__(self, cls):\n        pass"))
    result = lint_paths([str(root)], Settings.from_values({"no_cache": True}, base_dir=str(root)))
    assert result.findings == []  # the module's own class wins over the star import before it


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs a file system that takes any bytes")
def test_text_output_escapes_control_characters_in_paths(tmp_path):
    root = _project(tmp_path)
    names = ["new\nline.py", "esc\x1b[31mred.py", "bell\x07.py"]
    for name in names:
        (root / name).write_bytes(POSITIVE)
    (root / "broken\r.py").write_bytes(b"def f(:\n")
    proc = run_cli("--no-cache", ".", cwd=root)
    assert proc.returncode == 2
    lines = _lines(proc.stdout)
    assert len(lines) == 4 and all(re.match(r"^[^\x00-\x1f\x7f]+:6:1: AXS105 ", line) for line in lines), lines
    assert {line.split(":", 1)[0] for line in lines} == {"new\\nline.py", "esc\\x1b[31mred.py", "bell\\x07.py", "pos.py"}
    assert "\x1b" not in proc.stderr and "broken\\r.py:1:" in proc.stderr, proc.stderr
    assert len(_lines(proc.stderr)) == 2  # the error, the summary
    data = json.loads(run_cli("--no-cache", "--output-format", "json", ".", cwd=root).stdout)
    assert {os.path.basename(f["filename"]) for f in data} == set(names) | {"pos.py"}  # JSON keeps the real names


def test_python_m_never_imports_the_projects_own_modules(tmp_path):
    root = _project(tmp_path)
    marker = tmp_path / "markers"
    marker.mkdir()
    for name in ("hashlib", "json", "argparse", "tempfile", "glob", "fnmatch", "difflib", "libcst", "typing_extensions"):
        (root / f"{name}.py").write_text(f"open({str(marker / name)!r}, 'w').close()\n")
    for args in ((".",), ("--no-cache", "."), ("--diff", ".")):
        proc = run_cli(*args, cwd=root)
        assert proc.returncode == 1, proc.stderr
        assert sorted(p.name for p in marker.iterdir()) == [], args


@pytest.mark.skipif(sys.version_info < (3, 11), reason="PYTHONSAFEPATH is read from Python 3.11 on")
def test_worker_processes_never_import_the_projects_own_modules(tmp_path):
    """Workers started by "spawn" (macOS, Windows) or "forkserver" (Linux from 3.14) run in the
    working directory: the project's multiprocessing.py must not be what they import."""
    root = _project(tmp_path)
    for i in range(12):
        (root / f"m{i}.py").write_bytes(MODEL)
    marker = tmp_path / "marker"
    (root / "multiprocessing.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    code = ("import sys; del sys.path[0]; import multiprocessing as mp; mp.set_start_method('spawn'); "
            "from astack_lint.cli.lint import main; sys.exit(main(['--no-cache', '--jobs', '2', '.']))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=str(root), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stderr
    assert not marker.exists()
