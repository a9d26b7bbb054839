"""Sweep: lint every .py file of a virtualenv's site-packages (and any extra trees) and report
files, findings, errors and crashes.

    python benchmarks/sweep.py --site-packages /tmp/sweep/venv/lib/python3.11/site-packages \\
        --python /tmp/sweep/venv/bin/python --extra /tmp/corpus --jobs 2

Each top-level entry of a tree (a package directory, or the loose modules together) is linted by
its own CLI run, from that directory, so one project model per package and a crash loses one
package, not the sweep. By default the prefilter is off (ASTACK_LINT_NO_PREFILTER=1): every file
is parsed and collected, not only those that mention FastAPI or Starlette.

A crash is an "internal error" line, a traceback, or an exit code other than 0/1/2 (or a timeout).
Every error must be a parse error CPython also reports: each errored file is compiled with
--python (the venv's interpreter); an error on a file CPython compiles is listed as a mismatch.
Exit code 0 when there is no crash and no mismatch, else 1.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Tuple

FINDING = re.compile(r"^(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): (?P<code>AXS\d{3}) ")
ERROR = re.compile(r"^(?P<path>.+?)(?::\d+:\d+)?: error: (?P<msg>.*)$")
SUMMARY = re.compile(r"(\d+) files? linted")

COMPILE_CHECK = r"""
import sys, json
out = {}
for p in json.load(sys.stdin):
    try:
        with open(p, "rb") as fh:
            compile(fh.read(), p, "exec", dont_inherit=True)
        out[p] = None
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        out[p] = type(exc).__name__ + ": " + str(exc)[:200]
    except OSError as exc:
        out[p] = "OSError: " + str(exc)
json.dump(out, sys.stdout)
"""


def units(tree: str) -> List[Tuple[str, List[str]]]:
    """(cwd, paths) per top-level package of a tree; loose modules go together."""
    out: List[Tuple[str, List[str]]] = []
    loose: List[str] = []
    try:
        names = sorted(os.listdir(tree))
    except OSError:
        return out
    for name in names:
        full = os.path.join(tree, name)
        if os.path.isdir(full) and not os.path.islink(full):
            if name == "__pycache__" or name.endswith((".dist-info", ".egg-info")):
                continue
            out.append((full, ["."]))
        elif name.endswith(".py"):
            loose.append(name)
    if loose:
        out.append((tree, loose))
    return out


def split(cwd: str, paths: List[str], limit: int) -> List[Tuple[str, List[str]]]:
    """A package of more than ``limit`` files as several CLI runs of at most about ``limit`` files
    each (sibling directories and loose modules grouped, a larger directory split in turn), so that a
    sweep cut short keeps most of a huge package. Each run's project is then its directory, not
    the whole package."""
    if not limit or paths != ["."] or count_py(cwd, paths) <= limit:
        return [(cwd, paths)]
    out: List[Tuple[str, List[str]]] = []
    group: List[str] = []
    size = 0
    try:
        names = sorted(os.listdir(cwd))
    except OSError:
        return [(cwd, paths)]
    for name in names:
        full = os.path.join(cwd, name)
        if os.path.isdir(full) and not os.path.islink(full):
            if name == "__pycache__":
                continue
            n = count_py(full, ["."])
            if n > limit:
                out.extend(split(full, ["."], limit))
                continue
        elif name.endswith(".py"):
            n = 1
        else:
            continue
        if not n:
            continue
        if group and size + n > limit:
            out.append((cwd, group))
            group, size = [], 0
        group.append(name)
        size += n
    if group:
        out.append((cwd, group))
    return out


def count_py(cwd: str, paths: List[str]) -> int:
    n = 0
    for p in paths:
        full = os.path.join(cwd, p)
        if os.path.isfile(full):
            n += 1
            continue
        for _d, _dirs, files in os.walk(full):
            n += sum(1 for f in files if f.endswith(".py"))
    return n


def lint_unit(cwd: str, paths: List[str], args: argparse.Namespace) -> Dict[str, object]:
    env = dict(os.environ)
    if not args.prefilter:
        env["ASTACK_LINT_NO_PREFILTER"] = "1"
    env.pop("PYTHONPATH", None)  # an empty entry would put the linted package on sys.path
    # -P: the package linted is the cwd, and its typing.py must not shadow the stdlib's
    cmd = [args.lint_python, "-P", "-m", "astack_lint", "--jobs", str(args.jobs), "--no-cache", *paths]
    t0 = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env, timeout=args.timeout,
                              errors="replace")
        rc, out, err = proc.returncode, proc.stdout, proc.stderr
    except subprocess.TimeoutExpired:
        rc, out, err = -999, "", "timeout"
    dt = time.monotonic() - t0
    findings = [line for line in out.splitlines() if FINDING.match(line)]
    errors = []
    crash_lines = []
    for line in err.splitlines():
        if "internal error" in line or line.startswith("Traceback") or line == "timeout":
            crash_lines.append(line)
        m = ERROR.match(line)
        if m and not line.startswith("astack-lint:"):
            errors.append((os.path.normpath(os.path.join(cwd, m.group("path"))), m.group("msg")))
    m = SUMMARY.search(err)
    linted = int(m.group(1)) if m else 0
    crashed = bool(crash_lines) or rc not in (0, 1, 2)
    return {
        "cwd": cwd, "rc": rc, "seconds": round(dt, 2), "linted": linted, "findings": findings,
        "errors": errors, "crash": crashed, "crash_lines": crash_lines[:20],
        "stderr_tail": err[-2000:] if crashed else "",
    }


def main(argv: List[str] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--site-packages", action="append", default=[], help="a site-packages directory (repeatable)")
    ap.add_argument("--extra", action="append", default=[], help="another tree, e.g. unpacked FastAPI apps")
    ap.add_argument("--python", default=sys.executable, help="the interpreter that judges syntax errors")
    ap.add_argument("--lint-python", default=sys.executable, help="the interpreter that runs astack-lint")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=int, default=3600, help="seconds per package")
    ap.add_argument("--prefilter", action="store_true", help="keep the prefilter (parse less)")
    ap.add_argument("--json", help="write the full results here")
    ap.add_argument("--jsonl", help="append each package's result here as soon as it is done (a partial sweep "
                    "still has every finding and error)")
    ap.add_argument("--only", action="append", default=[],
                    help="lint only these top-level entries (names; repeatable; in this order)")
    ap.add_argument("--skip", action="append", default=[], help="leave these top-level entries out (repeatable)")
    ap.add_argument("--split", type=int, default=0, metavar="N",
                    help="lint a package of more than N files in runs of at most about N files (0: never)")
    args = ap.parse_args(argv)

    todo: List[Tuple[str, List[str]]] = []
    for tree in args.site_packages + args.extra:
        todo.extend(units(os.path.abspath(tree)))
    if args.only:
        order = {name: i for i, name in enumerate(args.only)}
        todo = sorted((u for u in todo if os.path.basename(u[0]) in order), key=lambda u: order[os.path.basename(u[0])])
    todo = [u for u in todo if os.path.basename(u[0]) not in args.skip]
    todo = [part for cwd, paths in todo for part in split(cwd, paths, args.split)]
    t0 = time.monotonic()
    results = []
    total_py = 0
    for i, (cwd, paths) in enumerate(todo, 1):
        n = count_py(cwd, paths)
        if not n:
            continue
        total_py += n
        r = lint_unit(cwd, paths, args)
        r["py_files"] = n
        results.append(r)
        if args.jsonl:
            with open(args.jsonl, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(r) + "\n")
        flag = " CRASH" if r["crash"] else ""
        print(f"[{i}/{len(todo)}] {cwd}: {n} .py, {r['linted']} linted, {len(r['findings'])} findings, "
              f"{len(r['errors'])} errors, rc {r['rc']}, {r['seconds']}s{flag}", file=sys.stderr, flush=True)

    errored = sorted({p for r in results for p, _m in r["errors"]})
    cpython: Dict[str, object] = {}
    if errored:
        proc = subprocess.run([args.python, "-c", COMPILE_CHECK], input=json.dumps(errored),
                              capture_output=True, text=True)
        cpython = json.loads(proc.stdout or "{}")
    mismatches = [(p, m) for r in results for p, m in r["errors"] if cpython.get(p) is None]

    elapsed = time.monotonic() - t0
    summary = {
        "py_files": total_py,
        "linted": sum(r["linted"] for r in results),
        "findings": sum(len(r["findings"]) for r in results),
        "errors": sum(len(r["errors"]) for r in results),
        "errors_cpython_agrees": sum(len(r["errors"]) for r in results) - len(mismatches),
        "mismatches": len(mismatches),
        "crashes": sum(1 for r in results if r["crash"]),
        "units": len(results),
        "seconds": round(elapsed, 1),
    }
    print(json.dumps(summary, indent=2))
    for r in results:
        if r["crash"]:
            print(f"CRASH in {r['cwd']} (rc {r['rc']}):\n{r['stderr_tail']}")
    for p, m in mismatches:
        print(f"MISMATCH (CPython compiles it): {p}: {m}")
    for p in errored:
        if cpython.get(p) is not None:
            print(f"error (CPython agrees): {p}: {cpython[p]}")
    for r in results:
        for f in r["findings"]:
            print(f"finding ({r['cwd']}): {f}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"summary": summary, "results": results, "cpython": cpython}, fh, indent=1)
    return 1 if summary["crashes"] or mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
