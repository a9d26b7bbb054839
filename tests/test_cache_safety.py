"""The caches can neither run code nor lie: a crafted file at the cache's predictable path (in a
repository that sets cache-dir, in a cache directory others can write to) runs nothing; a cache
file that is not private to the user is not used (one warning); a corrupt or wrong-shaped entry of
any layer is a miss; the keys hold the interpreter; a same-size edit that keeps the mtime is seen
by every layer; temporary files a killed run left are removed by the next one."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

from astack_lint.cache import files

APP = """\
from fastapi import FastAPI
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware

app = FastAPI()
app.add_middleware(Middleware(GZipMiddleware))
"""
EDITED = APP.replace("app.add_middleware(Middleware(GZipMiddleware))", "app.add_middleware(GZipMiddleware)            ")
assert len(EDITED) == len(APP)


def _project(root: Path, extra: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(f'[project]\nname = "p"\n{extra}')
    (root / "app.py").write_text(APP)
    return root


def _age(root: Path, seconds: int = 30) -> None:
    """Old enough for the whole-command record to be written (cache/replay.py's RACY_NS)."""
    import time

    when = time.time() - seconds
    for p in [root, *root.rglob("*")]:
        os.utime(p, (when, when))


def _run(root: Path, *args: str, cache: object = None, env_extra: object = None, tool: str = "astack_lint"):
    env = dict(os.environ)
    env.pop("ASTACK_LINT_CACHE_DIR", None)
    env.pop("NO_COLOR", None)
    if cache is not None:
        env["ASTACK_LINT_CACHE_DIR"] = str(cache)
    env.update(env_extra or {})  # type: ignore[arg-type]
    return subprocess.run([sys.executable, "-m", tool, *args], cwd=str(root), capture_output=True, text=True, env=env,
                          timeout=600)


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # what an attacker ships: unpickling it calls os.system
        return (os.system, (f"echo pwned > {self.marker}",))


def _cache_files(cache: Path) -> List[Path]:
    return sorted(p for p in cache.rglob("*") if p.is_file())


def _plant_everywhere(cache: Path, marker: Path) -> int:
    """Replace every cache file with a crafted pickle, and add one at the old pickle paths."""
    evil = pickle.dumps(_Evil(marker))
    planted = 0
    for p in _cache_files(cache):
        p.write_bytes(evil)
        os.chmod(p, 0o600)
        # the same payload behind a valid header and digest: marshal does not run it either
        wrapped = p.with_name(p.name + ".w")
        files.write(str(wrapped), evil)
        os.replace(wrapped, p) if planted % 2 else wrapped.unlink()
        planted += 1
        for old in (".pickle", ".run", ".snap"):
            q = p.with_suffix(old)
            if not q.exists():
                q.write_bytes(evil)
    return planted


def test_a_crafted_pickle_in_a_repository_that_sets_cache_dir_runs_nothing(tmp_path):
    root = _project(tmp_path / "repo", '\n[tool.astack-lint]\ncache-dir = ".lintcache"\n')
    (root / ".flake8").write_text("[flake8]\nextend-select = AXS\ncache-dir = .lintcache\n")
    marker = tmp_path / "PWNED"
    truth = _run(root, "--no-cache", ".")
    assert truth.returncode == 1 and "AXS105" in truth.stdout
    first = _run(root, ".")  # fills .lintcache with real files at the real paths
    assert (first.returncode, first.stdout) == (truth.returncode, truth.stdout)
    assert _plant_everywhere(root / ".lintcache", marker) >= 2
    # what a repository ships: its files as a checkout leaves them (0644)
    for p in _cache_files(root / ".lintcache"):
        os.chmod(p, 0o644)
    for args in ([], ["-q"], ["--output-format", "json"]):
        proc = _run(root, *args, ".")
        assert not marker.exists(), "a cache file ran code"
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert "AXS105" in proc.stdout
    flake = _run(root, ".", tool="flake8")
    assert not marker.exists(), "a cache file ran code under flake8"
    assert "AXS105" in flake.stdout and "Traceback" not in flake.stderr, flake.stderr


def test_a_cache_directory_others_can_write_to_is_not_used(tmp_path):
    root = _project(tmp_path / "p")
    _age(root)
    cache = tmp_path / "shared"
    marker = tmp_path / "PWNED"
    truth = _run(root, "--no-cache", ".")
    first = _run(root, ".", cache=cache)
    assert (first.returncode, first.stdout) == (truth.returncode, truth.stdout)
    for d in [cache, *[p for p in cache.rglob("*") if p.is_dir()]]:
        assert os.stat(d).st_mode & 0o777 == 0o700, d
    for p in _cache_files(cache):
        assert os.stat(p).st_mode & 0o777 == 0o600, p
    # another user writes into it: possible once the directory is world-writable
    for d in [cache, *[p for p in cache.rglob("*") if p.is_dir()]]:
        os.chmod(d, 0o777)
    _plant_everywhere(cache, marker)
    proc = _run(root, ".", cache=cache)
    assert not marker.exists(), "a cache file ran code"
    assert (proc.returncode, proc.stdout) == (truth.returncode, truth.stdout), proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "writable by others" in warnings[0] and "without a cache" in warnings[0], proc.stderr


def test_a_cache_file_that_is_not_private_is_not_used(tmp_path):
    root = _project(tmp_path / "p")
    cache = tmp_path / "cache"
    truth = _run(root, "--no-cache", "-o", str(tmp_path / "o.txt"), ".")
    expected = (tmp_path / "o.txt").read_text()
    _run(root, "-o", str(tmp_path / "o.txt"), ".", cache=cache)
    # a record that lies: no finding at all (0644, as a checkout or another user would leave it)
    [record] = sorted(cache.rglob("*.run"))
    data = list(files.read(str(record)))
    data[4], data[6] = [], 1
    files.write(str(record), tuple(data))
    os.chmod(record, 0o644)
    proc = _run(root, "-o", str(tmp_path / "o.txt"), ".", cache=cache)
    assert proc.returncode == truth.returncode and (tmp_path / "o.txt").read_text() == expected
    assert [line for line in proc.stderr.splitlines() if "warning" in line and "not private" in line], proc.stderr


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to give a file away")
def test_a_cache_directory_owned_by_another_user_is_not_used(tmp_path):
    root = _project(tmp_path / "p")
    cache = tmp_path / "theirs"
    cache.mkdir(mode=0o700)
    os.chown(cache, 65534, 65534)
    proc = _run(root, ".", cache=cache)
    assert proc.returncode == 1 and "AXS105" in proc.stdout
    warnings = [line for line in proc.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "owned by another user" in warnings[0], proc.stderr


def _layers(root: Path, cache: Path) -> dict:
    _age(root)
    _run(root, ".", cache=cache)
    return {
        "facts": sorted(cache.rglob("*.facts")),
        "run": sorted(cache.rglob("*.run")),
        "replay": sorted(cache.rglob("*.snap")),
    }


def _wrong_shapes(kind: str, good: object) -> List[object]:
    shapes: List[object] = [None, 1, "x", [1, 2, 3], (), ("facts", 2), ({},), {"format": 2}, b"bytes"]
    if kind == "facts":
        entries = good[2]  # type: ignore[index]
        shapes += [("facts", 2, {p: "garbage" for p in entries}), ("facts", 2, {p: (1, 2, 3) for p in entries}),
                   ("facts", 2, {p: tuple(v[:5]) + (("x",) * 9,) + tuple(v[6:]) for p, v in entries.items()})]
    elif kind == "run":
        shapes += [tuple(good[:4]) + (["not a Finding"],) + tuple(good[5:]),  # type: ignore[index]
                   tuple(good[:4]) + (((..., "astack_lint.results:Finding", 1, 2, 3, "x", "y"),),) + tuple(good[5:]),  # type: ignore[index]
                   tuple(good[:4]) + ([(..., "os:system", "true")],) + tuple(good[5:]),  # type: ignore[index]
                   tuple(good[:6]) + ("x",)]  # type: ignore[index]
    else:
        shapes += [("replay", 2, [], b"bytes!", "", 0), ("replay", 2, [], "", "", "x"), ("replay", 2, [("sig",)], "", "", 0)]
    return shapes


@pytest.mark.parametrize("kind", ["facts", "run", "replay"])
def test_a_corrupt_or_wrong_shaped_entry_is_a_miss(tmp_path, kind):
    root = _project(tmp_path / "p")
    (root / "other.py").write_text("from fastapi import Depends, FastAPI\napp2 = FastAPI()\n")
    cache = tmp_path / "cache"
    truth = _run(root, "--no-cache", ".")
    good_files = _layers(root, cache)
    [target] = good_files[kind]
    good_raw = target.read_bytes()
    good = files.read(str(target))
    assert good is not None
    broken: List[bytes] = [b"", good_raw[: len(good_raw) // 2], os.urandom(len(good_raw)), good_raw[:-1] + b"\0"]
    for shape in _wrong_shapes(kind, good):
        files.write(str(target), shape)
        broken.append(target.read_bytes())
    for raw in broken:
        for k, paths in _layers(root, cache).items():  # fresh files; remove the layers above this one
            if (kind, k) in (("facts", "run"), ("facts", "replay"), ("run", "replay")):
                for p in paths:
                    p.unlink()
        target.write_bytes(raw)
        os.chmod(target, 0o600)
        proc = _run(root, ".", cache=cache)
        assert (proc.returncode, proc.stdout) == (truth.returncode, truth.stdout), proc.stderr
        assert "Traceback" not in proc.stderr and "warning" not in proc.stderr, proc.stderr
        again = _run(root, ".", cache=cache)  # healed
        assert (again.returncode, again.stdout) == (truth.returncode, truth.stdout), again.stderr


def test_a_same_size_edit_that_keeps_the_mtime_is_seen_by_every_layer(tmp_path):
    """touch -r / cp -p / tar: the size and the mtime are those of before; the ctime is not."""
    cache = tmp_path / "cache"
    for layer in ("replay", "run", "facts"):
        root = _project(tmp_path / layer)
        _age(root)
        out = ["-o", str(tmp_path / "o.txt")] if layer != "replay" else []
        first = _run(root, *out, ".", cache=cache)
        assert first.returncode == 1
        if layer == "replay":
            assert _run(root, ".", cache=cache).stdout == first.stdout  # recorded and replayed
        st = os.stat(root / "app.py")
        (root / "app.py").write_text(EDITED)
        os.utime(root / "app.py", ns=(st.st_atime_ns, st.st_mtime_ns))
        assert os.stat(root / "app.py").st_size == st.st_size
        if layer == "facts":
            for p in cache.rglob("*.run"):
                p.unlink()
        proc = _run(root, *out, ".", cache=cache)
        assert proc.returncode == 0, (layer, proc.stdout, proc.stderr)
        fix = _run(root, "--fix", ".", cache=cache)
        assert fix.returncode == 0, (layer, fix.stderr)


def test_the_cache_keys_hold_the_interpreter(tmp_path):
    code = "import sys; sys.version = sys.argv[1]; from astack_lint.cache.keys import tool_key; print(tool_key())"
    keys = {subprocess.run([sys.executable, "-c", code, v], capture_output=True, text=True, check=True).stdout
            for v in ("3.11.7 (main)", "3.12.1 (main)")}
    assert len(keys) == 2


def test_temporary_files_left_by_a_killed_run_are_removed(tmp_path):
    root = _project(tmp_path / "p")
    cache = tmp_path / "cache"
    _layers(root, cache)
    dirs = sorted({p.parent for p in _cache_files(cache) if p.name != files.PRUNE_STAMP})
    assert dirs
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    for d in dirs:
        (d / f".tmp-{dead.pid}-0123456789ab").write_bytes(b"half a cache file")
        (d / f".tmp-{os.getppid()}-0123456789ab").write_bytes(b"a live writer's file")
    (root / "app.py").write_text(EDITED)  # so that every layer writes again
    _age(root)
    _run(root, ".", cache=cache)
    for d in dirs:
        left = sorted(p.name for p in d.iterdir() if p.name.startswith(".tmp-"))
        assert left == [f".tmp-{os.getppid()}-0123456789ab"], (d, left)


def test_each_root_s_facts_file_holds_its_own_files_only(tmp_path):
    """One run over many project roots: the k-th root's cache file held the entries of all k roots
    linted so far (quadratic in the number of roots)."""
    top = tmp_path / "mono"
    for i in range(6):
        root = _project(top / f"p{i}")
        for j in range(3):
            (root / f"m{j}.py").write_text(APP.replace("app", f"app{j}"))
    cache = tmp_path / "cache"
    proc = _run(top, "--jobs", "1", *[f"p{i}" for i in range(6)], cache=cache)
    assert proc.returncode == 1, proc.stderr
    facts = sorted(cache.rglob("*.facts"))
    assert len(facts) == 6
    for p in facts:
        entries = files.read(str(p))[2]
        assert len(entries) == 4 and len({os.path.dirname(e) for e in entries}) == 1, sorted(entries)


def test_pruning_removes_what_was_not_used_for_a_month_and_caps_the_size(tmp_path, monkeypatch):
    import time

    top = tmp_path / "cache"
    d = top / "v0.0.0-f2-0123456789abcdef"
    d.mkdir(parents=True)
    now = time.time()
    for name, age_days, size in (("old.facts", 40, 10), ("recent.facts", 1, 10), ("big1.run", 2, 600), ("big2.run", 3, 600)):
        (d / name).write_bytes(b"x" * size)
        os.utime(d / name, (now - age_days * 86400, now - age_days * 86400))
    (top / "unrelated.txt").write_text("not ours\n")
    monkeypatch.setattr(files, "MAX_BYTES", 1000)
    files.prune(str(top), now)
    assert sorted(p.name for p in d.iterdir()) == ["big1.run", "recent.facts"]
    (d / "recent.facts").unlink()
    os.utime(top / files.PRUNE_STAMP, (now - 2 * 86400, now - 2 * 86400))
    os.utime(d / "big1.run", (now - 31 * 86400, now - 31 * 86400))
    files.prune(str(top), now)
    assert not d.exists() and (top / "unrelated.txt").exists()  # an empty version folder goes too


def test_a_cache_file_in_use_is_not_pruned(tmp_path):
    import time

    p = tmp_path / "v0.0.0-f2-x" / "a.facts"
    p.parent.mkdir()
    files.write(str(p), ("facts", 2, {}))
    old = time.time() - 40 * 86400
    os.utime(p, (old, old))
    assert files.read(str(p)) == ("facts", 2, {})  # a read marks it used
    files.prune(str(tmp_path))
    assert p.exists()


def test_clean_removes_the_cache_and_nothing_else(tmp_path):
    root = _project(tmp_path / "p")
    cache = tmp_path / "cache"
    _layers(root, cache)
    (cache / "notes.txt").write_text("mine\n")
    proc = _run(root, "clean", cache=cache)
    assert proc.returncode == 0 and "removed" in proc.stderr, proc.stderr
    assert sorted(p.name for p in cache.iterdir()) == ["notes.txt"]
    (cache / "notes.txt").unlink()
    _layers(root, cache)
    assert _run(root, "clean", "--cache-dir", str(cache)).returncode == 0
    assert not cache.exists()


def _engine_ran(proc: subprocess.CompletedProcess) -> bool:
    return any(line.startswith("import time:") and "astack_lint.engine" in line for line in proc.stderr.splitlines())


def test_the_replay_watches_the_environment_variables_the_run_read(tmp_path):
    """TERM decides colour: it was not part of the record, so TERM=dumb replayed TERM=xterm's."""
    root = _project(tmp_path / "p")
    _age(root)
    cache = tmp_path / "cache"

    def run(term: str) -> subprocess.CompletedProcess:
        env = dict(os.environ, TERM=term, ASTACK_LINT_CACHE_DIR=str(cache))
        env.pop("NO_COLOR", None)
        return subprocess.run([sys.executable, "-X", "importtime", "-m", "astack_lint", "."], cwd=str(root),
                              capture_output=True, text=True, env=env, timeout=600)

    assert _engine_ran(run("xterm"))
    assert not _engine_ran(run("xterm"))  # replayed
    assert _engine_ran(run("dumb"))
    assert not _engine_ran(run("dumb"))
    assert _engine_ran(run("xterm"))  # one record per command: the last one


def test_the_watch_notes_what_a_run_reads_but_not_imports_or_writes(tmp_path):
    from astack_lint.cache.replay import Watch

    read, written = tmp_path / "read.txt", tmp_path / "written.txt"
    read.write_text("x")
    watch = Watch()
    with watch:
        os.environ.get("ASTACK_LINT_TEST_UNSET")
        assert "HOME" in os.environ or True
        read.read_text()
        written.write_text("y")
        import email.mime.audio  # noqa: F401  (an import: the interpreter's own read)
    assert watch.env["ASTACK_LINT_TEST_UNSET"] is None and "HOME" in watch.env
    assert str(read) in watch.files() and str(written) not in watch.files()
    assert not [p for p in watch.files() if p.endswith((".py", ".pyc"))]
    assert not isinstance(os.environ, type(watch)) and type(os.environ).__name__ == "_Environ"


def test_the_facts_cache_gives_back_every_fact_of_every_fixture(tmp_path):
    """The facts are written field by field: a field the cache forgot would be lost silently."""
    import marshal

    from astack_lint.cache.facts import decode_facts, encode_facts
    from astack_lint.engine.parse import analyse, rule_data_for
    from astack_lint.rules.registry import all_rules
    from astack_lint.source import read_source

    fixtures = Path(__file__).resolve().parent.parent / "fixtures"
    checked = 0
    for path in sorted(fixtures.rglob("*.py")):
        source = read_source(str(path))
        try:
            facts = analyse(str(path), source)
            facts.rule_data = rule_data_for(str(path), source, all_rules())
        except Exception:
            continue
        back = decode_facts(marshal.loads(marshal.dumps(encode_facts(facts))))
        want = {k: v for k, v in vars(facts).items() if k not in ("rule_loader", "_scope_names")}
        got = {k: v for k, v in vars(back).items() if k not in ("rule_loader", "_scope_names")}
        assert got == want, path
        for core in ("imports", "functions", "classes", "bindings", "subscript_assigns", "calls"):  # the same classes
            assert repr(got[core]) == repr(want[core]), (path, core)
        assert back._scope_names == facts._scope_names or not facts._scope_names
        checked += 1
    assert checked > 100
