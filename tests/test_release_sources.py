"""Release sources beyond lock files, requirements and pyproject.toml: setup.cfg, setup.py (read
from its syntax tree, never run), the metadata a build leaves (PKG-INFO, *.dist-info/METADATA,
*.egg-info/requires.txt), Hatch's environments, and the project's own environment found from the
project root whatever interpreter runs the linter. ``PROJECTS`` are linted through the command line
and flake8 here, and through pre-commit in test_precommit.py: all three must agree."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from astack_lint.releases.resolve import Resolver

from .conftest import run_cli, run_flake8
from .test_releases import EXIT_STACK_APP

PYPROJECT = '[project]\nname = "demo"\nversion = "0.1.0"\n'

APP = EXIT_STACK_APP


def dist_info(name: str, version: str, *requires: str) -> str:
    return f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n" + "".join(f"Requires-Dist: {r}\n" for r in requires)


def venv(site: str, **versions: str) -> Dict[str, str]:
    files = {".venv/pyvenv.cfg": "home = /usr/bin\nversion = 3.12.0\n"}
    for name, version in versions.items():
        files[f"{site}/{name}-{version}.dist-info/METADATA"] = dist_info(name, version)
    return files


SITE = ".venv/lib/python3.12/site-packages"

# name -> (files, the releases they resolve to, the codes APP gets there)
PROJECTS: Dict[str, Tuple[Dict[str, str], Tuple[str, str], List[str]]] = {
    "setup_py": (
        {
            "setup.py": 'from setuptools import setup\n\nREQUIREMENTS = ["fastapi==0.110.0", "httpx"]\n\n'
                        'setup(name="demo", install_requires=REQUIREMENTS)\n',
        },
        ("0.110.0", "0.35.0-0.36.3"),
        ["AXS102"],
    ),
    "setup_cfg": (
        {"setup.cfg": "[metadata]\nname = demo\n\n[options]\ninstall_requires =\n    fastapi>=0.100,<0.100.1\n    httpx\n"},
        ("0.100.0", "0.27.0"),
        ["AXS101", "AXS103"],
    ),
    "wheel_metadata": (
        {"pyproject.toml": PYPROJECT, "demo-0.1.0.dist-info/METADATA": dist_info("demo", "0.1.0", "fastapi (==0.120.0)")},
        ("0.120.0", "0.40.0-0.48.0"),
        ["AXS103"],
    ),
    "in_project_venv": (
        {"pyproject.toml": PYPROJECT + 'dependencies = ["fastapi"]\n', **venv(SITE, fastapi="0.110.0", starlette="0.36.3")},
        ("0.110.0", "0.36.3"),
        ["AXS102"],
    ),
}


def write(root: Path, files: Dict[str, str]) -> Path:
    for name, text in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def write_projects(base: Path) -> None:
    for name, (files, _releases, _codes) in PROJECTS.items():
        write(base / name, {**files, "app.py": APP})


def releases(root: Path, file: str = "app.py"):
    from astack_lint.engine.discover import find_root

    path = root / file
    if not path.exists():
        path.write_text("")
    return Resolver().for_path(str(path), find_root(str(path)))


def rendered(root: Path) -> Tuple[str, str]:
    r = releases(root)
    return r.fastapi.render(), r.starlette.render()


@pytest.fixture(autouse=True)
def _no_virtual_env(monkeypatch):
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    monkeypatch.delenv("UV_PROJECT_ENVIRONMENT", raising=False)


# ---------------------------------------------------------------------------------------------
# each project, through the resolver, the command line and flake8


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PROJECTS))
def test_projects_resolve_to_their_releases(tmp_path, name):
    write_projects(tmp_path)
    files, expected, codes = PROJECTS[name]
    assert rendered(tmp_path / name) == expected
    cli = run_cli("--no-cache", f"{name}/app.py", cwd=tmp_path)
    f8 = run_flake8(f"{name}/app.py", cwd=tmp_path)
    assert "Traceback" not in cli.stderr + f8.stderr, cli.stderr + f8.stderr
    found = lambda out: sorted({line.split(" ")[1] for line in out.splitlines() if " AXS" in line})  # noqa: E731
    assert found(cli.stdout) == codes, cli.stdout
    assert found(f8.stdout) == codes, f8.stdout
    settings = run_cli("--show-settings", name, cwd=tmp_path).stdout
    assert f"fastapi: {expected[0]} (" in settings, settings


@pytest.mark.slow
def test_show_settings_names_each_source(tmp_path):
    write_projects(tmp_path)
    out = {name: run_cli("--show-settings", name, cwd=tmp_path).stdout for name in PROJECTS}
    assert "from setup_py/setup.py setup(install_requires=...): fastapi==0.110.0" in out["setup_py"]
    assert "from setup_cfg/setup.cfg [options] install_requires: fastapi>=0.100,<0.100.1" in out["setup_cfg"]
    assert "from wheel_metadata/demo-0.1.0.dist-info/METADATA Requires-Dist: fastapi (==0.120.0)" in out["wheel_metadata"]
    assert "from installed in " in out["in_project_venv"] and ".venv" in out["in_project_venv"]


# ---------------------------------------------------------------------------------------------
# setup.py: literal values only, never run


def setup_py(tmp_path: Path, body: str, files: Dict[str, str] = {}) -> Path:  # noqa: B006
    write(tmp_path, {"setup.py": "from setuptools import setup\n" + textwrap.dedent(body), **files})
    return tmp_path


@pytest.mark.parametrize(
    "body, files",
    [
        ('setup(install_requires=["fastapi>=0.100,<0.101"])\n', {}),
        ('setup(install_requires=("fastapi>=0.100,<0.101",))\n', {}),
        ('REQS: list = ["fastapi>=0.100,<0.101"]\nsetup(install_requires=REQS)\n', {}),
        ('setup(install_requires=open("requirements.in").read().splitlines())\n', {"requirements.in": "fastapi>=0.100,<0.101\n"}),
        ('import os\nhere = os.path.dirname(__file__)\n'
         'setup(install_requires=open(os.path.join(here, "reqs", "base.in")).readlines())\n',
         {"reqs/base.in": "# base\nfastapi>=0.100,<0.101  # pinned\n"}),
        ('with open("deps.in") as f:\n    REQS = f.read().splitlines()\nsetup(install_requires=REQS)\n', {"deps.in": "-r more.in\n", "more.in": "fastapi>=0.100,<0.101\n"}),
        ('import setuptools\nsetuptools.setup(extras_require={"api": ["fastapi>=0.100,<0.101"], "cli": ["click"]})\n', {}),
    ],
)
def test_setup_py_forms(tmp_path, body, files):
    assert rendered(setup_py(tmp_path, body, files))[0] == "0.100.0-0.100.1"


@pytest.mark.parametrize(
    "body",
    [
        'setup(install_requires=get_requirements())\n',
        'REQS = ["fastapi==0.100.0"]\nREQS = ["fastapi==0.101.0"]\nsetup(install_requires=REQS)\n',
        'REQS = ["fastapi==0.100.0"]\nREQS += ["starlette"]\nsetup(install_requires=REQS)\n',
        'setup(install_requires=["fastapi==0.100.0", VERSIONED])\n',
        'setup(install_requires=open(find_file()).read().splitlines())\n',
    ],
)
def test_setup_py_that_is_not_literal_is_no_source(tmp_path, body):
    assert releases(setup_py(tmp_path, body)).fastapi.source.kind == "none"


@pytest.mark.slow
def test_setup_py_is_never_run(tmp_path):
    marker = tmp_path / "ran"
    setup_py(tmp_path, f'open({str(marker)!r}, "w").close()\nsetup(install_requires=["fastapi==0.100.0"])\n')
    assert rendered(tmp_path)[0] == "0.100.0"
    run_cli("--no-cache", "--show-settings", ".", cwd=tmp_path)
    assert not marker.exists()


def test_broken_setup_py_warns_and_falls_through(tmp_path, capsys):
    setup_py(tmp_path, "setup(install_requires=[\n")
    assert releases(tmp_path).fastapi.source.kind == "none"
    assert "setup.py: cannot read this setup.py" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# setup.cfg, built metadata, Hatch


def test_setup_cfg_extras_are_alternatives(tmp_path):
    write(tmp_path, {"setup.cfg": "[options]\ninstall_requires =\n    httpx\n[options.extras_require]\napi =\n    fastapi==0.100.0\n"
                                  "server =\n    fastapi==0.110.0\n"})
    r = releases(tmp_path)
    assert r.fastapi.render() == "0.100.0, 0.110.0"
    assert r.fastapi.source.detail == "[options.extras_require] api, [options.extras_require] server"


def test_pkg_info_of_a_source_distribution(tmp_path):
    write(tmp_path, {"PKG-INFO": dist_info("demo", "1.0", "fastapi<0.100,>=0.99", 'starlette==0.27.0; extra == "x"') + "\nLong description\nRequires-Dist: fastapi==1\n"})
    assert rendered(tmp_path) == ("0.99.0-0.99.1", "0.27.0")


def test_requires_txt_of_an_egg_info(tmp_path):
    write(tmp_path, {"demo.egg-info/requires.txt": "httpx\n\n[api]\nfastapi==0.110.0\n\n[:python_version < \"3.8\"]\ntyping-extensions\n"})
    r = releases(tmp_path)
    assert r.fastapi.render() == "0.110.0" and r.fastapi.source.detail == "requires.txt [api]"


def test_built_metadata_only_at_the_project_root(tmp_path):
    write(tmp_path, {
        "pyproject.toml": PYPROJECT,
        "src/demo.egg-info/requires.txt": "fastapi==0.110.0\n",
        "src/demo.egg-info/PKG-INFO": dist_info("demo", "0.1.0", "fastapi==0.110.0"),
        "src/demo/app.py": "",
    })
    assert releases(tmp_path, "src/demo/app.py").fastapi.source.kind == "none"
    write(tmp_path, {"demo.egg-info/requires.txt": "fastapi==0.100.0\n"})
    assert releases(tmp_path, "src/demo/app.py").fastapi.render() == "0.100.0"


def test_precedence_within_a_directory(tmp_path):
    write(tmp_path, {
        "setup.py": 'from setuptools import setup\nsetup(install_requires=["fastapi==0.103.0"])\n',
        "PKG-INFO": dist_info("demo", "1.0", "fastapi==0.104.0"),
    })
    assert rendered(tmp_path)[0] == "0.103.0"
    write(tmp_path, {"setup.cfg": "[options]\ninstall_requires = fastapi==0.102.0\n"})
    assert rendered(tmp_path)[0] == "0.102.0"
    write(tmp_path, {"pyproject.toml": PYPROJECT + 'dependencies = ["fastapi==0.101.0"]\n'})
    assert rendered(tmp_path)[0] == "0.101.0"
    write(tmp_path, {"requirements.txt": "fastapi==0.100.0\n"})
    assert rendered(tmp_path)[0] == "0.100.0"


def test_pyproject_without_dependencies_falls_through_to_setup_cfg(tmp_path):
    write(tmp_path, {"pyproject.toml": '[build-system]\nrequires = ["setuptools"]\n', "setup.cfg": "[options]\ninstall_requires = fastapi==0.102.0\n"})
    assert rendered(tmp_path)[0] == "0.102.0"


def test_hatch_environments(tmp_path):
    write(tmp_path, {"pyproject.toml": PYPROJECT + '[tool.hatch.envs.default]\ndependencies = ["fastapi==0.100.0"]\n'
                                                   '[tool.hatch.envs.new]\nextra-dependencies = ["fastapi==0.110.0"]\n'})
    r = releases(tmp_path)
    assert r.fastapi.render() == "0.100.0, 0.110.0"
    assert r.fastapi.source.detail == "[tool.hatch.envs.default], [tool.hatch.envs.new]"


# ---------------------------------------------------------------------------------------------
# the project's own environment


@pytest.mark.parametrize("env", [".venv", "venv", "env"])
def test_in_project_environment(tmp_path, env):
    files = venv(f"{env}/lib/python3.11/site-packages", fastapi="0.110.0", starlette="0.36.3")
    files[f"{env}/pyvenv.cfg"] = files.pop(".venv/pyvenv.cfg")
    write(tmp_path, {"pyproject.toml": PYPROJECT, **files})
    r = releases(tmp_path)
    assert (r.fastapi.render(), r.starlette.render()) == ("0.110.0", "0.36.3")
    assert r.fastapi.source.kind == "installed" and r.fastapi.source.path == str(tmp_path / env)


def test_a_directory_without_pyvenv_cfg_is_no_environment(tmp_path):
    write(tmp_path, {"pyproject.toml": PYPROJECT, f"{SITE}/fastapi-0.110.0.dist-info/METADATA": dist_info("fastapi", "0.110.0")})
    assert releases(tmp_path).fastapi.source.kind == "none"


def test_windows_layout_and_fastapi_slim(tmp_path):
    write(tmp_path, {
        "pyproject.toml": PYPROJECT,
        ".venv/pyvenv.cfg": "",
        ".venv/Lib/site-packages/fastapi_slim-0.120.0.dist-info/METADATA": dist_info("fastapi-slim", "0.120.0"),
    })
    assert rendered(tmp_path)[0] == "0.120.0"


def test_environment_named_by_the_tools(tmp_path, monkeypatch):
    def env_at(where: str, version: str) -> Dict[str, str]:
        return {f"{where}/lib/python3.12/site-packages/fastapi-{version}.dist-info/METADATA": dist_info("fastapi", version)}

    write(tmp_path, {"pyproject.toml": PYPROJECT + '[tool.hatch.envs.default]\npath = "envs/hatch"\n',
                     **env_at("envs/hatch", "0.101.0"), **env_at("envs/pdm", "0.102.0"), **env_at("envs/uv", "0.103.0"),
                     **venv(SITE, fastapi="0.104.0")})
    write(tmp_path, {".pdm-python": str(tmp_path / "envs" / "pdm" / "bin" / "python") + "\n"})
    assert rendered(tmp_path)[0] == "0.101.0"  # Hatch's configured path
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    assert rendered(tmp_path)[0] == "0.102.0"  # PDM's recorded interpreter
    monkeypatch.setenv("UV_PROJECT_ENVIRONMENT", "envs/uv")
    assert rendered(tmp_path)[0] == "0.103.0"
    monkeypatch.setenv("VIRTUAL_ENV", str(tmp_path / ".venv"))
    assert rendered(tmp_path)[0] == "0.104.0"
    # an environment outside the project is not the project's
    monkeypatch.setenv("VIRTUAL_ENV", os.path.dirname(sys.prefix))
    monkeypatch.delenv("UV_PROJECT_ENVIRONMENT")
    assert rendered(tmp_path)[0] == "0.102.0"


def test_files_beat_the_environment(tmp_path):
    write(tmp_path, {"pyproject.toml": PYPROJECT, **venv(SITE, fastapi="0.110.0"), "setup.cfg": "[options]\ninstall_requires = fastapi==0.100.0\n"})
    assert rendered(tmp_path)[0] == "0.100.0"


@pytest.mark.slow
def test_installing_into_the_environment_is_seen_by_the_next_run(tmp_path):
    write_projects(tmp_path)
    root = tmp_path / "in_project_venv"
    first = run_cli("app.py", cwd=root)
    assert "AXS102" in first.stdout
    site = root / SITE
    for old in site.iterdir():
        for f in old.iterdir():
            f.unlink()
        old.rmdir()
    write(root, {f"{SITE}/fastapi-0.120.0.dist-info/METADATA": dist_info("fastapi", "0.120.0")})
    second = run_cli("app.py", cwd=root)
    assert "AXS102" not in second.stdout and "AXS103" in second.stdout, second.stdout
