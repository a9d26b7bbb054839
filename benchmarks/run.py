#!/usr/bin/env python3
"""Benchmark astack-lint against its peers on pinned PyPI corpora.

    python benchmarks/run.py [--quick] [--runs N] [--corpora django,prefect,...] [--out FILE]

Fetches each corpus by name==version with pip into a work directory, builds venvs of its own
(peers pinned in benchmarks/requirements-peers.txt, astack-lint from this checkout), runs every
command in a fresh subprocess, and reports medians of wall seconds, CPU seconds, files/s and peak
memory, the ratios its targets set, and which targets are met. It never fails on a
missed target (exit 0); it exits 1 only when it cannot set itself up. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import threading
import time
import zipfile
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
REQUIREMENTS = os.path.join(HERE, "requirements-peers.txt")


class Corpus(NamedTuple):
    name: str
    spec: str  # name==version on PyPI
    dist: str  # "sdist" or "wheel"
    python: str  # the release's own minimum Python (for pip download --python-version)
    subdir: str  # what is linted, relative to the unpacked folder ("" = all of it)
    kind: str


CORPORA: Dict[str, Corpus] = {
    c.name: c
    for c in (
        # the sdist, with Django's own test suite: about 2,900 files, 520k lines, no FastAPI
        Corpus("django", "django==6.1.3", "sdist", "3.12", "django-6.1.3", "large, non-FastAPI"),
        # Prefect's server is a FastAPI app (prefect/server/api: ~40 routers, dependencies, middleware)
        Corpus("prefect", "prefect==3.9.1", "wheel", "3.12", "", "FastAPI-heavy"),
        # about 8,000 files, 1.1M lines (43 MB wheel); needs Python >= 3.13 syntax
        Corpus("homeassistant", "homeassistant==2025.4.4", "wheel", "3.13", "", "very large"),
        # other FastAPI servers, not in the default set
        Corpus("dstack", "dstack==0.22.5", "wheel", "3.9", "", "FastAPI-heavy"),
        Corpus("zenml", "zenml==0.98.0", "wheel", "3.10", "", "FastAPI-heavy"),
    )
}
DEFAULT_CORPORA = ("django", "prefect", "homeassistant")
GROUPS = ("ast", "astack", "flake8", "plugin", "bugbear", "ruff", "fixit")

# ---------------------------------------------------------------------------------------------
# small helpers


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run_setup(cmd: Sequence[str], **kw: Any) -> str:
    """Run a setup command; raise with its output if it fails."""
    proc = subprocess.run(list(cmd), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    if proc.returncode != 0:
        raise SetupError(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stdout[-3000:]}")
    return proc.stdout


class SetupError(Exception):
    pass


def loadavg() -> Optional[List[float]]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def median(values: Sequence[float]) -> Optional[float]:
    return statistics.median(values) if values else None


# ---------------------------------------------------------------------------------------------
# corpora


def fetch_corpus(corpus: Corpus, work: str) -> str:
    """Download and unpack a corpus once; return the directory to lint."""
    dest = os.path.join(work, "corpora", corpus.name)
    target = os.path.join(dest, corpus.subdir) if corpus.subdir else dest
    marker = os.path.join(dest, ".astack-bench-complete")
    if os.path.exists(marker):
        with open(marker) as fh:
            if fh.read().strip() == corpus.spec:
                return target
    downloads = os.path.join(work, "downloads", corpus.name)
    shutil.rmtree(downloads, ignore_errors=True)
    os.makedirs(downloads)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-d", downloads]
    cmd += ["--python-version", corpus.python]
    cmd += ["--no-binary=:all:"] if corpus.dist == "sdist" else ["--only-binary=:all:"]
    cmd.append(corpus.spec)
    log(f"fetching {corpus.spec} ({corpus.dist}) ...")
    run_setup(cmd)
    files = os.listdir(downloads)
    if len(files) != 1:
        raise SetupError(f"expected one file for {corpus.spec} in {downloads}, got {files}")
    archive = os.path.join(downloads, files[0])
    tmp = dest + ".partial"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(dest, ignore_errors=True)
    os.makedirs(tmp)
    if archive.endswith(".whl") or archive.endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(tmp)
    else:
        with tarfile.open(archive) as tf:
            if hasattr(tarfile, "data_filter"):
                tf.extractall(tmp, filter="data")
            else:
                tf.extractall(tmp)
    with open(os.path.join(tmp, ".astack-bench-complete"), "w") as fh:
        fh.write(corpus.spec + "\n")
    os.rename(tmp, dest)
    if not os.path.isdir(target):
        raise SetupError(f"{corpus.spec}: {target} not found after unpacking")
    return target


def count_tree(top: str) -> Dict[str, int]:
    """Python files, lines and bytes under top (this also brings the files into the page cache)."""
    files = lines = size = 0
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames.sort()
        for name in filenames:
            if name.endswith(".py"):
                with open(os.path.join(dirpath, name), "rb") as fh:
                    raw = fh.read()
                files += 1
                size += len(raw)
                lines += raw.count(b"\n") + (1 if raw and not raw.endswith(b"\n") else 0)
    return {"files": files, "lines": lines, "bytes": size}


# ---------------------------------------------------------------------------------------------
# venvs


def read_pins(path: str = REQUIREMENTS) -> Dict[str, List[str]]:
    """requirements-peers.txt: ``name==version  # venv: a b``  ->  {venv: [name==version, ...]}"""
    pins: Dict[str, List[str]] = {}
    with open(path) as fh:
        for line in fh:
            req, _, comment = line.partition("#")
            req = req.strip()
            if not req:
                continue
            comment = comment.strip()
            if not comment.startswith("venv:"):
                raise SetupError(f"{path}: {line.strip()!r} names no venv ('# venv: ...')")
            for venv in comment[len("venv:") :].split():
                pins.setdefault(venv, []).append(req)
    return pins


def venv_bin(work: str, venv: str, exe: str) -> str:
    sub = "Scripts" if sys.platform == "win32" else "bin"
    return os.path.join(work, "venvs", venv, sub, exe)


def ensure_venv(work: str, name: str, python: str, requirements: List[str]) -> None:
    path = os.path.join(work, "venvs", name)
    marker = os.path.join(path, ".astack-bench-requirements")
    wanted = "\n".join([python] + sorted(requirements))
    if os.path.exists(marker):
        with open(marker) as fh:
            if fh.read() == wanted:
                return
    log(f"creating venv {name}: {' '.join(requirements)} ...")
    shutil.rmtree(path, ignore_errors=True)
    run_setup([python, "-m", "venv", path])
    run_setup([venv_bin(work, name, "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", *requirements])
    with open(marker, "w") as fh:
        fh.write(wanted)


def astack_source(work: str, source: str, worktree: bool) -> Tuple[str, Dict[str, Any]]:
    """A clean copy of the astack-lint checkout to install: HEAD (git archive) by default, so
    other people's uncommitted edits are not measured, and nothing is built inside the checkout."""
    info: Dict[str, Any] = {"source": source}
    sha = None
    if os.path.isdir(os.path.join(source, ".git")):
        try:
            sha = subprocess.run(["git", "-C", source, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
            dirty = subprocess.run(["git", "-C", source, "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True).stdout
            info["commit"] = sha
            info["checkout_dirty"] = bool(dirty.strip())
        except (OSError, subprocess.CalledProcessError):
            sha = None
    if sha and not worktree:
        dest = os.path.join(work, "src", f"astack-lint-{sha[:12]}")
        if not os.path.isdir(dest):
            tmp = dest + ".partial"
            shutil.rmtree(tmp, ignore_errors=True)
            os.makedirs(tmp)
            archive = subprocess.run(["git", "-C", source, "archive", "--format=tar", "HEAD"], capture_output=True, check=True).stdout
            tar_path = tmp + ".tar"
            with open(tar_path, "wb") as fh:
                fh.write(archive)
            with tarfile.open(tar_path) as tf:
                if hasattr(tarfile, "data_filter"):
                    tf.extractall(tmp, filter="data")
                else:
                    tf.extractall(tmp)
            os.remove(tar_path)
            os.rename(tmp, dest)
        info["installed_from"] = f"git archive {sha}"
        return dest, info
    # the working tree as it is (--worktree, or not a git checkout)
    dest = os.path.join(work, "src", "astack-lint-worktree")
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(
        source,
        dest,
        ignore=shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache"),
    )
    info["installed_from"] = "working tree" + (f" on {sha}" if sha else "")
    return dest, info


def setup_venvs(work: str, python: str, groups: Sequence[str], src: str, src_info: Dict[str, Any]) -> Dict[str, Any]:
    pins = read_pins()
    need = set()
    if {"flake8", "ruff", "fixit"} & set(groups):
        need.add("peers")
    if "bugbear" in groups:
        need.add("bugbear")
    need.add("axs")  # astack-lint itself, the plugin, and the interpreter of the ast floor
    for name in sorted(need):
        ensure_venv(work, name, python, pins.get(name, []))
    # astack-lint: (re)installed when the source changed (same version number, other code); a
    # working tree is reinstalled every time
    marker = os.path.join(work, "venvs", "axs", ".astack-bench-installed")
    stamp = src_info["installed_from"]
    previous = open(marker).read() if os.path.exists(marker) else ""
    if previous != stamp or stamp.startswith("working tree"):
        log(f"installing astack-lint ({stamp}) ...")
        pip = [venv_bin(work, "axs", "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        run_setup(pip + [src])  # its dependencies
        run_setup(pip + ["--no-deps", "--force-reinstall", src])
        with open(marker, "w") as fh:
            fh.write(stamp)
    versions: Dict[str, Any] = {}
    for name in sorted(need):
        freeze = run_setup([venv_bin(work, name, "python"), "-m", "pip", "freeze", "--disable-pip-version-check"])
        versions[name] = sorted(line for line in freeze.splitlines() if line and not line.startswith("#"))
    flake8_axs = run_setup([venv_bin(work, "axs", "flake8"), "--version"]).strip()
    if "astack-lint" not in flake8_axs:
        raise SetupError(f"the astack-lint flake8 plugin is not registered in the axs venv: {flake8_axs}")
    versions["flake8 --version (axs venv)"] = flake8_axs
    versions["astack-lint --version"] = run_setup([venv_bin(work, "axs", "astack-lint"), "--version"]).strip()
    if "peers" in need:
        versions["flake8 --version (peers venv)"] = run_setup([venv_bin(work, "peers", "flake8"), "--version"]).strip()
    return versions


# ---------------------------------------------------------------------------------------------
# measuring one command


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _session_rss(sid: int) -> Optional[int]:
    """Total resident memory of the processes of a session (Linux /proc), in bytes."""
    total = 0
    try:
        names = os.listdir("/proc")
    except OSError:
        return None
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                data = fh.read()
        except OSError:
            continue
        fields = data[data.rfind(b")") + 2 :].split()
        # after the command: state ppid pgrp session ... rss is field 24 of stat (index 21 here)
        try:
            if int(fields[3]) == sid:
                total += int(fields[21]) * _PAGE
        except (IndexError, ValueError):
            continue
    return total


class Measurement(NamedTuple):
    wall: float
    cpu: float  # user + system of the process and every descendant it waited for
    maxrss_mb: float  # the largest single process (ru_maxrss)
    tree_mb: Optional[float]  # the largest sampled sum over the process tree (every 0.5 s)
    rc: Optional[int]
    timeout: bool
    out_lines: int
    stderr_tail: str

    def as_json(self) -> Dict[str, Any]:
        d = self._asdict()
        for k in ("wall", "cpu", "maxrss_mb", "tree_mb"):
            if d[k] is not None:
                d[k] = round(d[k], 3)
        return d


def measure(argv: Sequence[str], cwd: str, env: Dict[str, str], timeout: float, out_path: str) -> Measurement:
    err_path = out_path[: -len(".out")] + ".err" if out_path.endswith(".out") else out_path + ".err"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(list(argv), cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True)
        peak_tree = [0]
        done = threading.Event()
        timed_out = [False]

        def sample() -> None:
            while not done.wait(0.5):
                rss = _session_rss(proc.pid)
                if rss is None:
                    return
                peak_tree[0] = max(peak_tree[0], rss)

        def kill() -> None:
            timed_out[0] = True
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            wall = time.perf_counter() - t0
            timer.cancel()
            done.set()
        proc.returncode = os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else status
        try:  # leftovers (a killed parent's workers)
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    maxrss_mb = usage.ru_maxrss * scale / (1024 * 1024)
    with open(out_path, "rb") as fh:
        out_lines = fh.read().count(b"\n")
    with open(err_path, "rb") as fh:
        tail = fh.read()[-600:].decode("utf-8", "replace").strip()
    tree = peak_tree[0] / (1024 * 1024) if peak_tree[0] else None
    return Measurement(
        wall, usage.ru_utime + usage.ru_stime, maxrss_mb, tree, None if timed_out[0] else proc.returncode, timed_out[0], out_lines, tail
    )


# ---------------------------------------------------------------------------------------------
# the rows

FLOOR = r"""
import ast, os, sys, warnings
warnings.simplefilter("ignore")
n = bad = 0
for d, ds, fs in os.walk("."):
    ds.sort()
    for f in sorted(fs):
        if f.endswith(".py"):
            n += 1
            p = os.path.join(d, f)
            try:
                with open(p, "rb") as fh:
                    ast.parse(fh.read(), p)
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                bad += 1
                print(p)
print(f"{n} files, {bad} not parsed", file=sys.stderr)
"""


class Row(NamedTuple):
    key: str
    group: str
    label: str
    argv: List[str]
    prime: bool  # run once, unmeasured, before the first measurement (a warm cache)
    state: Optional[str]  # a cache directory emptied at the start of the benchmark
    note: str


def rows_for(corpus: Corpus, work: str, jobs: int, groups: Sequence[str]) -> List[Row]:
    state = os.path.join(work, "state", corpus.name)
    axs = lambda exe: venv_bin(work, "axs", exe)  # noqa: E731
    peers = lambda exe: venv_bin(work, "peers", exe)  # noqa: E731
    bugbear = lambda exe: venv_bin(work, "bugbear", exe)  # noqa: E731
    rows: List[Row] = []
    add = rows.append
    if "ast" in groups:
        add(Row("ast-floor", "ast", "ast.parse every file (floor)", [axs("python"), "-c", FLOOR], False, None, "one process, no output"))
    if "astack" in groups:
        base = [axs("astack-lint"), "-q", "--exit-zero"]
        for j in (1, jobs):
            add(Row(f"astack-cold-j{j}", "astack", f"astack-lint cold --jobs {j}", base + ["--no-cache", "--jobs", str(j), "."], False, None, "--no-cache"))
        cache = os.path.join(state, "astack-cache")
        for j in (1, jobs):
            add(Row(f"astack-warm-j{j}", "astack", f"astack-lint warm --jobs {j}", base + ["--cache-dir", cache, "--jobs", str(j), "."], True, cache, "cache primed by one unmeasured run, nothing changed"))
    if "flake8" in groups:
        add(Row("flake8-j1", "flake8", "flake8 (pyflakes+pycodestyle) -j1", [peers("flake8"), "--isolated", "--exit-zero", "-j1", "."], False, None, "venv with flake8 only"))
    if "plugin" in groups:
        add(Row("flake8-axs-j1", "plugin", "flake8 + astack-lint plugin -j1", [axs("flake8"), "--isolated", "--exit-zero", "-j1", "--no-cache", "."], False, None, "same flake8, plugin installed (AXS on by default), plugin cache off"))
        cache = os.path.join(state, "plugin-cache")
        add(Row("flake8-axs-warm-j1", "plugin", "flake8 + astack-lint plugin -j1, warm", [axs("flake8"), "--isolated", "--exit-zero", "-j1", "--cache-dir", cache, "."], True, cache, "plugin cache primed"))
    if "bugbear" in groups:
        add(Row("flake8-B-j1", "bugbear", "flake8 --select=B -j1 (bugbear)", [bugbear("flake8"), "--isolated", "--exit-zero", "--select=B", "-j1", "."], False, None, "venv with flake8 + bugbear"))
    if "ruff" in groups:
        sel = ["check", "--isolated", "--select", "ASYNC,FAST", "--exit-zero", "--quiet", "--output-format", "concise"]
        add(Row("ruff-cold", "ruff", "ruff check --select ASYNC,FAST, no cache", [peers("ruff"), *sel, "--no-cache", "."], False, None, "all cores (ruff's own threads)"))
        cache = os.path.join(state, "ruff-cache")
        add(Row("ruff-cached", "ruff", "ruff check --select ASYNC,FAST, cached", [peers("ruff"), *sel, "--cache-dir", cache, "."], True, cache, "cache primed"))
    if "fixit" in groups:
        add(Row("fixit", "fixit", "fixit lint (default rules)", [peers("fixit"), "lint", "."], False, None, "fixit's own process pool (all cores)"))
    return rows


# ---------------------------------------------------------------------------------------------
# ratios and targets


def ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    if a is None or b is None or b <= 0:
        return None
    return a / b


def compute_ratios(results: Dict[str, Any], jobs: int) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    """Ratios of medians (wall, and CPU as a cross-check on a shared machine) and the targets."""
    ratios: List[Dict[str, Any]] = []
    targets: List[Dict[str, Any]] = []

    def med(corpus: str, row: str, metric: str) -> Optional[float]:
        r = results.get(corpus, {}).get("rows", {}).get(row)
        return r.get(f"median_{metric}") if r else None

    def add(name: str, corpus: str, num: str, den: str, limit: Optional[float], better: str, target: Optional[str]) -> None:
        w = ratio(med(corpus, num, "wall"), med(corpus, den, "wall"))
        c = ratio(med(corpus, num, "cpu"), med(corpus, den, "cpu"))
        if w is None:
            return
        entry = {"name": name, "corpus": corpus, "numerator": num, "denominator": den, "wall": round(w, 3), "cpu": round(c, 3) if c is not None else None}
        ratios.append(entry)
        if target and limit is not None:
            met = w <= limit if better == "<=" else w >= limit
            met_cpu = None if c is None else (c <= limit if better == "<=" else c >= limit)
            targets.append({"target": target, "corpus": corpus, "ratio": name, "wall": entry["wall"], "cpu": entry["cpu"], "limit": f"{better} {limit}", "met": met, "met_cpu": met_cpu})

    fastapi = [c for c in results if CORPORA.get(c) and CORPORA[c].kind == "FastAPI-heavy"]
    jN = f"j{jobs}"
    for corpus in results:
        limit = 0.25 if corpus == "django" else 0.5 if corpus in fastapi else None
        tgt = "cold standalone <= %sx flake8 --select=B -j1" % limit if limit else None
        add("astack cold j1 / flake8-B j1", corpus, "astack-cold-j1", "flake8-B-j1", limit, "<=", tgt)
        if jobs != 1:
            add(f"astack cold {jN} / flake8-B j1", corpus, f"astack-cold-{jN}", "flake8-B-j1", limit, "<=", None)
        add(f"fixit / astack cold {jN}", corpus, "fixit", f"astack-cold-{jN}", 10.0, ">=", "at least 10x faster than fixit lint")
        if jobs != 1:
            add("fixit / astack cold j1", corpus, "fixit", "astack-cold-j1", 10.0, ">=", None)
        add(f"astack warm {jN} / ruff cached", corpus, f"astack-warm-{jN}", "ruff-cached", 2.0, "<=", "warm <= 2x ruff check cached")
        if jobs != 1:
            add("astack warm j1 / ruff cached", corpus, "astack-warm-j1", "ruff-cached", 2.0, "<=", None)
        add(
            "flake8+plugin / flake8 (j1)", corpus, "flake8-axs-j1", "flake8-j1", 1.25, "<=",
            "flake8 with the plugin <= 1.25x flake8 without" if corpus == "django" else None,
        )
        add("flake8+plugin warm / flake8 (j1)", corpus, "flake8-axs-warm-j1", "flake8-j1", None, "<=", None)
        add("astack cold j1 / ast floor", corpus, "astack-cold-j1", "ast-floor", None, "<=", None)
        add("astack warm j1 / ast floor", corpus, "astack-warm-j1", "ast-floor", None, "<=", None)
        add("flake8 j1 / ast floor", corpus, "flake8-j1", "ast-floor", None, "<=", None)
        add("ruff cold / ast floor", corpus, "ruff-cold", "ast-floor", None, "<=", None)
        add(f"astack cold j1 / cold {jN} (parallel speed-up)", corpus, "astack-cold-j1", f"astack-cold-{jN}", None, ">=", None)
        add("astack cold j1 / warm j1 (cache speed-up)", corpus, "astack-cold-j1", "astack-warm-j1", None, ">=", None)

    # memory: peak of the single-process cold run against the tree size
    mem = []
    for corpus, data in results.items():
        rows = data.get("rows", {})
        row = rows.get("astack-cold-j1")
        prime = (rows.get("astack-warm-j1") or {}).get("prime")
        if row and row.get("peak_mb") is not None:
            mem.append((data["files"], data["lines"], corpus, row["peak_mb"], "astack-cold-j1"))
        elif prime and not prime["timeout"]:  # a cold run too (it writes the cache)
            mem.append((data["files"], data["lines"], corpus, prime["maxrss_mb"], "astack-warm-j1 priming run"))
    mem.sort()
    if mem:
        detail = [
            {"corpus": c, "files": f, "lines": n, "peak_mb": round(m, 1), "mb_per_1000_files": round(1000 * m / f, 1), "from": src}
            for f, n, c, m, src in mem
        ]
        entry: Dict[str, Any] = {"target": "peak memory grows less than linearly with the tree", "corpus": ",".join(d["corpus"] for d in detail), "detail": detail, "met": None}
        if len(mem) >= 2:
            (f0, _, _, m0, _), (f1, _, _, m1, _) = mem[0], mem[-1]
            entry["files_ratio"] = round(f1 / f0, 2)
            entry["memory_ratio"] = round(m1 / m0, 2)
            entry["met"] = m1 / m0 < f1 / f0
        targets.append(entry)
    return ratios, targets


# ---------------------------------------------------------------------------------------------
# output


def fmt(x: Optional[float], digits: int = 2) -> str:
    if x is None:
        return "-"
    if abs(x) >= 100:
        return f"{x:.0f}"
    return f"{x:.{digits}f}"


def print_report(report: Dict[str, Any]) -> None:
    out = sys.stdout
    meta = report["meta"]
    print(f"\nastack-lint benchmark  {meta['date']}  {meta['machine']}", file=out)
    print(f"load average before/after: {meta.get('loadavg_start')} / {meta.get('loadavg_end')}", file=out)
    for name, data in report["corpora"].items():
        print(f"\n== {name}: {data['spec']} ({data['kind']}), {data['files']} .py files, {data['lines']} lines", file=out)
        floor = data["rows"].get("ast-floor", {}).get("median_wall")
        head = f"{'command':46} {'runs':>4} {'wall s':>8} {'cpu s':>8} {'files/s':>8} {'peak MB':>8} {'tree MB':>8} {'x floor':>8}  notes"
        print(head, file=out)
        print("-" * len(head), file=out)
        for key, row in data["rows"].items():
            runs = row["runs"]
            notes = []
            if any(r["timeout"] for r in runs):
                notes.append("TIMEOUT")
            rcs = sorted({r["rc"] for r in runs if r["rc"] is not None})
            if rcs and rcs != [0]:
                notes.append("rc " + ",".join(map(str, rcs)))
            if runs and runs[-1]["out_lines"]:
                notes.append(f"{runs[-1]['out_lines']} output lines")
            if row.get("skipped"):
                notes.append(row["skipped"])
            print(
                f"{row['label'][:46]:46} {len(runs):>4} {fmt(row.get('median_wall')):>8} {fmt(row.get('median_cpu')):>8} "
                f"{fmt(row.get('files_per_s'), 0):>8} {fmt(row.get('peak_mb'), 0):>8} {fmt(row.get('tree_mb'), 0):>8} "
                f"{fmt(ratio(row.get('median_wall'), floor)):>8}  {'; '.join(notes)}",
                file=out,
            )
            prime = row.get("prime")
            if prime:
                print(
                    f"{'  its priming run (empty cache, written)':46} {1:>4} {fmt(prime['wall']):>8} {fmt(prime['cpu']):>8} "
                    f"{fmt(data['files'] / prime['wall'] if prime['wall'] else None, 0):>8} {fmt(prime['maxrss_mb'], 0):>8} "
                    f"{fmt(prime['tree_mb'], 0):>8} {fmt(ratio(prime['wall'], floor)):>8}  {'TIMEOUT' if prime['timeout'] else ''}",
                    file=out,
                )
    if report["ratios"]:
        print("\n== ratios of medians (wall; cpu in brackets)", file=out)
        for r in report["ratios"]:
            print(f"{r['corpus']:14} {r['name']:46} {fmt(r['wall'], 3):>8}  [{fmt(r['cpu'], 3)}]", file=out)
    if report["targets"]:
        print("\n== targets", file=out)
        for t in report["targets"]:
            if "detail" in t:
                sizes = ", ".join(f"{d['corpus']} {d['files']} files: {d['peak_mb']} MB" for d in t["detail"])
                verdict = "n/a" if t["met"] is None else ("MET" if t["met"] else "MISSED")
                extra = f" (files x{t['files_ratio']}, memory x{t['memory_ratio']})" if "files_ratio" in t else ""
                print(f"{verdict:7} {t['target']}: {sizes}{extra}", file=out)
            else:
                verdict = "MET" if t["met"] else "MISSED"
                cpu = "" if t["met_cpu"] is None else f"; by CPU time {fmt(t['cpu'], 3)}: {'met' if t['met_cpu'] else 'missed'}"
                print(f"{verdict:7} {t['target']} on {t['corpus']}: {t['ratio']} = {fmt(t['wall'], 3)} ({t['limit']}{cpu})", file=out)


# ---------------------------------------------------------------------------------------------
# main


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="one run of each command (same as --runs 1)")
    p.add_argument("--runs", type=int, default=None, help="runs of each command; the median is reported (default 3)")
    p.add_argument("--corpora", default=",".join(DEFAULT_CORPORA), help=f"comma-separated, from: {', '.join(CORPORA)} (default: %(default)s)")
    p.add_argument("--tools", default=",".join(GROUPS), help=f"comma-separated groups of rows, from: {', '.join(GROUPS)} (default: all)")
    p.add_argument("--rows", default=None, help="only these rows (keys as in the table's JSON, e.g. ast-floor,astack-cold-j1,ruff-cached); default: every row of --tools")
    p.add_argument("--out", default=None, help="write the JSON here (default: WORK/results/<date>.json)")
    p.add_argument("--work", default=os.path.join(os.path.expanduser("~"), ".cache", "astack-lint-bench"), help="downloads, corpora, venvs, caches, logs (default: %(default)s)")
    p.add_argument("--python", default=sys.executable, help="interpreter for the benchmark's venvs (default: this one); it must read the corpora's syntax (homeassistant: 3.13+)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="the 'all cores' job count for astack-lint (default: %(default)s)")
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds before one command is killed and recorded as a timeout (default: %(default)s)")
    p.add_argument("--repeat-limit", type=float, default=900.0, help="a command whose first run took longer than this many seconds is not repeated (default: %(default)s)")
    p.add_argument("--source", default=REPO, help="the astack-lint checkout to install (default: this one)")
    p.add_argument("--worktree", action="store_true", help="install the checkout's working tree, uncommitted edits included, instead of its HEAD commit")
    args = p.parse_args(argv)
    args.runs = 1 if args.quick and args.runs is None else (args.runs or 3)
    args.corpora = [c.strip() for c in args.corpora.split(",") if c.strip()]
    args.tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    args.rows = [r.strip() for r in args.rows.split(",") if r.strip()] if args.rows else None
    for c in args.corpora:
        if c not in CORPORA:
            p.error(f"unknown corpus {c!r} (known: {', '.join(CORPORA)})")
    for t in args.tools:
        if t not in GROUPS:
            p.error(f"unknown tool group {t!r} (known: {', '.join(GROUPS)})")
    return args


def python_version(python: str) -> Tuple[int, int]:
    out = run_setup([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]).strip()
    major, minor = out.split(".")
    return int(major), int(minor)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    work = os.path.abspath(os.path.expanduser(args.work))
    os.makedirs(work, exist_ok=True)
    started = datetime.datetime.now()
    out_path = args.out or os.path.join(work, "results", started.strftime("%Y%m%d-%H%M%S") + ".json")
    try:
        pyver = python_version(args.python)
        src, src_info = astack_source(work, os.path.abspath(args.source), args.worktree)
        versions = setup_venvs(work, args.python, args.tools, src, src_info)
        corpora: Dict[str, Tuple[Corpus, str, Dict[str, int]]] = {}
        for name in args.corpora:
            corpus = CORPORA[name]
            minimum = tuple(int(x) for x in corpus.python.split("."))
            if pyver < minimum:
                log(f"warning: {corpus.spec} is written for Python >= {corpus.python}; with {pyver[0]}.{pyver[1]} its newer syntax is a syntax error for every tool")
            path = fetch_corpus(corpus, work)
            corpora[name] = (corpus, path, count_tree(path))
    except (SetupError, OSError, subprocess.CalledProcessError) as exc:
        log(f"benchmark setup failed: {exc}")
        return 1

    env = {k: v for k, v in os.environ.items() if not k.startswith("ASTACK_LINT_") and k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["ASTACK_LINT_CACHE_DIR"] = os.path.join(work, "state", "default-cache")  # never the user's cache
    env["PYTHONWARNINGS"] = "ignore"
    report: Dict[str, Any] = {
        "meta": {
            "date": started.isoformat(timespec="seconds"),
            "machine": f"{platform.node()}, {os.cpu_count()} cores, {platform.machine()}, {platform.system()} {platform.release()}",
            "cpus": os.cpu_count(),
            "python": run_setup([args.python, "-c", "import sys; print(sys.version)"]).strip(),
            "runs": args.runs,
            "jobs_all": args.jobs,
            "timeout": args.timeout,
            "repeat_limit": args.repeat_limit,
            "tools": args.tools,
            "astack_lint": src_info,
            "versions": versions,
            "loadavg_start": loadavg(),
        },
        "corpora": {},
        "ratios": [],
        "targets": [],
    }

    plan: List[Tuple[str, Row]] = []
    for name, (corpus, path, counts) in corpora.items():
        rows = rows_for(corpus, work, args.jobs, args.tools)
        if args.rows is not None:
            rows = [r for r in rows if r.key in args.rows]
        report["corpora"][name] = {"spec": corpus.spec, "kind": corpus.kind, "path": path, **counts, "rows": {}}
        for row in rows:
            report["corpora"][name]["rows"][row.key] = {"label": row.label, "cmd": row.argv, "note": row.note, "runs": []}
            if row.state:
                shutil.rmtree(row.state, ignore_errors=True)
            plan.append((name, row))

    def save() -> None:
        for name, data in report["corpora"].items():
            for row in data["rows"].values():
                ok = [r for r in row["runs"] if not r["timeout"]]
                row["median_wall"] = median([r["wall"] for r in ok])
                row["median_cpu"] = median([r["cpu"] for r in ok])
                row["peak_mb"] = max((r["maxrss_mb"] for r in ok), default=None)
                row["tree_mb"] = max((r["tree_mb"] for r in ok if r["tree_mb"] is not None), default=None)
                row["files_per_s"] = data["files"] / row["median_wall"] if row["median_wall"] else None
        report["ratios"], report["targets"] = compute_ratios(report["corpora"], args.jobs)
        os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
        tmp = out_path + ".tmp"
        with open(tmp, "w") as fh:
            json.dump(report, fh, indent=1)
        os.replace(tmp, out_path)

    logs = os.path.join(work, "logs")
    primed = set()
    for i in range(args.runs):
        # round-robin: run i of every command before run i+1 of any, so drifting load on a shared
        # machine spreads over all rows alike
        for name, row in plan:
            corpus, path, counts = corpora[name]
            data = report["corpora"][name]["rows"][row.key]
            if data.get("skipped"):
                continue
            if i > 0 and data["runs"]:
                first = data["runs"][0]
                if first["timeout"] or first["wall"] > args.repeat_limit:
                    continue
            os.makedirs(os.path.join(logs, name), exist_ok=True)
            if row.prime and (name, row.key) not in primed:
                primed.add((name, row.key))
                log(f"[{name}] priming {row.key} ...")
                m = measure(row.argv, path, env, args.timeout, os.path.join(logs, name, f"{row.key}.prime.out"))
                data["prime"] = {**m.as_json(), "loadavg": loadavg()}  # a first run: empty cache, written
                log(f"[{name}] prime {row.key:24} {m.wall:9.2f} s wall {m.cpu:9.2f} s cpu {m.maxrss_mb:7.0f} MB")
                if m.timeout:
                    data["skipped"] = "priming timed out"
                    save()
                    continue
            m = measure(row.argv, path, env, args.timeout, os.path.join(logs, name, f"{row.key}.{i + 1}.out"))
            data["runs"].append({**m.as_json(), "loadavg": loadavg()})
            status = "TIMEOUT" if m.timeout else f"rc {m.rc}"
            log(f"[{name}] run {i + 1}/{args.runs} {row.key:22} {m.wall:9.2f} s wall {m.cpu:9.2f} s cpu {m.maxrss_mb:7.0f} MB  {status}  load {loadavg()}")
            save()
    report["meta"]["loadavg_end"] = loadavg()
    report["meta"]["finished"] = datetime.datetime.now().isoformat(timespec="seconds")
    save()
    print_report(report)
    print(f"\nJSON: {out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
