"""--fix, --diff, --unsafe-fixes: each guarantee they make, with its test.

The rest of a file stays byte for byte; the result parses; a second --fix changes nothing; fixing
then linting shows the fixed findings gone and no new ones; a finding suppressed by noqa /
per-file-ignores / selection is never fixed; files are written atomically (temporary file in the
same directory, then rename; mode kept); a file with a syntax error is never written; CRLF, coding
cookies and BOMs are kept; --diff writes nothing and exits 1. Then the fixes themselves, on cases
beyond those guarantees (multi-line calls with comments, handlers ending in return, nested try
blocks, tabs, CRLF), and the fixed fixture apps run against real FastAPI.
"""

from __future__ import annotations

import ast
import os
import shutil
import stat
import textwrap
from collections import Counter
from pathlib import Path

import libcst as cst
import pytest

from astack_lint.api import Settings, fix_paths, lint_paths
from astack_lint.engine import fix as fixes_mod

from .conftest import FIXTURES, run_cli
from .proofs.harness import load

HEADER = "from fastapi import Depends, FastAPI\n\napp = FastAPI()\n\n"

MIDDLEWARE = """\
from fastapi import FastAPI
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware

app = FastAPI()
app.add_middleware(Middleware(GZipMiddleware, minimum_size=10))
"""


def write(root: Path, name: str, text: str, newline: str = "\n", encoding: str = "utf-8") -> Path:
    p = root / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(textwrap.dedent(text).lstrip("\n").replace("\n", newline).encode(encoding))
    return p


def new_project(tmp_path: Path, files: dict, **kw) -> Path:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "demo"\n')
    for name, text in files.items():
        write(tmp_path, name, text, **kw)
    return tmp_path


def fix(root: Path, *paths: str, unsafe: bool = True, **options):
    settings = Settings.from_values(dict(options, no_cache=True), base_dir=str(root))
    return fix_paths([str(root / p) for p in (paths or ("",))], settings, unsafe=unsafe)


def findings(root: Path, *paths: str, **options):
    settings = Settings.from_values(dict(options, no_cache=True), base_dir=str(root))
    return lint_paths([str(root / p) for p in (paths or ("",))], settings)


def codes(root: Path, **options):
    return [(os.path.relpath(f.path, root), f.line, f.code) for f in findings(root, **options).findings]


def parses(raw: bytes, path: str = "x.py", full: bool = True) -> None:
    """LibCST parses it and CPython compiles it (``full=False``: to an AST only, for a file that
    the compiler already rejected before the fix, like a fixture's ``return None`` in an async
    generator)."""
    from astack_lint.source import decode

    text = decode(raw).text
    cst.parse_module(text)
    compile(text, path, "exec", 0 if full else ast.PyCF_ONLY_AST, dont_inherit=True)


def compiles(raw: bytes) -> bool:
    try:
        parses(raw)
    except SyntaxError:
        return False
    return True


def dependency(handler: str, *, name: str = "get_db", indent: str = "    ") -> str:
    """A dependency with ``try: yield`` and the given handler, used by an endpoint."""
    body = textwrap.indent(textwrap.dedent(handler).strip("\n"), indent) + "\n"
    text = (
        HEADER
        + f"def {name}():\n{indent}try:\n{indent}{indent}yield 1\n"
        + body
        + f"\n\n@app.get('/')\ndef index(db=Depends({name})):\n{indent}return {{}}\n"
    )
    return text


# ---------------------------------------------------------------------------------------------
# the guarantees


def test_rest_of_the_file_is_byte_for_byte_unchanged(tmp_path):
    head = (
        "# -*- coding: utf-8 -*-\n"
        '"""Odd but valid formatting everywhere: none of it may move."""\n'
        "from fastapi import FastAPI   # two spaces too many\n"
        "from starlette.middleware import Middleware\n"
        "from starlette.middleware.gzip import GZipMiddleware\n"
        "x = [ 1,2 ,\n"
        "      3 ]  ;  y = 'é'  \t\n"
        "\n\n\n"
        "app = FastAPI( )\n"
    )
    tail = "\n# trailing comment without newline at the end, and a tab:\t"
    before = head + "app.add_middleware(Middleware(GZipMiddleware, minimum_size = 10))  # keep me" + tail
    after = head + "app.add_middleware(GZipMiddleware, minimum_size = 10)  # keep me" + tail
    root = new_project(tmp_path, {})
    (root / "app.py").write_bytes(before.encode("utf-8"))
    report = fix(root)
    assert report.counts == Counter({"AXS105": 1})
    assert (root / "app.py").read_bytes() == after.encode("utf-8")


def test_the_result_parses_and_compiles(tmp_path):
    root = new_project(tmp_path, {"mw.py": MIDDLEWARE, "deps.py": dependency("except Exception:\n    pass")})
    report = fix(root)
    assert report.counts == Counter({"AXS105": 1, "AXS302": 1})
    for name in ("mw.py", "deps.py"):
        parses((root / name).read_bytes())


@pytest.mark.slow
def test_a_second_fix_changes_nothing(tmp_path):
    root = new_project(
        tmp_path,
        {
            "mw.py": MIDDLEWARE,
            "deps.py": dependency("except Exception as exc:\n    if exc.args:\n        return\n    print(exc)"),
        },
    )
    first = run_cli("--fix", "--unsafe-fixes", ".", cwd=root)
    assert first.returncode == 0, first.stderr
    assert "fixed 2 findings in 2 files (AXS105: 1, AXS302: 1)" in first.stderr
    snapshot = {p.name: p.read_bytes() for p in root.glob("*.py")}
    second = run_cli("--fix", "--unsafe-fixes", ".", cwd=root)
    assert second.returncode == 0 and "fixed" not in second.stderr
    assert {p.name: p.read_bytes() for p in root.glob("*.py")} == snapshot
    assert run_cli("--diff", "--unsafe-fixes", ".", cwd=root).stdout == ""


def test_fixed_findings_are_gone_and_no_new_ones(tmp_path):
    root = new_project(
        tmp_path,
        {
            "mw.py": MIDDLEWARE + "app.add_middleware(Middleware(GZipMiddleware))  # noqa: AXS105\n",
            "deps.py": dependency("except:\n    return None"),
        },
    )
    before = findings(root).findings
    assert sorted(f.code for f in before) == ["AXS105", "AXS301"]  # the noqa'ed one is not reported
    report = fix(root)
    after = report.result.findings
    assert after == []  # all fixed, nothing new
    assert findings(root).findings == []
    assert "app.add_middleware(Middleware(GZipMiddleware))  # noqa: AXS105" in (root / "mw.py").read_text()


def test_a_suppressed_finding_is_never_fixed(tmp_path):
    line = "app.add_middleware(Middleware(GZipMiddleware))"
    root = new_project(
        tmp_path,
        {
            "noqa.py": MIDDLEWARE + line + "  # noqa: AXS105\n",
            "ignored/app.py": MIDDLEWARE,
            "other.py": MIDDLEWARE,
        },
    )
    snapshot = {p: p.read_bytes() for p in root.rglob("*.py")}
    report = fix(root, **{"per_file_ignores": [("ignored/*", ["AXS105"])], "ignore": None})
    assert (root / "noqa.py").read_text().splitlines()[-2:] == ["app.add_middleware(GZipMiddleware, minimum_size=10)", line + "  # noqa: AXS105"]
    assert (root / "ignored" / "app.py").read_bytes() == snapshot[root / "ignored" / "app.py"]
    assert report.counts == Counter({"AXS105": 2})
    # a rule that is not selected is not fixed either
    (root / "other.py").write_bytes(snapshot[root / "other.py"])
    fix(root, "other.py", ignore=["AXS105"])
    assert (root / "other.py").read_bytes() == snapshot[root / "other.py"]
    # nor with --disable-noqa unless asked: the noqa'ed line is fixed only when noqa is disabled
    fix(root, "noqa.py", disable_noqa=True)
    assert line not in (root / "noqa.py").read_text()


def test_files_are_written_atomically_and_keep_their_mode(tmp_path, monkeypatch):
    root = new_project(tmp_path, {"pkg/app.py": MIDDLEWARE})
    target = root / "pkg" / "app.py"
    os.chmod(target, 0o750)
    inode = target.stat().st_ino
    calls = []
    real_replace = fixes_mod.os.replace

    def replace(src, dst):
        calls.append((src, dst, Path(src).read_bytes(), target.read_bytes(), stat.S_IMODE(os.stat(src).st_mode)))
        return real_replace(src, dst)

    monkeypatch.setattr(fixes_mod.os, "replace", replace)
    original = target.read_bytes()
    fix(root)
    assert len(calls) == 1
    src, dst, tmp_content, content_before_rename, tmp_mode = calls[0]
    assert os.path.dirname(src) == str(target.parent)  # same directory: the rename is atomic
    assert os.path.basename(src).startswith(".app.py.") and src.endswith(".astack-lint-tmp")
    assert dst == str(target)
    assert content_before_rename == original  # the file itself was never half-written
    assert tmp_content == target.read_bytes() != original
    assert tmp_mode == 0o750  # the mode is given before the rename
    assert stat.S_IMODE(target.stat().st_mode) == 0o750
    assert target.stat().st_ino != inode  # a new file renamed into place
    assert not [p for p in target.parent.iterdir() if p.name != "app.py"]  # no temporary file left


def test_a_symlink_is_fixed_once_under_its_target_and_stays_a_link(tmp_path):
    root = new_project(tmp_path, {"real/app.py": MIDDLEWARE})
    (root / "link.py").symlink_to(root / "real" / "app.py")
    report = fix(root)
    assert report.counts == Counter({"AXS105": 1}) and not report.result.errors
    assert (root / "link.py").is_symlink()
    assert "add_middleware(GZipMiddleware" in (root / "real" / "app.py").read_text()


@pytest.mark.slow
def test_a_file_with_a_syntax_error_is_never_written(tmp_path):
    root = new_project(tmp_path, {"mw.py": MIDDLEWARE, "broken.py": MIDDLEWARE + "def oops(:\n"})
    broken = (root / "broken.py").read_bytes()
    proc = run_cli("--fix", ".", cwd=root)
    assert proc.returncode == 2  # the broken file is an error, reported
    assert "broken.py:7" in proc.stderr and "syntax error" in proc.stderr
    assert (root / "broken.py").read_bytes() == broken
    assert "add_middleware(GZipMiddleware" in (root / "mw.py").read_text()  # the other file is fixed


def test_a_fix_that_would_break_the_file_is_refused(tmp_path, monkeypatch):
    root = new_project(tmp_path, {"mw.py": MIDDLEWARE})
    original = (root / "mw.py").read_bytes()
    real = fixes_mod.apply_fixes

    def broken(text, fs):
        new, applied = real(text, fs)
        return new.replace("add_middleware(GZipMiddleware", "add_middleware((GZipMiddleware"), applied

    monkeypatch.setattr(fixes_mod, "apply_fixes", broken)
    report = fix(root)
    assert (root / "mw.py").read_bytes() == original
    assert report.counts == Counter() and not report.texts
    assert [e.message.split(":")[0] for e in report.result.errors] == ["fixes not applied, the file was left untouched"]
    assert "would not compile" in report.result.errors[0].message
    assert [f.code for f in report.result.findings] == ["AXS105"]  # still reported


def test_a_file_changed_meanwhile_is_not_overwritten(tmp_path, monkeypatch):
    root = new_project(tmp_path, {"mw.py": MIDDLEWARE})
    real = fixes_mod.write_fixed

    def edit_first(path, raw, expected):
        Path(path).write_text(MIDDLEWARE + "# edited by someone else\n")
        return real(path, raw, expected)

    monkeypatch.setattr(fixes_mod, "write_fixed", edit_first)
    report = fix(root)
    assert (root / "mw.py").read_text().endswith("# edited by someone else\n")
    assert "changed on disk" in report.result.errors[0].message


def test_crlf_line_endings_are_kept(tmp_path):
    root = new_project(
        tmp_path,
        {"deps.py": dependency("except Exception:\n    print('x')"), "mw.py": MIDDLEWARE},
        newline="\r\n",
    )
    fix(root)
    for name in ("deps.py", "mw.py"):
        raw = (root / name).read_bytes()
        assert raw.count(b"\n") == raw.count(b"\r\n") > 5, name
    assert b"        print('x')\r\n        raise\r\n" in (root / "deps.py").read_bytes()
    parses((root / "deps.py").read_bytes())


def test_a_latin1_coding_cookie_and_a_bom_are_kept(tmp_path):
    latin = "# -*- coding: latin-1 -*-\n# caf\xe9\n" + MIDDLEWARE + "label = 'd\xe9j\xe0 vu'\n"
    root = new_project(tmp_path, {})
    (root / "latin.py").write_bytes(latin.encode("latin-1"))
    (root / "bom.py").write_bytes(b"\xef\xbb\xbf" + ("# \u2713\n" + MIDDLEWARE).encode("utf-8"))
    report = fix(root)
    assert report.counts == Counter({"AXS105": 2})
    raw = (root / "latin.py").read_bytes()
    assert raw == latin.replace("Middleware(GZipMiddleware, minimum_size=10)", "GZipMiddleware, minimum_size=10").encode("latin-1")
    assert b"caf\xe9" in raw and b"d\xe9j\xe0" in raw
    bom = (root / "bom.py").read_bytes()
    assert bom.startswith(b"\xef\xbb\xbf# \xe2\x9c\x93\n") and b"add_middleware(GZipMiddleware, minimum_size=10)" in bom


@pytest.mark.slow
def test_diff_writes_nothing_and_exits_1(tmp_path):
    root = new_project(tmp_path, {"mw.py": MIDDLEWARE, "deps.py": dependency("except Exception:\n    pass")})
    snapshot = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in root.rglob("*")}
    proc = run_cli("--diff", ".", cwd=root)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == (
        "--- a/mw.py\n"
        "+++ b/mw.py\n"
        "@@ -3,4 +3,4 @@\n"
        " from starlette.middleware.gzip import GZipMiddleware\n"
        " \n"
        " app = FastAPI()\n"
        "-app.add_middleware(Middleware(GZipMiddleware, minimum_size=10))\n"
        "+app.add_middleware(GZipMiddleware, minimum_size=10)\n"
    )
    assert "would fix 1 finding in 1 file (AXS105: 1)" in proc.stderr
    unsafe = run_cli("--diff", "--unsafe-fixes", "deps.py", cwd=root)
    assert unsafe.returncode == 1 and "+        raise\n" in unsafe.stdout and "-        pass\n" in unsafe.stdout
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in root.rglob("*")} == snapshot
    (tmp_path / "clean").mkdir()
    clean = new_project(tmp_path / "clean", {"app.py": "x = 1\n"})
    nothing = run_cli("--diff", ".", cwd=clean)
    assert nothing.returncode == 0 and nothing.stdout == ""


@pytest.mark.slow
def test_safe_fixes_only_without_unsafe_fixes(tmp_path):
    root = new_project(tmp_path, {"mw.py": MIDDLEWARE, "deps.py": dependency("except Exception:\n    pass")})
    proc = run_cli("--fix", ".", cwd=root)
    assert proc.returncode == 1  # the AXS302 finding remains
    assert "fixed 1 finding in 1 file (AXS105: 1)" in proc.stderr
    assert "AXS302" in proc.stdout and "AXS105" not in proc.stdout
    assert "(1 more with --fix --unsafe-fixes)" in proc.stderr
    assert "pass" in (root / "deps.py").read_text()


@pytest.mark.slow
def test_fix_options_are_command_line_only(tmp_path):
    root = new_project(tmp_path, {"mw.py": MIDDLEWARE})
    alone = run_cli("--unsafe-fixes", ".", cwd=root)
    assert alone.returncode == 2 and "--unsafe-fixes only applies with --fix or --diff" in alone.stderr
    (root / "pyproject.toml").write_text('[project]\nname = "demo"\n\n[tool.astack-lint]\nfix = true\n')
    conf = run_cli(".", cwd=root)
    assert conf.returncode == 2 and "'fix' can only be given on the command line" in conf.stderr
    assert "Middleware(GZipMiddleware" in (root / "mw.py").read_text()


def test_flake8_never_fixes():
    from astack_lint.config.options import CLI_ONLY, OPTIONS

    assert {o.name for o in OPTIONS if o.plugin} & set(CLI_ONLY) == set()


# ---------------------------------------------------------------------------------------------
# the fixes, on cases beyond the guarantees above


def fixed_text(tmp_path: Path, text: str, name: str = "app.py", **kw) -> str:
    root = new_project(tmp_path, {name: text}, **kw)
    fix(root)
    return (root / name).read_text()


def test_axs105_multi_line_call_with_comments(tmp_path):
    text = MIDDLEWARE.replace(
        "app.add_middleware(Middleware(GZipMiddleware, minimum_size=10))\n",
        """\
app.add_middleware(
    # why gzip
    Middleware(  # the wrapper
        GZipMiddleware,  # the class
        # the size
        minimum_size=10,
        compresslevel=5  # fast
    ),  # end
)
app.add_middleware(Middleware(
    GZipMiddleware,
    minimum_size=10,
))
""",
    )
    assert fixed_text(tmp_path, text).split("app = FastAPI()\n")[1] == """\
app.add_middleware(
    # why gzip
      # the wrapper
        GZipMiddleware,  # the class
        # the size
        minimum_size=10,
        compresslevel=5  # fast,  # end
)
app.add_middleware(
    GZipMiddleware,
    minimum_size=10,)
"""


def test_axs105_keyword_and_no_fix_cases(tmp_path):
    text = MIDDLEWARE + (
        "app.add_middleware(middleware_class=Middleware(GZipMiddleware, minimum_size=10))\n"
        "app.add_middleware(middleware_class=Middleware(GZipMiddleware, 10))\n"
        "gz = Middleware(GZipMiddleware)\n"
        "app.add_middleware(gz)\n"
        "app.add_middleware(Middleware(cls=GZipMiddleware))\n"
    )
    out = fixed_text(tmp_path, text)
    assert out.splitlines()[5:] == [
        "app.add_middleware(GZipMiddleware, minimum_size=10)",
        "app.add_middleware(middleware_class=GZipMiddleware, minimum_size=10)",
        "app.add_middleware(middleware_class=Middleware(GZipMiddleware, 10))",
        "gz = Middleware(GZipMiddleware)",
        "app.add_middleware(gz)",
        "app.add_middleware(Middleware(cls=GZipMiddleware))",
    ]


STACK = """\
from fastapi import FastAPI
from fastapi.middleware.asyncexitstack import AsyncExitStackMiddleware
from starlette.middleware import Middleware

app = FastAPI()
"""


def test_axs101_drops_context_name_keeping_the_rest(tmp_path):
    text = STACK + (
        'app.add_middleware(AsyncExitStackMiddleware, context_name="one")\n'
        'app.add_middleware(AsyncExitStackMiddleware, "two")\n'
        'app.add_middleware(context_name="three", middleware_class=AsyncExitStackMiddleware)\n'
        "app.add_middleware(\n"
        "    AsyncExitStackMiddleware,  # the class\n"
        "    # before the name\n"
        '    context_name="four",  # goes with its line\n'
        "    # after the name\n"
        ")\n"
        "app.add_middleware(\n"
        "    AsyncExitStackMiddleware,\n"
        '    context_name="five"\n'
        ")\n"
        'app.add_middleware(AsyncExitStackMiddleware, context_name="six",)\n'
        'wrapped = AsyncExitStackMiddleware(app, "seven")\n'
        'other = FastAPI(middleware=[Middleware(AsyncExitStackMiddleware, context_name="eight")])\n'
    )
    out = fixed_text(tmp_path, text)
    assert out[len(STACK):] == (
        "app.add_middleware(AsyncExitStackMiddleware)\n"
        "app.add_middleware(AsyncExitStackMiddleware)\n"
        "app.add_middleware(middleware_class=AsyncExitStackMiddleware)\n"
        "app.add_middleware(\n"
        "    AsyncExitStackMiddleware,  # the class\n"
        "    # before the name\n"
        "    # after the name\n"
        ")\n"
        "app.add_middleware(\n"
        "    AsyncExitStackMiddleware,\n"
        ")\n"
        "app.add_middleware(AsyncExitStackMiddleware,)\n"
        "wrapped = AsyncExitStackMiddleware(app)\n"
        "other = FastAPI(middleware=[Middleware(AsyncExitStackMiddleware)])\n"
    )


@pytest.mark.parametrize(
    "reader",
    [
        'def read(scope):\n    return scope["my_stack"]\n',
        'def read(scope):\n    return scope.get("my_stack")\n',
        'def read(scope):\n    return "my_stack" in scope\n',
        'KEY = "my_stack"\n',
        'def read(request):\n    return request.scope[f"my_stack"]\n',
    ],
    ids=["subscript", "get", "in", "constant", "f-string"],
)
def test_axs101_no_fix_when_the_project_may_read_the_key(tmp_path, reader):
    root = new_project(
        tmp_path,
        {"app.py": STACK + 'app.add_middleware(AsyncExitStackMiddleware, context_name="my_stack")\n', "util/reader.py": reader},
    )
    result = findings(root)
    assert [(f.code, f.fix) for f in result.findings if f.code != "AXS102"] == [("AXS101", None)]
    fix(root)
    assert 'context_name="my_stack"' in (root / "app.py").read_text()


def test_axs101_no_fix_for_a_name(tmp_path):
    root = new_project(tmp_path, {"app.py": STACK + 'NAME = "s"\napp.add_middleware(AsyncExitStackMiddleware, context_name=NAME)\n'})
    assert [(f.code, f.fix) for f in findings(root).findings if f.code != "AXS102"] == [("AXS101", None)]


def test_axs101_and_axs105_on_one_call_meet_in_two_passes(tmp_path):
    text = STACK + 'app.add_middleware(Middleware(AsyncExitStackMiddleware, context_name="x"))\n'
    root = new_project(tmp_path, {"app.py": text})
    assert sorted(f.code for f in findings(root).findings) == ["AXS101", "AXS102", "AXS105"]
    report = fix(root)
    assert report.counts == Counter({"AXS101": 1, "AXS105": 1})
    assert (root / "app.py").read_text().endswith("\napp.add_middleware(AsyncExitStackMiddleware)\n")
    assert [f.code for f in findings(root).findings] == ["AXS102"]  # the import: no fix


@pytest.mark.parametrize(
    "handler, fixed",
    [
        ("except Exception:\n    return", "except Exception:\n    raise"),
        ("except Exception:\n    log()\n    return None", "except Exception:\n    log()\n    raise"),
        ("except Exception:\n    return cleanup()", "except Exception:\n    cleanup(); raise"),
        (
            "except Exception as e:\n    if e.args:\n        return\n    log()",
            "except Exception as e:\n    if e.args:\n        raise\n    log()\n    raise",
        ),
        ("except Exception: pass", "except Exception: raise"),
        ("except Exception: log()", "except Exception: log(); raise"),
        ("except Exception: return", "except Exception: raise"),
        (
            "except Exception:\n    if flag:\n        log()\n        # about log\n    # about the end",
            "except Exception:\n    if flag:\n        log()\n        # about log\n    raise\n    # about the end",
        ),
        ("except Exception:\n    log()\n    pass", "except Exception:\n    log()\n    raise"),
        (
            "except Exception:\n    for x in []:\n        return\nfinally:\n    log()",
            "except Exception:\n    for x in []:\n        raise\n    raise\nfinally:\n    log()",
        ),
    ],
    ids=["return", "return-none", "return-value", "return-in-if", "pass-one-line", "one-line", "return-one-line",
         "comments", "trailing-pass", "loop-and-finally"],
)
def test_axs302_handlers(tmp_path, handler, fixed):
    text = "def log(): ...\ndef cleanup(): ...\nflag = True\n" + dependency(handler)
    out = fixed_text(tmp_path, text)
    assert out == text.replace(textwrap.indent(handler, "    "), textwrap.indent(fixed, "    "))
    parses(out.encode())


def test_axs302_nested_try_blocks(tmp_path):
    text = HEADER + textwrap.dedent(
        """\
        def log(): ...


        def get_db():
            try:
                try:
                    yield 1
                except ValueError:
                    pass
            except Exception:
                try:
                    log()
                except OSError:
                    log()


        @app.get('/')
        def index(db=Depends(get_db)):
            return {}
        """
    )
    root = new_project(tmp_path, {"app.py": text})
    assert [(line, c) for _p, line, c in codes(root)] == [(12, "AXS302"), (14, "AXS302")]
    fix(root)
    out = (root / "app.py").read_text()
    assert out == text.replace("ValueError:\n            pass\n", "ValueError:\n            raise\n").replace(
        "        except OSError:\n            log()\n", "        except OSError:\n            log()\n        raise\n"
    )
    assert codes(root) == []  # the inner re-raise reaches the outer handler, which re-raises too


def test_axs302_return_in_a_nested_handler_is_not_fixed(tmp_path):
    handler = "except Exception:\n    try:\n        log()\n    except OSError:\n        return"
    root = new_project(tmp_path, {"app.py": "def log(): ...\n" + dependency(handler)})
    [f] = findings(root).findings
    assert f.code == "AXS302" and f.fix is None


def test_axs302_handler_leaving_a_loop_is_not_fixed(tmp_path):
    text = HEADER + (
        "def get_db():\n"
        "    for _ in range(3):\n"
        "        try:\n"
        "            yield 1\n"
        "        except Exception:\n"
        "            continue\n"
        "        break\n"
        "\n\n@app.get('/')\ndef index(db=Depends(get_db)):\n    return {}\n"
    )
    root = new_project(tmp_path, {"app.py": text})
    fs = [f for f in findings(root).findings if f.code == "AXS302"]
    assert fs and all(f.fix is None for f in fs)


def test_axs301_tabs_crlf_and_methods(tmp_path):
    text = (
        "from fastapi import Depends, FastAPI\r\n\r\napp = FastAPI()\r\n\r\n\r\n"
        "class Checker:\r\n"
        "\tdef __call__(self):\r\n"
        "\t\ttry:\r\n"
        "\t\t\tyield True\r\n"
        "\t\texcept:\r\n"
        "\t\t\tprint('swallowed')\r\n"
        "\r\n\r\n"
        "@app.get('/')\r\n"
        "def index(ok=Depends(Checker())):\r\n"
        "\treturn {}"  # no line ending at the end of the file
    )
    root = new_project(tmp_path, {})
    (root / "app.py").write_bytes(text.encode())
    assert [c for _p, _l, c in codes(root)] == ["AXS301"]
    fix(root)
    raw = (root / "app.py").read_bytes()
    assert raw == text.replace("\t\t\tprint('swallowed')\r\n", "\t\t\tprint('swallowed')\r\n\t\t\traise\r\n").encode()
    assert codes(root) == []


def test_axs301_handler_at_the_end_of_the_file(tmp_path):
    text = (
        "from fastapi import Depends, FastAPI\n\napp = FastAPI()\n\n\n"
        "@app.get('/')\ndef index(ok=Depends(lambda: None)):\n    return {}\n\n\n"
        "def get_db():\n    try:\n        yield 1\n    except:\n        print('x')"
    )
    text = text.replace("Depends(lambda: None)", "Depends(get_db)")
    root = new_project(tmp_path, {})
    (root / "app.py").write_bytes(text.encode())
    fix(root)
    assert (root / "app.py").read_text() == text + "\n        raise"


# ---------------------------------------------------------------------------------------------
# the fixtures, and the fixed apps against real FastAPI


@pytest.fixture(scope="module")
def fixed_fixtures(tmp_path_factory):
    """A copy of fixtures/ as its own project: lint, fix everything, lint again."""
    root = tmp_path_factory.mktemp("fixtures-copy")
    shutil.copytree(FIXTURES, root / "fixtures")
    (root / "pyproject.toml").write_text('[project]\nname = "fixtures-copy"\n')
    before = findings(root).findings
    proc = run_cli("--fix", "--unsafe-fixes", ".", cwd=root)
    after = findings(root).findings
    return root, before, proc, after


@pytest.mark.slow
def test_fixtures_fixed_then_only_findings_without_a_fix_remain(fixed_fixtures):
    root, before, proc, after = fixed_fixtures
    assert proc.returncode == 1, proc.stderr  # findings without a fix remain
    assert {f.code for f in before if f.fix} >= {"AXS101", "AXS105", "AXS301", "AXS302"}
    assert after and all(f.fix is None for f in after)

    def key(f):
        return (os.path.relpath(f.path, root), f.code, f.message)

    # the findings that had a fix are gone and none is new: only findings that had no fix are left
    unfixable = Counter(key(f) for f in before if f.fix is None)
    left = Counter(key(f) for f in after)
    assert not left - unfixable
    # and one more is gone: AXS103's app with Middleware(AsyncExitStackMiddleware, context_name=...)
    # got its stack back when the AXS101 fix dropped the name
    gone = unfixable - left
    assert [(p, code) for (p, code, _m) in gone] == [("fixtures/AXS103/positive.py", "AXS103")]
    for p in root.rglob("*.py"):
        parses(p.read_bytes(), str(p), full=compiles((FIXTURES / p.relative_to(root / "fixtures")).read_bytes()))
    again = run_cli("--fix", "--unsafe-fixes", ".", cwd=root)
    assert "fixed" not in again.stderr and again.stdout == proc.stdout


@pytest.mark.slow
def test_fixed_axs105_fixture_apps_serve_requests(fixed_fixtures):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    root, _before, _proc, after = fixed_fixtures
    mod = load(root / "fixtures" / "AXS105", "positive")
    # the Starlette app registered through a multi-line add_middleware(Middleware(...)) call
    with TestClient(mod.star) as client:  # the original fails here: 'Middleware' object is not callable
        r = client.get("/", headers={"origin": "https://example.com"})
    assert r.status_code == 404 and r.headers["access-control-allow-origin"] == "*"  # CORS really runs
    # the app configured by setup(): add_middleware(middleware_class=Middleware(GZipMiddleware))
    app = FastAPI()
    mod.setup(app)
    app.get("/")(lambda: {"text": "x" * 1000})
    with TestClient(app) as client:
        r = client.get("/", headers={"accept-encoding": "gzip"})
    assert r.status_code == 200 and r.headers["content-encoding"] == "gzip"
    # `app` also gets add_middleware(gzip), a name bound to a Middleware: no fix, still reported, still broken
    assert [f.line for f in after if f.code == "AXS105"] == [15]
    with pytest.raises(TypeError, match="'Middleware' object is not callable"):
        with TestClient(mod.app):
            pass


def test_original_axs105_fixture_app_fails():
    from fastapi.testclient import TestClient

    mod = load(FIXTURES / "AXS105", "positive")
    with pytest.raises(TypeError, match="'Middleware' object is not callable"):
        with TestClient(mod.app):
            pass


def _axs301_probe(module):
    """Serve the fixture's dependencies in an app whose endpoint raises HTTPException(404)."""
    from fastapi import Depends, FastAPI, HTTPException
    from fastapi.testclient import TestClient

    app = FastAPI()
    deps = [module.get_db, module.get_client, module.get_token, module.get_audit, module.Checker()]
    statuses = []
    for i, dep in enumerate(deps):

        def endpoint(value=Depends(dep)):
            raise HTTPException(status_code=404, detail="not here")

        app.add_api_route(f"/{i}", endpoint)
    with TestClient(app, raise_server_exceptions=False) as client:
        for i in range(len(deps)):
            statuses.append(client.get(f"/{i}").status_code)
    return statuses


@pytest.mark.slow
def test_fixed_axs301_fixture_dependencies_let_the_404_through(fixed_fixtures):
    root, _before, _proc, _after = fixed_fixtures
    assert _axs301_probe(load(FIXTURES / "AXS301", "positive")) == [500] * 5  # swallowed: 404 -> 500
    assert _axs301_probe(load(root / "fixtures" / "AXS301", "positive")) == [404] * 5


@pytest.mark.slow
def test_fixed_axs301_proof_app_passes_the_proof(tmp_path):
    """The proof's own swallowing app, fixed by --fix --unsafe-fixes, is exactly the fix the proof
    suggests; and that passes the proof (the 404 gets through, the original error propagates)."""
    from .proofs import test_axs301 as proof

    (tmp_path / "fixed").mkdir()
    root = new_project(tmp_path / "fixed", {"bad.py": proof.BAD})
    proc = run_cli("--fix", "--unsafe-fixes", "bad.py", cwd=root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (root / "bad.py").read_text() == textwrap.dedent(proof.FIX).lstrip("\n")
    (tmp_path / "proof").mkdir()
    proof.test_reraise_fix_keeps_the_404_and_is_not_flagged(tmp_path / "proof")


def test_apply_fixes_takes_the_first_of_overlapping_fixes():
    from astack_lint.results import Edit, Finding, Fix

    def finding(code, *edits):
        return Finding(code, "m", "x.py", 1, 0, fix=Fix(tuple(edits), "safe"))

    a = finding("AXS001", Edit((1, 0), (1, 3), "A"))
    b = finding("AXS002", Edit((1, 2), (1, 5), "B"))  # overlaps a: waits for the next pass
    c = finding("AXS003", Edit((1, 6), (1, 6), "C"))
    d = finding("AXS004", Edit((1, 6), (1, 7), "D"))  # starts where c does: order would be arbitrary
    text, applied = fixes_mod.apply_fixes("abcdefgh", [b, d, c, a])
    assert text == "AdefCgh" and [f.code for f in applied] == ["AXS001", "AXS003"]
    # a fix whose edits are outside the text is dropped, not applied in part
    e = finding("AXS005", Edit((1, 0), (1, 1), "E"), Edit((3, 0), (3, 1), "E"))
    assert fixes_mod.apply_fixes("abc", [e]) == ("abc", [])


def test_unified_diff_marks_a_missing_final_newline():
    out = fixes_mod.unified_diff("a\nb", "a\nc", "x.py")
    assert out.endswith("-b\n\\ No newline at end of file\n+c\n\\ No newline at end of file\n")


@pytest.mark.slow
def test_pre_commit_fix_hook(tmp_path):
    """The second hook runs --fix on the files pre-commit hands over (the manifest is valid)."""
    import shlex
    import subprocess
    import sys

    import yaml

    from .conftest import REPO

    manifest = REPO / ".pre-commit-hooks.yaml"
    hooks = {h["id"]: h for h in yaml.safe_load(manifest.read_text())}
    assert hooks["astack-lint"]["entry"] == "astack-lint"
    assert hooks["astack-lint-fix"]["entry"] == "astack-lint --fix"
    assert hooks["astack-lint-fix"]["types"] == ["python"] and hooks["astack-lint-fix"]["require_serial"]
    check = subprocess.run(
        [sys.executable, "-m", "pre_commit", "validate-manifest", str(manifest)], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    root = new_project(tmp_path, {"mw.py": MIDDLEWARE, "other.py": MIDDLEWARE})
    entry = shlex.split(hooks["astack-lint-fix"]["entry"])
    proc = run_cli(*entry[1:], "mw.py", cwd=root)  # pre-commit appends the staged file names
    assert proc.returncode == 0, proc.stderr
    assert "add_middleware(GZipMiddleware" in (root / "mw.py").read_text()
    assert "Middleware(GZipMiddleware" in (root / "other.py").read_text()  # not handed over: untouched


# ---------------------------------------------------------------------------------------------
# the --fix safety policy (README "Security and safety")

FIXED = "add_middleware(GZipMiddleware, minimum_size=10)"


def _fix_cli(root: Path, *args: str):
    return run_cli("--no-cache", "--fix", *(args or (".",)), cwd=root)


def test_fix_never_writes_through_a_file_symlink_leading_outside(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.py").write_text(MIDDLEWARE)
    root = tmp_path / "proj"
    root.mkdir()
    new_project(root, {})
    (root / "app.py").symlink_to("../outside/victim.py")
    proc = _fix_cli(root)
    assert proc.returncode == 2, proc.stderr
    assert "app.py: error: not fixed: symlink (to " in proc.stderr and "outside the paths given" in proc.stderr
    assert "AXS105" in proc.stdout  # still reported
    assert (outside / "victim.py").read_text() == MIDDLEWARE
    # named on the command line, it is still a link whose target was not selected
    named = _fix_cli(root, "app.py")
    assert named.returncode == 2 and "not fixed: symlink" in named.stderr
    assert (outside / "victim.py").read_text() == MIDDLEWARE


def test_fix_does_not_walk_a_directory_symlink_into_other_projects(tmp_path):
    (tmp_path / "victim").mkdir()
    victim = new_project(tmp_path / "victim", {"app.py": MIDDLEWARE})
    repo = tmp_path / "repo"
    repo.mkdir()
    new_project(repo, {"main.py": "from fastapi import FastAPI\napp = FastAPI()\n"})
    (repo / "up").symlink_to("..")
    proc = _fix_cli(repo)
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    assert (victim / "app.py").read_text() == MIDDLEWARE
    # followed on request, the files behind the link are linted but never written
    followed = _fix_cli(repo, "--follow-symlinks", ".")
    assert "not fixed: symlink" in followed.stderr, followed.stderr
    assert (victim / "app.py").read_text() == MIDDLEWARE


def test_fix_never_writes_a_read_only_file(tmp_path):
    root = new_project(tmp_path, {"app.py": MIDDLEWARE, "other.py": MIDDLEWARE})
    os.chmod(root / "app.py", 0o444)
    report = fix(root)
    assert (root / "app.py").read_text() == MIDDLEWARE
    assert FIXED in (root / "other.py").read_text()
    assert [(os.path.basename(e.path), e.message) for e in report.result.errors] == [("app.py", "not fixed: read-only file")]
    assert stat.S_IMODE((root / "app.py").stat().st_mode) == 0o444


def test_fix_keeps_hard_links_owner_group_and_xattrs(tmp_path):
    root = new_project(tmp_path, {"app.py": MIDDLEWARE, "xa.py": MIDDLEWARE})
    os.link(root / "app.py", root / "other-name.txt")
    has_xattr = hasattr(os, "setxattr")
    if has_xattr:
        try:
            os.setxattr(root / "xa.py", "user.note", b"keep")
        except OSError:
            has_xattr = False
    before = (root / "xa.py").stat()
    fix(root)
    a, b = (root / "app.py").stat(), (root / "other-name.txt").stat()
    assert a.st_ino == b.st_ino and a.st_nlink == 2  # the link is kept: written in place
    assert FIXED in (root / "other-name.txt").read_text()
    after = (root / "xa.py").stat()
    assert FIXED in (root / "xa.py").read_text()
    assert (after.st_uid, after.st_gid) == (before.st_uid, before.st_gid)
    if has_xattr:
        assert os.getxattr(root / "xa.py", "user.note") == b"keep"


def test_fix_refuses_when_the_owner_cannot_be_kept(tmp_path, monkeypatch):
    root = new_project(tmp_path, {"app.py": MIDDLEWARE})
    st = (root / "app.py").stat()
    real_fstat = os.fstat

    def fstat(fd):  # the temporary file comes out owned by someone else (another user fixing)
        r = real_fstat(fd)
        return os.stat_result((r.st_mode, r.st_ino, r.st_dev, r.st_nlink, st.st_uid + 1, r.st_gid, r.st_size,
                               int(r.st_atime), int(r.st_mtime), int(r.st_ctime)))

    def fchown(fd, uid, gid):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(fixes_mod.os, "fstat", fstat)
    monkeypatch.setattr(fixes_mod.os, "fchown", fchown)
    report = fix(root)
    assert (root / "app.py").read_text() == MIDDLEWARE
    assert "not fixed: its owner and group" in report.result.errors[0].message
    assert sorted(p.name for p in root.iterdir()) == ["app.py", "pyproject.toml"]  # no temporary file left


def test_an_edit_saved_while_the_fixed_file_is_written_is_never_lost(tmp_path, monkeypatch):
    """The window between the first comparison and the rename (the temporary file is written and
    fsynced meanwhile): an editor saving then keeps its edit, and --fix leaves the file alone."""
    root = new_project(tmp_path, {"app.py": MIDDLEWARE})
    real_fsync = fixes_mod.os.fsync
    saved = []

    def fsync(fd):
        if not saved and os.readlink(f"/proc/self/fd/{fd}").endswith(".astack-lint-tmp"):
            with open(root / "app.py", "a") as fh:
                fh.write("IMPORTANT = 'the user typed this'\n")
            saved.append(True)
        return real_fsync(fd)

    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs /proc")
    monkeypatch.setattr(fixes_mod.os, "fsync", fsync)
    report = fix(root)
    assert saved
    assert "IMPORTANT" in (root / "app.py").read_text()
    assert "changed on disk" in report.result.errors[0].message
    assert not [p for p in root.iterdir() if p.name.endswith(".astack-lint-tmp")]


def test_a_stale_temporary_file_is_removed_by_the_next_fix(tmp_path):
    import subprocess
    import sys

    root = new_project(tmp_path, {"app.py": MIDDLEWARE})
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = root / f".app.py.{dead.pid}.abcd1234.astack-lint-tmp"
    stale.write_text("half a file")
    old = root / ".app.py.x1y2z3w4.astack-lint-tmp"  # an earlier version's name, an hour old
    old.write_text("half a file")
    os.utime(old, (1, 1))
    live = root / f".app.py.{os.getpid()}.abcd1234.astack-lint-tmp"  # a run writing right now
    live.write_text("being written")
    fix(root)
    assert not stale.exists() and not old.exists() and live.exists()
    assert FIXED in (root / "app.py").read_text()


def test_a_fix_terminated_while_writing_leaves_no_temporary_file(tmp_path, monkeypatch):
    import signal
    import threading

    from astack_lint.cli import lint as cli_lint

    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGTERM"):
        pytest.skip("needs the main thread and SIGTERM")
    root = new_project(tmp_path, {"app.py": MIDDLEWARE})
    real_fsync = fixes_mod.os.fsync

    def fsync(fd):
        os.kill(os.getpid(), signal.SIGTERM)  # `kill PID` while the fixed file is being written
        return real_fsync(fd)

    monkeypatch.setattr(fixes_mod.os, "fsync", fsync)
    with pytest.raises(SystemExit) as exc:
        cli_lint.main(["--no-cache", "--fix", str(root)])
    assert exc.value.code == 128 + signal.SIGTERM
    assert sorted(p.name for p in root.iterdir()) == ["app.py", "pyproject.toml"]
    assert (root / "app.py").read_text() == MIDDLEWARE
    assert signal.getsignal(signal.SIGTERM) is not cli_lint._terminated  # restored
