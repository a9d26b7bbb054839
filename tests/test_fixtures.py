"""Every fixture, through all three entry points: the library, the CLI, and real flake8."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from astack_lint.api import Settings, lint_paths
from astack_lint.config.files import load_settings
from astack_lint.rules.registry import all_rules

from .conftest import FIXTURES, NEWER_FIXTURES, REPO, expectations, parse_output, run_cli, run_flake8


def repo_settings(values=None):
    """The settings the CLI uses in this repository (its pyproject.toml leaves tests/ out)."""
    return load_settings(dict(values or {}), cwd=str(REPO))


def _keys(rows):
    return {(Path(p).resolve().relative_to(REPO).as_posix(), line, code) for p, line, *_, code in rows}


def test_every_rule_has_fixtures():
    expected_codes = {code for _, _, code in expectations()}
    for rule in all_rules():
        assert (FIXTURES / rule.code).is_dir(), f"no fixtures/{rule.code}/"
        assert rule.code in expected_codes, f"no positive fixture for {rule.code}"
        negatives = [p for p in (FIXTURES / rule.code).rglob("*.py") if "negative" in p.name]
        assert negatives, f"no negative fixture for {rule.code}"


def test_library_matches_expectations():
    result = lint_paths([str(FIXTURES)], repo_settings())
    assert not result.errors
    got = {(Path(f.path).relative_to(REPO).as_posix(), f.line, f.code) for f in result.findings}
    assert got == expectations()


@pytest.mark.slow
def test_cli_matches_expectations():
    proc = run_cli("fixtures")
    assert proc.returncode == 1, proc.stderr
    rows = parse_output(proc.stdout, REPO)
    assert {(Path(p).relative_to(REPO).as_posix(), line, code) for p, line, _c, code, _m in rows} == expectations()


@pytest.mark.slow
def test_flake8_matches_cli():
    cli = run_cli("fixtures")
    f8 = run_flake8("fixtures")
    assert f8.returncode == 1, f8.stderr
    cli_rows = sorted((p, line, col, code, msg) for p, line, col, code, msg in parse_output(cli.stdout, REPO))
    f8_rows = sorted((p, line, col, code, msg) for p, line, col, code, msg in parse_output(f8.stdout, REPO))
    assert f8_rows == cli_rows


@pytest.mark.slow
def test_flake8_single_file_sees_the_whole_project():
    """flake8 (and pre-commit) hand over one file: cross-file facts must still be there."""
    f8 = run_flake8("fixtures/AXS101/pkg/app.py")
    rows = parse_output(f8.stdout, REPO)
    assert [(line, code) for _p, line, _c, code, _m in rows] == [(2, "AXS102"), (9, "AXS101")]
    cli = run_cli("fixtures/AXS101/pkg/app.py")
    assert [(line, code) for _p, line, _c, code, _m in parse_output(cli.stdout, REPO)] == [(2, "AXS102"), (9, "AXS101")]


@pytest.mark.parametrize("rule", all_rules(), ids=lambda r: r.code)
def test_rule_docs_have_ruff_shape(rule):
    doc = rule.doc()
    for heading in ("## What it does", "## Why is this bad?", "## Example", "## Use instead", "## Fix safety", "## References"):
        assert heading in doc, f"{rule.code} docs lack {heading!r}"
    assert rule.name and rule.name == rule.name.lower() and " " not in rule.name
    assert rule.summary


def test_prefilter_never_causes_a_miss(monkeypatch):
    """Every fixture fires the same with the prefilter on (default) and off."""
    on = lint_paths([str(FIXTURES)], repo_settings({"no_cache": True}))
    monkeypatch.setenv("ASTACK_LINT_NO_PREFILTER", "1")
    off = lint_paths([str(FIXTURES)], repo_settings({"no_cache": True}))
    assert on.findings == off.findings
    assert {f.code for f in on.findings} >= {r.code for r in all_rules() if r.code != "AXS102"} - {"AXS102"}


LOOKALIKES = """\
from mylib.web import App, Middleware, GZipMiddleware, BackgroundTasks, UploadFile


def get_db():
    try:
        yield 1
    except Exception:
        pass


app = App(routes=[], lifespan=None)
app.add_middleware(Middleware(GZipMiddleware))
app.mount("/static", None)


@app.middleware("http")
async def timing(request, call_next):
    return await call_next(request)


@app.on_event("startup")
async def startup(tasks: BackgroundTasks, upload: UploadFile):
    tasks.add_task(print, upload)
    await request.is_disconnected()
    return Response(background=tasks)
"""


def test_a_project_that_never_names_the_framework_is_not_parsed(tmp_path, monkeypatch):
    """No file names fastapi or starlette: nothing can resolve to their symbols, so no rule that
    needs them parses a file or runs (a Django site costs a syntax check per file), and the
    findings are those of a full analysis (ASTACK_LINT_NO_PREFILTER): none."""
    from astack_lint.engine.store import Store

    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'site'\n")
    (tmp_path / "app.py").write_text(LOOKALIKES)
    (tmp_path / "mylib").mkdir()
    (tmp_path / "mylib" / "__init__.py").write_text("")
    (tmp_path / "mylib" / "web.py").write_text("class App: pass\nclass Middleware: pass\n")
    store = Store(Settings.from_values({"no_cache": True}))
    quick = lint_paths([str(tmp_path)], Settings.from_values({"no_cache": True}), store)
    assert quick.files == 3 and not quick.findings and not quick.errors
    assert not [p for p, e in store.entries.items() if e.parsed]
    monkeypatch.setenv("ASTACK_LINT_NO_PREFILTER", "1")
    full = lint_paths([str(tmp_path)], Settings.from_values({"no_cache": True}))
    assert full.findings == quick.findings and full.files == quick.files
    # one mention anywhere in the project, and the rules run
    (tmp_path / "mylib" / "web.py").write_text("from fastapi import BackgroundTasks, UploadFile\nclass App: pass\n")
    monkeypatch.delenv("ASTACK_LINT_NO_PREFILTER")
    store = Store(Settings.from_values({"no_cache": True}))
    lint_paths([str(tmp_path)], Settings.from_values({"no_cache": True}), store)
    assert [p for p, e in store.entries.items() if e.parsed]


LAZY_APP = """\
from fastapi import Depends, FastAPI

app = FastAPI()


def numbers():  # a generator, but no dependency: the dependency rules have nothing to look at
    yield 1


def get_db():
    db = object()
    try:
        yield db
    except Exception:  # swallows the endpoint's error: AXS302
        pass


@app.get("/")
def read(db=Depends(get_db)):
    return list(numbers())
"""


def test_rule_data_is_collected_only_where_a_rule_reads_it(tmp_path):
    """The model comes from CPython's ast; LibCST parses a file only when a rule reads its rule data
    (here: the module with a yield dependency, not the one whose generator is no dependency)."""
    from astack_lint.engine.store import Store

    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'svc'\n")
    (tmp_path / "app.py").write_text(LAZY_APP)
    (tmp_path / "gen.py").write_text(LAZY_APP.replace("@app.get", "@app.post").replace("Depends(get_db)", "None"))
    settings = Settings.from_values({"no_cache": True, "fastapi_version": "0.110.0"})
    store = Store(settings)
    result = lint_paths([str(tmp_path)], settings, store)
    assert [(os.path.basename(f.path), f.code) for f in result.findings] == [("app.py", "AXS302")]
    facts = {os.path.basename(p): e.facts for p, e in store.entries.items()}
    assert facts["app.py"].has_rule_data
    assert not facts["gen.py"].has_rule_data


def test_cache_gives_the_same_findings(tmp_path):
    settings = repo_settings({"cache_dir": str(tmp_path)})
    cold = lint_paths([str(FIXTURES)], settings)
    assert any(tmp_path.rglob("*.facts"))
    warm = lint_paths([str(FIXTURES)], settings)
    assert cold.findings == warm.findings


@pytest.mark.slow  # worker processes
@pytest.mark.parametrize("jobs", [1, 2])
def test_jobs_do_not_change_findings(jobs):
    base = lint_paths([str(FIXTURES)], repo_settings({"no_cache": True, "jobs": 1}))
    other = lint_paths([str(FIXTURES)], repo_settings({"no_cache": True, "jobs": jobs}))
    assert base.findings == other.findings


# fixtures-py311/: syntax that Python 3.9 and 3.10 cannot parse (the linter accepts the syntax of the
# interpreter it runs on, as CPython's own parser decides)


@pytest.mark.syntax((3, 11), reason="except*")
def test_newer_syntax_fixtures_match_expectations():
    result = lint_paths([str(NEWER_FIXTURES)], repo_settings())
    assert not result.errors
    got = {(Path(f.path).relative_to(REPO).as_posix(), f.line, f.code) for f in result.findings}
    assert got == expectations(NEWER_FIXTURES)
    assert got, "no finding in fixtures-py311/"


@pytest.mark.skipif(sys.version_info >= (3, 11), reason="Python >= 3.11 parses except*")
def test_newer_syntax_fixtures_are_syntax_errors_on_older_interpreters():
    result = lint_paths([str(NEWER_FIXTURES)], repo_settings())
    assert [(Path(e.path).name, e.message.split(":")[0]) for e in result.errors] == [
        ("positive_except_star.py", "syntax error")
    ]
    assert result.findings == []
