"""The on-disk cache heals and never corrupts: a truncated or corrupt cache file is ignored and
rebuilt; two processes linting the same tree at once both succeed with the same output and leave a
readable cache; a cache location that cannot be created gives one warning and the run goes on; the
findings are recomputed from cached facts, so --select and the project's pinned release take
effect on a cached run."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import List

import pytest

from astack_lint import __version__
from astack_lint.cache import files

APP = """\
from fastapi import Depends, FastAPI
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware

app = FastAPI()
app.add_middleware(Middleware(GZipMiddleware))


def get_db():
    try:
        yield 1
    except Exception:
        pass


@app.get("/")
def index(db=Depends(get_db)):
    return db
"""


def _project(root: Path, fastapi: str = "fastapi>=0.100") -> Path:
    (root / "pyproject.toml").write_text(f'[project]\nname = "demo"\ndependencies = ["{fastapi}"]\n')
    (root / "app.py").write_text(APP)
    for i in range(3):
        (root / f"mod{i}.py").write_text(APP.replace("get_db", f"get_db{i}"))
    return root


# the CLI itself, not the command (cli/main.py): these tests are about the caches it uses, and a
# whole-command replay (tested below) would answer before them
CLI = "import sys; from astack_lint.cli.lint import main; sys.exit(main())"


def _cli(root: Path, cache: Path, *args: str, command: bool = False) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("NO_COLOR", None)
    how = ["-m", "astack_lint"] if command else ["-c", CLI]
    return subprocess.run([sys.executable, *how, "--cache-dir", str(cache), *args, "."],
                          cwd=str(root), capture_output=True, text=True, env=env, timeout=600)


def _cache_files(cache: Path) -> List[Path]:
    return sorted(p for p in cache.rglob("*.facts"))


def _codes(proc: subprocess.CompletedProcess) -> List[str]:
    return sorted({line.split(": ", 1)[1].split(" ", 1)[0] for line in proc.stdout.splitlines() if ": AXS" in line})


@pytest.mark.slow
def test_truncated_or_corrupt_cache_is_ignored_and_rebuilt(tmp_path):
    root = _project_root(tmp_path)
    cache = tmp_path / "cache"
    fresh = _cli(root, cache, "--no-cache")
    first = _cli(root, cache)
    assert (first.returncode, first.stdout) == (fresh.returncode, fresh.stdout)
    [entry] = _cache_files(cache)
    [record] = sorted(cache.rglob("*.run"))  # the whole run's result (cache/runs.py)
    assert f"v{__version__}-" in entry.parent.name  # the key holds the tool version (and the code's digest)
    good = entry.read_bytes()
    good_record = record.read_bytes()
    shapes = []
    for value in (["not", "a", "dict"], ("facts", 999, {})):
        files.write(str(entry), value)
        shapes.append(entry.read_bytes())
    for broken in (good[: len(good) // 2], b"", b"\x80\x04garbage", *shapes):
        # a broken facts cache (and no run record, so that it is read)
        entry.write_bytes(broken)
        record.unlink()
        proc = _cli(root, cache)
        assert (proc.returncode, proc.stdout) == (fresh.returncode, fresh.stdout), proc.stderr
        assert "Traceback" not in proc.stderr and "warning" not in proc.stderr
        data = files.read(str(entry))  # rebuilt: readable again
        assert isinstance(data, tuple) and data[2]
        # a broken run record
        record.write_bytes(good_record[: len(good_record) // 2] if broken == good[: len(good) // 2] else broken)
        proc = _cli(root, cache)
        assert (proc.returncode, proc.stdout) == (fresh.returncode, fresh.stdout), proc.stderr
        assert "Traceback" not in proc.stderr and "warning" not in proc.stderr
        assert isinstance(files.read(str(record)), tuple)


def _project_root(tmp_path: Path) -> Path:
    root = tmp_path / "p"
    root.mkdir()
    return _project(root)


@pytest.mark.slow
def test_two_processes_at_once_share_a_cache(tmp_path):
    root = _project_root(tmp_path)
    for i in range(20):
        (root / f"extra{i}.py").write_text(APP.replace("get_db", f"dep{i}"))
    cache = tmp_path / "cache"
    expected = _cli(root, cache, "--no-cache")
    for _round in range(2):  # a cold cache, then a warm one
        procs = [subprocess.Popen([sys.executable, "-m", "astack_lint", "--cache-dir", str(cache), "--jobs", "1", "."],
                                  cwd=str(root), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
        outs = [p.communicate(timeout=600) for p in procs]
        for p, (out, err) in zip(procs, outs):
            assert p.returncode == expected.returncode, err
            assert out == expected.stdout
            assert "warning" not in err and "Traceback" not in err
        found = _cache_files(cache)
        assert len(found) == 1
        assert files.read(str(found[0]))[2]
        assert not [p for p in found[0].parent.iterdir() if p.name.startswith(".tmp-")]  # no litter


@pytest.mark.slow
def test_cache_location_that_cannot_be_created_warns_once(tmp_path):
    """chmod does not stop root: a cache directory under a regular file cannot be created by anyone."""
    root = _project_root(tmp_path)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory\n")
    proc = _cli(root, blocker / "cache", "--quiet")
    expected = _cli(root, tmp_path / "cache", "--no-cache", "--quiet")
    assert proc.returncode == expected.returncode
    assert proc.stdout == expected.stdout
    warnings = [line for line in proc.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1, proc.stderr
    assert "running without a cache" in warnings[0]
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_options_change_findings_on_a_cached_run(tmp_path):
    root = _project_root(tmp_path)
    cache = tmp_path / "cache"
    everything = _cli(root, cache)
    assert {"AXS105", "AXS302"} <= set(_codes(everything)), everything.stdout
    only = _cli(root, cache, "--select", "AXS105")
    assert _codes(only) == ["AXS105"]
    again = _cli(root, cache)
    assert again.stdout == everything.stdout


@pytest.mark.slow
def test_pinned_release_changes_findings_on_a_cached_run(tmp_path):
    """AXS302 (a dependency swallowing the route's exception) harms no release from 0.74 to 0.109,
    where FastAPI re-raised for you: pinning 0.100 silences it, pinning 0.110 brings it back, with
    the same cache and unchanged source files."""
    root = _project_root(tmp_path)
    cache = tmp_path / "cache"
    (root / "pyproject.toml").write_text('[project]\nname = "demo"\ndependencies = ["fastapi==0.110.0"]\n')
    harmed = _cli(root, cache)
    assert "AXS302" in _codes(harmed), harmed.stdout
    (root / "pyproject.toml").write_text('[project]\nname = "demo"\ndependencies = ["fastapi==0.100.0"]\n')
    safe = _cli(root, cache)
    assert "AXS302" not in _codes(safe), safe.stdout
    assert "AXS105" in _codes(safe)
    (root / "pyproject.toml").write_text('[project]\nname = "demo"\ndependencies = ["fastapi==0.110.0"]\n')
    assert _cli(root, cache).stdout == harmed.stdout


def test_cache_directory_name_holds_version_and_code(tmp_path):
    from astack_lint.cache.facts import FORMAT, DiskCache
    from astack_lint.cache.keys import tool_key

    d = DiskCache(str(tmp_path))
    assert os.path.basename(d.directory) == f"v{__version__}-f{FORMAT}-{tool_key()}"


DEPS = """\
def get_db():
    try:
        yield 1
    except Exception:
        pass
"""

MAIN = """\
from fastapi import Depends, FastAPI

from deps import get_db

app = FastAPI()


@app.get("/")
def index(db=Depends(get_db)):
    return db
"""


@pytest.mark.slow
def test_a_run_where_nothing_changed_replays_the_recorded_result_and_any_change_recomputes(tmp_path):
    """cache/runs.py: the record is used only while every file of the project, the releases and the
    options are as they were; replaying it imports no LibCST and no rule."""
    root = tmp_path / "p"
    root.mkdir()
    (root / "pyproject.toml").write_text('[project]\nname = "demo"\ndependencies = ["fastapi>=0.100"]\n')
    (root / "deps.py").write_text(DEPS)
    (root / "main.py").write_text(MAIN)
    cache = tmp_path / "cache"

    def run(*args: str) -> subprocess.CompletedProcess:
        proc = _cli(root, cache, *args)
        fresh = _cli(root, cache, "--no-cache", *args)
        assert (proc.returncode, proc.stdout) == (fresh.returncode, fresh.stdout), proc.stderr
        return proc

    first = run()
    assert "deps.py" in first.stdout and "AXS302" in first.stdout  # a dependency only through main.py
    replay = subprocess.run([sys.executable, "-X", "importtime", "-c", CLI, "--cache-dir", str(cache), "."],
                            cwd=str(root), capture_output=True, text=True, timeout=600)
    assert replay.stdout == first.stdout
    imported = [line.rsplit("|", 1)[-1].strip() for line in replay.stderr.splitlines() if "|" in line]
    assert "astack_lint.engine" in imported
    assert not [m for m in imported if m.startswith("libcst") or re.match(r"astack_lint\.rules\.axs\d{3}$", m)], imported

    # the same content with a new mtime (a checkout, a touch): still the same result
    st = os.stat(root / "main.py")
    os.utime(root / "main.py", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert run().stdout == first.stdout
    # an edit in another file changes this file's findings
    (root / "main.py").write_text(MAIN.replace("db=Depends(get_db)", "db=None"))
    assert "AXS302" not in run().stdout
    (root / "main.py").write_text(MAIN)
    assert run().stdout == first.stdout
    # a new file, then its removal
    (root / "other.py").write_text(MAIN.replace("deps import get_db", "other import get_db") + "\n" + DEPS)
    assert "other.py" in run().stdout
    (root / "other.py").unlink()
    assert run().stdout == first.stdout
    # a pin that excludes the harm, then an option
    (root / "pyproject.toml").write_text('[project]\nname = "demo"\ndependencies = ["fastapi==0.100.0"]\n')
    assert "AXS302" not in run().stdout
    assert "AXS302" in run("--fastapi-version", "0.110.0").stdout


def _age(*tops: Path, seconds: int = 30) -> None:
    """Every file and directory under these, and they themselves, ``seconds`` old: a whole-command
    record is only written when its inputs are older than two seconds (cache/replay.py's RACY_NS)."""
    import time

    when = time.time() - seconds
    for top in tops:
        for p in [top, *top.rglob("*")]:
            if os.stat(p).st_mtime > when:  # only what is younger: older records stay valid
                os.utime(p, (when, when))


def _replay(root: Path, cache: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-X", "importtime", "-m", "astack_lint", "--cache-dir", str(cache), *args, "."],
                          cwd=str(root), capture_output=True, text=True, timeout=600)


def _imported(proc: subprocess.CompletedProcess) -> List[str]:
    return [line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")]


@pytest.mark.slow
def test_a_command_run_again_with_nothing_changed_is_replayed_before_any_import(tmp_path):
    """cache/replay.py: the same command in an unchanged tree prints the recorded output and status,
    importing nothing of the linter but the entry point and the replay; any change to an input it watched (a file, a
    new file, the config, a requirements file included from outside the project) is a full run."""
    root = tmp_path / "p"
    root.mkdir()
    (root / "pyproject.toml").write_text('[project]\nname = "demo"\n')
    (root / "requirements.txt").write_text("-r ../shared/base.txt\n")
    (tmp_path / ".git").mkdir()  # one repository: an include from elsewhere in it is read
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "base.txt").write_text("fastapi>=0.100\n")
    (root / "deps.py").write_text(DEPS)
    (root / "main.py").write_text(MAIN)
    cache = tmp_path / "cache"

    def settled_run(*args: str) -> subprocess.CompletedProcess:
        """A full run (its output checked against --no-cache) once every input is old enough to record."""
        _age(root, tmp_path / "shared")
        proc = _cli(root, cache, *args, command=True)
        fresh = _cli(root, cache, "--no-cache", *args)
        assert (proc.returncode, proc.stdout, proc.stderr) == (fresh.returncode, fresh.stdout, fresh.stderr)
        return proc

    def replayed(proc: subprocess.CompletedProcess, *args: str) -> bool:
        again = _replay(root, cache, *args)
        assert again.returncode == proc.returncode and again.stdout == proc.stdout
        assert [line for line in again.stderr.splitlines() if not line.startswith("import time:")] == proc.stderr.splitlines()
        mods = _imported(again)
        return not [m for m in mods if m.startswith(("astack_lint.cli.lint", "astack_lint.engine", "libcst"))]

    first = settled_run()
    assert "AXS302" in first.stdout and first.returncode == 1
    assert list((cache / "runs").glob("*.snap"))
    assert replayed(first)
    assert replayed(first)
    # other arguments: another record
    quiet = settled_run("--quiet")
    assert replayed(quiet, "--quiet") and replayed(first)

    # an edit (same size): the same command now runs in full, and gives the new findings
    (root / "main.py").write_text(MAIN.replace("db=Depends(get_db)", "db=Depends(get_dx)"))
    edited = _replay(root, cache)
    assert "astack_lint.engine" in _imported(edited) and "AXS302" not in edited.stdout
    (root / "main.py").write_text(MAIN)
    assert replayed(settled_run())
    # a new file
    (root / "other.py").write_text(MAIN.replace("deps import get_db", "other import get_db") + "\n" + DEPS)
    added = _replay(root, cache)
    assert "astack_lint.engine" in _imported(added) and "other.py" in added.stdout
    (root / "other.py").unlink()
    assert replayed(settled_run())
    # the config
    (root / "pyproject.toml").write_text('[project]\nname = "demo"\n\n[tool.astack-lint]\nignore = ["AXS302"]\n')
    configured = _replay(root, cache)
    assert "astack_lint.engine" in _imported(configured) and "AXS302" not in configured.stdout
    (root / "pyproject.toml").write_text('[project]\nname = "demo"\n')
    assert replayed(settled_run())
    # a pin in a requirements file outside the project, included with -r
    (tmp_path / "shared" / "base.txt").write_text("fastapi==0.100.0\n")
    pinned = _replay(root, cache)
    assert "astack_lint.engine" in _imported(pinned) and "AXS302" not in pinned.stdout


@pytest.mark.slow
def test_a_command_is_not_recorded_while_its_inputs_are_fresh(tmp_path):
    """A second change within the same mtime tick would go unseen: nothing younger than two
    seconds is trusted, and --fix/--no-cache runs are never recorded."""
    root = tmp_path / "p"
    root.mkdir()
    _project(root)
    cache = tmp_path / "cache"
    ahead = time.time() + 60  # "just written" however long the run takes on a busy machine
    for p in [root, *root.rglob("*")]:
        os.utime(p, (ahead, ahead))
    _cli(root, cache, command=True)
    assert not list((cache / "runs").glob("*.snap"))  # just written: too fresh
    _age(root)
    _cli(root, cache, "--no-cache", command=True)
    _cli(root, cache, "--diff", command=True)
    assert not list((cache / "runs").glob("*.snap"))
    _cli(root, cache, command=True)
    assert len(list((cache / "runs").glob("*.snap"))) == 1


def test_a_command_record_watches_every_name_the_linter_looks_for():
    """cache/replay.py watches the names layout.py gives (it must not import the engine): the root
    markers, the config file, the lock files and requirements files."""
    from astack_lint.cache import replay as snapshot
    from astack_lint.layout import LOCK_FILES, ROOT_MARKERS

    for name in set(ROOT_MARKERS) | set(LOCK_FILES) | {"pyproject.toml", "pylock.web.toml"}:
        assert snapshot._above(name), name
    for name in set(LOCK_FILES) | {"pyproject.toml", "setup.cfg", "requirements-dev.txt", "app.py", "requirements"}:
        assert snapshot._watched(name), name


@pytest.mark.slow
def test_a_directory_that_stops_being_a_virtual_environment_is_linted_again(tmp_path):
    """A directory holding a pyvenv.cfg is not walked: the replay watches that marker, so once it is
    gone the directory's files are linted (the run is not replayed)."""
    root = tmp_path / "p"
    root.mkdir()
    (root / "pyproject.toml").write_text('[project]\nname = "demo"\n')
    (root / "main.py").write_text("x = 1\n")
    tools = root / "tools"
    tools.mkdir()
    (tools / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (tools / "app.py").write_text(APP)
    cache = tmp_path / "cache"
    _age(root)
    first = _cli(root, cache, command=True)
    assert first.returncode == 0 and "app.py" not in first.stdout, first.stderr
    assert list((cache / "runs").glob("*.snap"))
    (tools / "pyvenv.cfg").unlink()
    again = _cli(root, cache, command=True)
    assert again.returncode == 1 and "tools/app.py" in again.stdout, (again.stdout, again.stderr)
