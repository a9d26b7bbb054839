"""Release resolution (astack_lint/releases/): every source, ranges, monorepos, and release-aware rules
end to end."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path
from typing import Dict

import pytest

from astack_lint.api import Settings, lint_paths
from astack_lint.config.options import OPTIONS_BY_NAME, ConfigError
from astack_lint.config.values import coerce
from astack_lint.releases.affected import Affected
from astack_lint.releases.resolve import Resolver
from astack_lint.releases.versions import from_answer, poetry_constraint

from .conftest import run_cli


def write(root: Path, files: Dict[str, str]) -> Path:
    for name, text in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return root


def releases(root: Path, file: str = "app.py", **options):
    path = root / file
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text("")
    from astack_lint.engine.discover import find_root

    settings = Settings.from_values(options, base_dir=str(root))
    return Resolver(settings.fastapi_version, settings.starlette_version).for_path(str(path), find_root(str(path)))


def vs(possible) -> list:
    return [str(v) for v in possible.versions]


def uv_lock(fastapi: str, starlette: str, member: str = ".", name: str = "demo") -> str:
    return f"""
        version = 1
        revision = 2
        requires-python = ">=3.9"

        [[package]]
        name = "{name}"
        version = "0.1.0"
        source = {{ editable = "{member}" }}
        dependencies = [{{ name = "fastapi" }}]

        [[package]]
        name = "fastapi"
        version = "{fastapi}"
        source = {{ registry = "https://pypi.org/simple" }}

        [[package]]
        name = "starlette"
        version = "{starlette}"
        source = {{ registry = "https://pypi.org/simple" }}
    """


PYPROJECT = '[project]\nname = "demo"\nversion = "0.1.0"\n'


# ---------------------------------------------------------------------------------------------
# lock files


def test_uv_lock(tmp_path):
    write(tmp_path, {"pyproject.toml": PYPROJECT + 'dependencies = ["fastapi>=0.100"]\n', "uv.lock": uv_lock("0.110.0", "0.36.3")})
    r = releases(tmp_path)
    assert vs(r.fastapi) == ["0.110.0"] and not r.fastapi.beyond
    assert vs(r.starlette) == ["0.36.3"]
    assert r.fastapi.source.kind == "lock" and r.fastapi.source.path == str(tmp_path / "uv.lock")


def test_poetry_lock(tmp_path):
    write(tmp_path, {
        "pyproject.toml": '[tool.poetry]\nname = "demo"\n\n[tool.poetry.dependencies]\nfastapi = "^0.100"\n',
        "poetry.lock": """
            [[package]]
            name = "fastapi"
            version = "0.100.1"
            optional = false
            python-versions = ">=3.7"
            files = []

            [package.dependencies]
            starlette = ">=0.27.0,<0.28.0"

            [[package]]
            name = "Starlette"
            version = "0.27.0"
            optional = false
            python-versions = ">=3.7"
            files = []

            [metadata]
            lock-version = "2.0"
        """,
    })
    r = releases(tmp_path)
    assert (vs(r.fastapi), vs(r.starlette)) == (["0.100.1"], ["0.27.0"])
    assert r.fastapi.source.kind == "lock" and r.fastapi.source.path.endswith("poetry.lock")


def test_pdm_lock(tmp_path):
    write(tmp_path, {
        "pyproject.toml": PYPROJECT,
        "pdm.lock": """
            [metadata]
            groups = ["default"]
            lock_version = "4.5.0"

            [[package]]
            name = "fastapi"
            version = "0.95.2"
            groups = ["default"]
            files = []
        """,
    })
    r = releases(tmp_path)
    assert vs(r.fastapi) == ["0.95.2"]
    assert vs(r.starlette) == ["0.27.0"]  # not in the lock: FastAPI 0.95.2's pins (0.27.x)
    assert r.starlette.source.kind == "pins"


def test_pipfile_lock(tmp_path):
    write(tmp_path, {
        "Pipfile.lock": """
            {
                "_meta": {"pipfile-spec": 6},
                "default": {"fastapi": {"hashes": [], "version": "==0.108.0"}},
                "develop": {"starlette": {"version": "==0.32.0.post1"}}
            }
        """,
        "pyproject.toml": PYPROJECT,
    })
    r = releases(tmp_path)
    assert (vs(r.fastapi), vs(r.starlette)) == (["0.108.0"], ["0.32.0.post1"])


@pytest.mark.parametrize("name", ["pylock.toml", "pylock.dev.toml"])
def test_pylock(tmp_path, name):
    write(tmp_path, {
        "pyproject.toml": PYPROJECT,
        name: """
            lock-version = "1.0"
            created-by = "pip"

            [[packages]]
            name = "fastapi-slim"
            version = "0.112.0"

            [[packages]]
            name = "starlette"
            version = "0.37.2"
        """,
    })
    r = releases(tmp_path)
    assert (vs(r.fastapi), vs(r.starlette)) == (["0.112.0"], ["0.37.2"])


def test_lock_beats_requirements_beats_pyproject(tmp_path):
    write(tmp_path, {
        "pyproject.toml": PYPROJECT + 'dependencies = ["fastapi>=0.100"]\n',
        "requirements.txt": "fastapi==0.101.0\n",
    })
    assert vs(releases(tmp_path).fastapi) == ["0.101.0"]
    write(tmp_path, {"uv.lock": uv_lock("0.102.0", "0.27.0")})
    assert vs(releases(tmp_path).fastapi) == ["0.102.0"]


def test_lock_newer_than_the_release_table(tmp_path):
    write(tmp_path, {"pyproject.toml": PYPROJECT, "uv.lock": uv_lock("0.170.2", "1.12.0")})
    r = releases(tmp_path)
    assert vs(r.fastapi) == ["0.170.2"] and vs(r.starlette) == ["1.12.0"]
    assert r.hits([Affected(fastapi=">=0.118.0")]) and not r.hits([Affected(fastapi="<0.118.0")])


def test_unparseable_lock_warns_and_falls_through(tmp_path, capsys):
    write(tmp_path, {
        "pyproject.toml": PYPROJECT + 'dependencies = ["fastapi>=0.100,<0.105"]\n',
        "uv.lock": "version = 1\n[[package]\nname = 'fastapi'\n",
        "Pipfile.lock": "{not json",
    })
    r = releases(tmp_path)
    assert r.fastapi.source.kind == "pyproject"
    assert vs(r.fastapi)[0] == "0.100.0" and vs(r.fastapi)[-1] == "0.104.1"
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2, err
    assert all(line.startswith("astack-lint: warning: ") and "ignoring it" in line for line in err)
    assert any("uv.lock" in line for line in err) and any("Pipfile.lock" in line for line in err)
    releases(tmp_path)  # warned once per file
    assert capsys.readouterr().err == ""


@pytest.mark.slow
def test_unparseable_lock_through_the_cli_is_not_a_crash(tmp_path):
    write(tmp_path, {
        "pyproject.toml": PYPROJECT,
        "poetry.lock": "[[package]]\nname = 'fastapi'\nversion = 'not a version'\n",
        "app.py": "from fastapi.middleware.asyncexitstack import AsyncExitStackMiddleware\n",
    })
    proc = run_cli("app.py", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "poetry.lock" in warnings[0]
    assert "AXS102" in proc.stdout and "every release is possible" in proc.stdout


# ---------------------------------------------------------------------------------------------
# requirements files


def test_requirements_includes_and_constraints(tmp_path):
    write(tmp_path, {
        "pyproject.toml": PYPROJECT,
        "requirements.txt": """
            # production
            -r requirements/base.txt
            --constraint constraints.txt
            uvicorn[standard]==0.30.1 \\
                --hash=sha256:0000
        """,
        "requirements/base.txt": "fastapi[standard]>=0.100  # the web framework\nhttpx\n",
        "constraints.txt": "fastapi<0.103\n",
    })
    r = releases(tmp_path)
    assert r.fastapi.source.kind == "requirements"
    assert vs(r.fastapi) == ["0.100.0", "0.100.1", "0.101.0", "0.101.1", "0.102.0"]


def test_requirements_files_are_alternatives(tmp_path):
    write(tmp_path, {
        "pyproject.toml": PYPROJECT,
        "requirements-prod.txt": "fastapi==0.110.0\n",
        "requirements-dev.txt": "-r requirements-prod.txt\npytest\n",
        "requirements-legacy.txt": "fastapi==0.100.0\n",
    })
    assert vs(releases(tmp_path).fastapi) == ["0.100.0", "0.110.0"]


def test_requirements_dir_only(tmp_path):
    write(tmp_path, {"pyproject.toml": PYPROJECT, "requirements/prod.txt": "fastapi==0.115.0 ; python_version >= '3.8'\n"})
    assert vs(releases(tmp_path).fastapi) == ["0.115.0"]


def test_include_cycle_and_missing_include(tmp_path):
    write(tmp_path, {
        "pyproject.toml": PYPROJECT,
        "requirements.txt": "-r other.txt\n-r missing.txt\nfastapi~=0.110.0\n",
        "other.txt": "-r requirements.txt\n",
    })
    assert vs(releases(tmp_path).fastapi) == ["0.110.0", "0.110.1", "0.110.2", "0.110.3"]


# ---------------------------------------------------------------------------------------------
# pyproject.toml


def test_project_dependencies_range(tmp_path):
    write(tmp_path, {"pyproject.toml": PYPROJECT + 'dependencies = ["fastapi>=0.106,<0.108", "sqlalchemy"]\n'})
    r = releases(tmp_path)
    assert vs(r.fastapi) == ["0.106.0", "0.107.0"] and not r.fastapi.beyond
    assert r.starlette.source.kind == "pins" and vs(r.starlette) == ["0.27.0", "0.28.0"]


def test_open_range_admits_later_releases(tmp_path):
    write(tmp_path, {"pyproject.toml": PYPROJECT + 'dependencies = ["fastapi>=0.160"]\n'})
    r = releases(tmp_path)
    assert r.fastapi.beyond and vs(r.fastapi)[0] == "0.160.0"
    assert r.fastapi.render() == ">=0.160.0"


def test_optional_dependencies_and_groups(tmp_path):
    write(tmp_path, {
        "pyproject.toml": PYPROJECT + textwrap.dedent("""
            dependencies = ["pydantic"]

            [project.optional-dependencies]
            web = ["fastapi==0.100.0"]

            [dependency-groups]
            dev = [{include-group = "test"}, "ruff"]
            test = ["fastapi==0.110.0", "pytest"]
        """),
    })
    r = releases(tmp_path)
    assert vs(r.fastapi) == ["0.100.0", "0.110.0"]
    assert "optional-dependencies" in r.fastapi.source.detail and "dependency-groups" in r.fastapi.source.detail


def test_base_dependencies_hold_for_every_install(tmp_path):
    write(tmp_path, {
        "pyproject.toml": PYPROJECT + 'dependencies = ["fastapi>=0.118"]\n[project.optional-dependencies]\nold = ["fastapi<0.100"]\n',
    })
    assert vs(releases(tmp_path).fastapi)[0] == "0.118.0"


def test_markers_are_alternatives(tmp_path):
    write(tmp_path, {
        "pyproject.toml": PYPROJECT + 'dependencies = ["fastapi==0.100.0; python_version < \'3.10\'", "fastapi==0.120.0; python_version >= \'3.10\'"]\n',
    })
    assert vs(releases(tmp_path).fastapi) == ["0.100.0", "0.120.0"]


def test_unconstrained_mention_does_not_answer(tmp_path):
    write(tmp_path, {
        "pyproject.toml": PYPROJECT + 'dependencies = ["fastapi"]\n',
        "requirements.txt": "fastapi\n",
    })
    r = releases(tmp_path)
    assert r.fastapi.source.kind == "none" and r.fastapi.beyond


@pytest.mark.parametrize(
    "constraint, first, last",
    [
        ("^0.100", "0.100.0", "0.100.1"),
        ("^0.100.1", "0.100.1", "0.100.1"),
        ("~0.115.12", "0.115.12", "0.115.14"),
        ("^0.115.12", "0.115.12", "0.115.14"),
        (">=0.109,<0.110", "0.109.0", "0.109.2"),
        (">= 0.109, < 0.110", "0.109.0", "0.109.2"),
        ("0.110.*", "0.110.0", "0.110.3"),
        ("0.99.1", "0.99.1", "0.99.1"),
        ("^0.99 || ^0.101", "0.99.0", "0.101.1"),
    ],
)
def test_poetry_constraints(tmp_path, constraint, first, last):
    write(tmp_path, {"pyproject.toml": f'[tool.poetry]\nname = "demo"\n\n[tool.poetry.dependencies]\npython = "^3.9"\nfastapi = {{version = "{constraint}", extras = ["all"]}}\n'})
    r = releases(tmp_path)
    assert (vs(r.fastapi)[0], vs(r.fastapi)[-1]) == (first, last)
    if "||" in constraint:
        assert "0.100.0" not in vs(r.fastapi)


def test_poetry_caret_and_tilde_semantics():
    def spec(text):
        return [str(s) for s in poetry_constraint(text)]

    assert spec("^1.2.3") == ["<2,>=1.2.3"]
    assert spec("^0.2.3") == ["<0.3,>=0.2.3"]
    assert spec("^0.0.3") == ["<0.0.4,>=0.0.3"]
    assert spec("^0") == ["<1,>=0"]
    assert spec("~1.2.3") == ["<1.3,>=1.2.3"]
    assert spec("~1") == ["<2,>=1"]
    assert poetry_constraint("*") == ()
    assert poetry_constraint("^banana") is None


def test_poetry_group_dependencies(tmp_path):
    write(tmp_path, {"pyproject.toml": '[tool.poetry]\nname = "d"\n\n[tool.poetry.group.web.dependencies]\nfastapi = "~0.109"\n'})
    assert vs(releases(tmp_path).fastapi) == ["0.109.0", "0.109.1", "0.109.2"]


# ---------------------------------------------------------------------------------------------
# monorepos


def test_monorepo_nearest_project_wins(tmp_path):
    write(tmp_path, {
        "pyproject.toml": PYPROJECT + 'dependencies = ["fastapi>=0.100"]\n',
        "services/old/pyproject.toml": '[project]\nname = "old"\ndependencies = ["fastapi==0.100.0"]\n',
        "services/new/pyproject.toml": '[project]\nname = "new"\n',
        "services/new/uv.lock": uv_lock("0.165.0", "1.10.0", name="new"),
        "tools/requirements.txt": "fastapi==0.110.0\n",  # no pyproject: part of the root project
    })
    assert vs(releases(tmp_path, "services/old/app/main.py").fastapi) == ["0.100.0"]
    assert vs(releases(tmp_path, "services/new/app.py").fastapi) == ["0.165.0"]
    assert vs(releases(tmp_path, "tools/script.py").fastapi) == ["0.110.0"]
    assert vs(releases(tmp_path, "src/demo/app.py").fastapi)[0] == "0.100.0"
    assert releases(tmp_path, "src/demo/app.py").fastapi.beyond


def test_uv_workspace_member_uses_the_workspace_lock(tmp_path):
    write(tmp_path, {
        "pyproject.toml": PYPROJECT + '[tool.uv.workspace]\nmembers = ["packages/*"]\n',
        "packages/api/pyproject.toml": '[project]\nname = "api"\ndependencies = ["fastapi>=0.100"]\n',
        "uv.lock": uv_lock("0.112.2", "0.38.2", member="packages/api", name="api"),
        "packages/other/pyproject.toml": '[project]\nname = "other"\ndependencies = ["fastapi>=0.100"]\n',
    })
    assert vs(releases(tmp_path, "packages/api/src/api/app.py").fastapi) == ["0.112.2"]
    # a sibling the lock does not list keeps its own constraint
    assert releases(tmp_path, "packages/other/app.py").fastapi.source.kind == "pyproject"


def test_monorepo_through_the_linter(tmp_path):
    bad = "from fastapi.middleware.asyncexitstack import AsyncExitStackMiddleware\n"
    write(tmp_path, {
        "pyproject.toml": PYPROJECT,
        "a/pyproject.toml": '[project]\nname = "a"\ndependencies = ["fastapi==0.110.0"]\n',
        "a/app.py": bad,
        "b/pyproject.toml": '[project]\nname = "b"\ndependencies = ["fastapi==0.120.0"]\n',
        "b/app.py": bad,
    })
    result = lint_paths([str(tmp_path)], Settings(base_dir=str(tmp_path)))
    assert [(os.path.relpath(f.path, tmp_path), f.code) for f in result.findings] == [(os.path.join("a", "app.py"), "AXS102")]
    assert "a/pyproject.toml pins fastapi 0.110.0" not in result.findings[0].message  # relative to its own root
    assert "pyproject.toml pins fastapi 0.110.0" in result.findings[0].message


# ---------------------------------------------------------------------------------------------
# options, the installed environment, nothing known


def test_options_win_over_files(tmp_path):
    write(tmp_path, {"pyproject.toml": PYPROJECT, "uv.lock": uv_lock("0.110.0", "0.36.3")})
    r = releases(tmp_path, fastapi_version="0.100.0")
    assert (vs(r.fastapi), vs(r.starlette)) == (["0.100.0"], ["0.27.0"])
    assert r.fastapi.source.kind == "option"
    r = releases(tmp_path, fastapi_version=">=0.115,<0.116", starlette_version="==0.41.0")
    assert vs(r.starlette) == ["0.41.0"]
    assert vs(r.fastapi) == [f"0.115.{i}" for i in range(3, 15)]  # only those allow starlette 0.41


def test_option_values_are_checked():
    spec = OPTIONS_BY_NAME["fastapi-version"]
    assert coerce(spec, " >=0.100 ", "x") == ">=0.100"
    assert coerce(spec, "^0.110", "x") == "^0.110"
    with pytest.raises(ConfigError, match="neither a version nor"):
        coerce(spec, "latest please", "x")
    with pytest.raises(ConfigError, match="must be a string"):
        coerce(spec, 0.11, "x")


@pytest.mark.slow
def test_option_from_pyproject_config_and_flake8(tmp_path):
    write(tmp_path, {
        "pyproject.toml": PYPROJECT + '\n[tool.astack-lint]\nfastapi-version = "0.110.0"\n',
        "app.py": "from fastapi.middleware.asyncexitstack import AsyncExitStackMiddleware\n",
        "setup.cfg": "[flake8]\nfastapi-version = 0.120.0\n",
    })
    proc = run_cli("app.py", cwd=tmp_path)
    assert "AXS102" in proc.stdout and "fastapi-version='0.110.0'" in proc.stdout
    assert run_cli("app.py", "--fastapi-version", "0.120.0", cwd=tmp_path).stdout == ""
    # flake8 reads its own config: 0.120.0 there has the module
    f8 = run([sys.executable, "-m", "flake8", "--select", "AXS", "app.py"], tmp_path)
    assert f8.stdout == "", f8.stdout + f8.stderr
    f8 = run([sys.executable, "-m", "flake8", "--select", "AXS", "--fastapi-version", "0.107.0", "app.py"], tmp_path)
    assert "AXS102" in f8.stdout and "fastapi-version='0.107.0'" in f8.stdout


def run(args, cwd):
    import subprocess

    return subprocess.run(args, cwd=str(cwd), capture_output=True, text=True, timeout=300)


def test_installed_distributions_only_inside_the_project(tmp_path, monkeypatch):
    write(tmp_path, {"pyproject.toml": PYPROJECT})
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    assert releases(tmp_path).fastapi.source.kind == "none"  # the linter's own env is elsewhere
    # a venv inside the project, named by VIRTUAL_ENV
    site = tmp_path / ".venv" / "lib" / "python3.11" / "site-packages"
    for name, version in (("fastapi", "0.110.0"), ("starlette", "0.36.3")):
        info = site / f"{name}-{version}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    monkeypatch.setenv("VIRTUAL_ENV", str(tmp_path / ".venv"))
    r = releases(tmp_path)
    assert (vs(r.fastapi), vs(r.starlette)) == (["0.110.0"], ["0.36.3"])
    assert r.fastapi.source.kind == "installed"
    # a file source still wins
    write(tmp_path, {"requirements.txt": "fastapi==0.100.0\n"})
    assert vs(releases(tmp_path).fastapi) == ["0.100.0"]


def test_running_interpreter_inside_the_project(tmp_path, monkeypatch):
    import fastapi

    write(tmp_path, {"pyproject.toml": PYPROJECT})
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    monkeypatch.setattr(sys, "prefix", str(tmp_path / ".venv"))
    r = releases(tmp_path)
    assert r.fastapi.source.kind == "installed" and vs(r.fastapi) == [fastapi.__version__]


def test_nothing_known_means_every_release(tmp_path):
    write(tmp_path, {"pyproject.toml": PYPROJECT})
    r = releases(tmp_path)
    assert r.fastapi.source.kind == "none" and r.fastapi.beyond and "0.1.0" in vs(r.fastapi)
    assert r.starlette.source.kind == "none"
    assert r.fastapi.render() == "every release"


# ---------------------------------------------------------------------------------------------
# the mechanism


def test_hits_and_explanations(tmp_path):
    rows = (
        Affected(fastapi="<0.74.0", symptom="missing (before)"),
        Affected(fastapi=">=0.106.0,<0.118.0", symptom="missing (removed)"),
    )
    write(tmp_path, {"pyproject.toml": PYPROJECT + 'dependencies = ["fastapi>=0.100"]\n'})
    r = releases(tmp_path)
    hits = r.hits(rows)
    assert len(hits) == 1 and str(hits[0].fastapi[0]) == "0.106.0" and str(hits[0].fastapi[-1]) == "0.117.1"
    assert r.explain(hits) == "your constraint fastapi>=0.100 (pyproject.toml) admits 0.106.0-0.117.1, where missing (removed)"
    # plain tuples work too
    assert r.hits([(">=0.106.0,<0.118.0", None, "x")])
    r = releases(tmp_path, fastapi_version="0.120.0")
    assert r.hits(rows) == [] and not r.meets(rows)
    nothing = from_answer(None)
    assert nothing.explain(nothing.hits(rows)) == (
        "no fastapi release is pinned (pin it, or set fastapi-version = \"...\"), so every release is possible, including <=0.73.0, where missing (before); "
        "and 0.106.0-0.117.1, where missing (removed)"
    )


def test_starlette_rows_meet_only_compatible_pairs(tmp_path):
    row = Affected(fastapi=">=0.112.1,<=0.115.2", starlette=">=0.38.3,<=0.38.4", symptom="task never runs")
    assert releases(tmp_path, fastapi_version="0.113.0").hits([row])
    assert not releases(tmp_path, fastapi_version="0.113.0", starlette_version="0.38.2").hits([row])
    assert not releases(tmp_path, fastapi_version="0.110.0").hits([row])  # pins starlette 0.37
    starlette_only = Affected(starlette=">=0.23.1,<=0.28.0", symptom="held")
    assert releases(tmp_path, fastapi_version="0.100.0").hits([starlette_only])
    assert not releases(tmp_path, fastapi_version="0.165.0").hits([starlette_only])
    r = releases(tmp_path, starlette_version="0.27.0")
    assert r.explain(r.hits([starlette_only])) == "your setting starlette-version='0.27.0', where held"


def test_cache_key_follows_the_releases(tmp_path):
    write(tmp_path, {"pyproject.toml": PYPROJECT, "uv.lock": uv_lock("0.110.0", "0.36.3")})
    k1 = releases(tmp_path).cache_key()
    assert k1 == releases(tmp_path).cache_key()
    write(tmp_path, {"uv.lock": uv_lock("0.110.1", "0.37.2")})
    assert releases(tmp_path).cache_key() != k1
    assert releases(tmp_path, fastapi_version="0.100.0").cache_key() != k1


@pytest.mark.slow
def test_show_settings(tmp_path):
    write(tmp_path, {
        "pyproject.toml": PYPROJECT + '\n[tool.astack-lint]\nextend-ignore = ["AXS104"]\n',
        "app.py": "",
        "svc/pyproject.toml": '[project]\nname = "svc"\n',
        "svc/poetry.lock": '[[package]]\nname = "fastapi"\nversion = "0.100.0"\n',
        "svc/app.py": "",
    })
    proc = run_cli("--show-settings", ".", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "config file: pyproject.toml" in out
    assert "extend-ignore = ['AXS104']" in out and "fastapi-version = (default)" in out
    assert "fastapi: every release" in out and "nothing pins it" in out
    assert "fastapi: 0.100.0 (1 known release) -- from lock svc/poetry.lock: fastapi==0.100.0" in out
    assert "starlette: 0.27.0 (1 known release) -- from FastAPI's own starlette pins" in out
    assert out.count("releases cache key: ") == 2


# ---------------------------------------------------------------------------------------------
# release-aware rules, end to end


BACKGROUND_APP = """
from fastapi import BackgroundTasks, FastAPI

app = FastAPI()


@app.middleware("http")
async def timing(request, call_next):
    return await call_next(request)


def send_mail(to: str) -> None:
    pass


@app.post("/signup")
async def signup(email: str, tasks: BackgroundTasks):
    tasks.add_task(send_mail, email)
    return {"ok": True}
"""


@pytest.mark.parametrize(
    "lock, expected",
    [
        (("0.165.0", "1.10.0"), None),
        (("0.100.0", "0.27.0"), "uv.lock pins fastapi 0.100.0, where the response does not complete until the task has finished"),
        (
            None,
            "no fastapi release is pinned (pin it, or set fastapi-version = \"...\"), so every release is possible, including <=0.84.0, 0.90.1-0.107.0, where the "
            "response does not complete until the task has finished; and 0.85.0-0.86.0, where the task is cancelled "
            "right after the response",
        ),
    ],
)
def test_axs201_follows_the_lock(tmp_path, lock, expected):
    files = {"pyproject.toml": PYPROJECT + 'dependencies = ["fastapi"]\n', "app.py": BACKGROUND_APP}
    if lock:
        files["uv.lock"] = uv_lock(*lock)
    write(tmp_path, files)
    result = lint_paths([str(tmp_path)], Settings(base_dir=str(tmp_path)))
    found = [f for f in result.findings if f.code == "AXS201"]
    if expected is None:
        assert found == []
    else:
        assert len(found) == 1 and expected in found[0].message, found


# findings that tell the releases apart: 0.100 -> AXS101 + AXS103, 0.110 -> AXS102, 0.120 ->
# AXS103, unknown -> all three
EXIT_STACK_APP = """\
from fastapi import APIRouter, Depends
from fastapi.middleware.asyncexitstack import AsyncExitStackMiddleware
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount

router = APIRouter()


async def session():
    yield "s"


@router.get("/items")
async def items(s: str = Depends(session)):
    return [s]


app = Starlette(routes=[Mount("/api", app=router)])
wrapped = Starlette(
    routes=[Mount("/api", app=router)],
    middleware=[Middleware(AsyncExitStackMiddleware, context_name="fastapi_middleware_astack")],
)
"""


@pytest.mark.parametrize(
    "version, codes",
    [
        ("0.100.0", ["AXS101", "AXS103"]),  # not 0.100's name; the yield dependency needs a stack
        ("0.110.0", ["AXS102"]),  # no module; the router would work
        ("0.120.0", ["AXS103"]),  # the right name, but the router has no stack
        (None, ["AXS101", "AXS102", "AXS103"]),
    ],
)
def test_exit_stack_rules_follow_the_release(tmp_path, version, codes):
    files = {
        "pyproject.toml": PYPROJECT + (f'dependencies = ["fastapi=={version}"]\n' if version else ""),
        "app.py": EXIT_STACK_APP,
    }
    write(tmp_path, files)
    result = lint_paths([str(tmp_path)], Settings(base_dir=str(tmp_path)))
    assert sorted({f.code for f in result.findings}) == codes


def test_a_setup_module_inside_a_package_is_no_project_root(tmp_path):
    """``backend/onyx/setup.py`` (a module of the ``onyx`` package that sets the app up) does not
    make ``backend/onyx`` a project of its own: its files keep the repository's pin (fastapi 0.133
    here, where BaseHTTPMiddleware no longer holds background tasks), so AXS201 is silent; a
    packaging ``setup.py`` beside no ``__init__.py`` still marks a root."""
    write(
        tmp_path,
        {
            "backend/requirements.txt": "fastapi==0.133.1\n",
            "backend/pyproject.toml": '[project]\nname = "backend"\n',
            "backend/onyx/__init__.py": "",
            "backend/onyx/setup.py": "def setup_onyx():\n    return None\n",
            "backend/onyx/main.py": """
                from fastapi import BackgroundTasks, FastAPI

                app = FastAPI()


                @app.middleware("http")
                async def timing(request, call_next):
                    return await call_next(request)


                @app.post("/jobs")
                async def jobs(tasks: BackgroundTasks):
                    tasks.add_task(print, "job")
                    return {}
            """,
            "tools/setup.py": "from setuptools import setup\n\nsetup(name='tools')\n",
            "tools/tool.py": "x = 1\n",
        },
    )
    from astack_lint.engine.discover import find_root

    assert find_root(str(tmp_path / "backend/onyx/main.py")) == str(tmp_path / "backend")
    assert find_root(str(tmp_path / "tools/tool.py")) == str(tmp_path / "tools")
    assert vs(releases(tmp_path / "backend", "onyx/main.py").fastapi) == ["0.133.1"]
    result = lint_paths([str(tmp_path / "backend")], Settings.from_values({}, base_dir=str(tmp_path / "backend")))
    assert [f.code for f in result.findings] == []
