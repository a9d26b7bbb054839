"""What a project's files say about the FastAPI and Starlette releases it runs: lock files,
requirements files, pyproject.toml, and the distributions of the interpreter running the linter
when it runs in the project's own environment.

Every file consulted is written to the run's ``ReadLog`` (the whole-command replay watches them);
a file that cannot be read is a one-line warning, and resolution falls through.
"""

from __future__ import annotations

import glob
import importlib.metadata as md
import json
import os
import re
import sys
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from .. import tomlfile
from ..layout import CONFIG_FILE, LOCK_FILES, REQUIREMENTS_DIR, is_lock_file, is_requirements_file
from ..results import ReadLog, escape_controls
from ..source import SourceError, read_bytes
from .environments import installed_answer
from .versions import PACKAGES, Answer, Constraint, Source, poetry_constraint

# distribution names that provide each package
_DISTS = {"fastapi": ("fastapi", "fastapi-slim"), "starlette": ("starlette",)}
_DIST_TO_PKG = {d: p for p, ds in _DISTS.items() for d in ds}


_WARNED: set = set()


def _warn(path: str, what: str, exc: BaseException) -> None:
    try:
        st = os.stat(path)
        key = (path, st.st_mtime_ns, st.st_size)
    except OSError:
        key = (path, 0, 0)
    if key in _WARNED:
        return
    _WARNED.add(key)
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    print(escape_controls(f"astack-lint: warning: {path}: cannot read this {what} ({msg}); ignoring it for release "
                          "resolution"), file=sys.stderr)


_FILE_CACHE: Dict[Tuple[str, str], Tuple[Tuple[int, int], Any]] = {}


def _cached(kind: str, path: str, parse, log: Optional[ReadLog]) -> Any:
    """parse(path), memoized per file content (mtime and size); None when unreadable. The file is
    logged as read whether or not it was parsed again."""
    if log is not None:
        log.file(path)
    try:
        st = os.stat(path)
    except OSError:
        return None
    sig = (st.st_mtime_ns, st.st_size)
    hit = _FILE_CACHE.get((kind, path))
    if hit is not None and hit[0] == sig:
        return hit[1]
    value = parse(path)
    _FILE_CACHE[(kind, path)] = (sig, value)
    return value


def _pkg_of(name: Any) -> Optional[str]:
    if not isinstance(name, str):
        return None
    return _DIST_TO_PKG.get(canonicalize_name(name))


# -- lock files ---------------------------------------------------------------------------------


class LockInfo(NamedTuple):
    versions: Dict[str, List[str]]  # package -> locked versions
    members: Tuple[str, ...]  # absolute directories of local (workspace) packages it locks


def _parse_lock(path: str) -> Optional[LockInfo]:
    base = os.path.basename(path)
    try:
        if base == "Pipfile.lock":
            with open(path, "rb") as fh:
                data = json.loads(fh.read().decode("utf-8"))
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            versions: Dict[str, List[str]] = {}
            for section in ("default", "develop"):
                table = data.get(section) or {}
                if not isinstance(table, dict):
                    raise ValueError(f"{section!r} is not a table")
                for name, entry in table.items():
                    pkg = _pkg_of(name)
                    if pkg and isinstance(entry, dict) and isinstance(entry.get("version"), str):
                        v = entry["version"].lstrip("=").strip()
                        versions.setdefault(pkg, []).append(v)
            return LockInfo(versions, ())
        data = tomlfile.load(path)
        key = "packages" if base.startswith("pylock.") else "package"
        entries = data.get(key, [])
        if not isinstance(entries, list):
            raise ValueError(f"[[{key}]] is not an array of tables")
        versions = {}
        members: List[str] = []
        lock_dir = os.path.dirname(path)
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            pkg = _pkg_of(entry.get("name"))
            if pkg and isinstance(entry.get("version"), str):
                versions.setdefault(pkg, []).append(entry["version"])
            src = entry.get("source")
            if isinstance(src, dict):
                for k in ("editable", "virtual", "directory"):
                    if isinstance(src.get(k), str):
                        members.append(os.path.normpath(os.path.join(lock_dir, src[k])))
        for v in (vv for vs in versions.values() for vv in vs):
            Version(v)  # a lock whose versions do not parse is not one we understand
        return LockInfo(versions, tuple(members))
    except (ValueError, TypeError, InvalidVersion, *tomlfile.ERRORS) as exc:
        _warn(path, "lock file", exc)
        return None


def lock_files(directory: str) -> List[str]:
    out = [os.path.join(directory, n) for n in LOCK_FILES if os.path.isfile(os.path.join(directory, n))]
    out += sorted(p for p in glob.glob(os.path.join(glob.escape(directory), "pylock.*.toml")) if os.path.isfile(p))
    return out


def _lock_answer(path: str, log: Optional[ReadLog]) -> Optional[Answer]:
    info = _cached("lock", path, _parse_lock, log)
    if info is None or not any(info.versions.get(p) for p in PACKAGES):
        return None
    constraints: Dict[str, Constraint] = {}
    texts: Dict[str, str] = {}
    for pkg in PACKAGES:
        vs = info.versions.get(pkg)
        if vs:
            constraints[pkg] = tuple(SpecifierSet(f"=={v}") for v in vs)
            texts[pkg] = f"{pkg}==" + " or ==".join(sorted(set(vs), key=Version))
    return Answer(Source("lock", path, os.path.basename(path)), constraints, texts, {p: True for p in constraints})


# -- requirement strings ------------------------------------------------------------------------


class _Req(NamedTuple):
    package: str
    spec: SpecifierSet
    marked: bool  # has an environment marker
    text: str


def _req(text: str) -> Optional[_Req]:
    try:
        r = Requirement(text)
    except InvalidRequirement:
        return None
    pkg = _pkg_of(r.name)
    if pkg is None or r.url:
        return None
    return _Req(pkg, r.specifier, r.marker is not None, text.split(";")[0].strip())


def _combine(reqs: Sequence[_Req]) -> Dict[str, Tuple[Constraint, str]]:
    """Requirements installed together: unmarked ones all hold (intersection); when only marked ones
    mention a package, any of them may be the one that applies (union). Unconstrained mentions
    ("fastapi") say nothing about releases and are left out."""
    out: Dict[str, Tuple[Constraint, str]] = {}
    for pkg in PACKAGES:
        mine = [r for r in reqs if r.package == pkg and str(r.spec)]
        if not mine:
            continue
        plain = [r for r in mine if not r.marked]
        if plain:  # one intersection of every distinct specifier (linear in their number)
            spec = SpecifierSet(",".join(dict.fromkeys(str(sp) for r in plain for sp in r.spec)))
            out[pkg] = ((spec,), ", ".join(dict.fromkeys(r.text for r in plain)))
        else:
            out[pkg] = (tuple(r.spec for r in mine), " or ".join(dict.fromkeys(r.text for r in mine)))
    return out


def _union(parts: Sequence[Dict[str, Tuple[Constraint, str]]]) -> Dict[str, Tuple[Constraint, str]]:
    """Alternative installations (several requirements files, extras, groups): any may be the one."""
    out: Dict[str, Tuple[Constraint, str]] = {}
    for part in parts:
        for pkg, (cons, text) in part.items():
            if pkg in out:
                old_cons, old_text = out[pkg]
                texts = list(dict.fromkeys(old_text.split(" or ") + text.split(" or ")))
                out[pkg] = (old_cons + cons, " or ".join(texts))
            else:
                out[pkg] = (cons, text)
    return out


def _answer(kind: str, path: str, detail: str, found: Dict[str, Tuple[Constraint, str]]) -> Optional[Answer]:
    if not found:
        return None
    constraints = {p: c for p, (c, _t) in found.items()}
    texts = {p: t for p, (_c, t) in found.items()}
    exact = {p: all(len(alt) == 1 and next(iter(alt)).operator in ("==", "===") and "*" not in next(iter(alt)).version for alt in c) for p, c in constraints.items()}
    return Answer(Source(kind, path, detail), constraints, texts, exact)


# -- requirements files -------------------------------------------------------------------------

_OPT_WITH_FILE = re.compile(r"^(-r|--requirement|-c|--constraint)(?:\s*=\s*|\s+|(?=[^\s-]))(\S+)")
# a requirements file and its includes: each a regular file of at most this size, at most this many
MAX_REQUIREMENTS_BYTES = 1024 * 1024
MAX_REQUIREMENTS_FILES = 200


def include_boundary(path: str) -> str:
    """Where ``-r`` / ``-c`` includes of the requirements file ``path`` may lead: the repository that
    holds it (the nearest directory above it with ``.git``), else its own directory's tree."""
    start = os.path.dirname(os.path.abspath(path))
    d = start
    while True:
        if os.path.exists(os.path.join(d, ".git")):
            return os.path.realpath(d)
        parent = os.path.dirname(d)
        if parent == d:
            return os.path.realpath(start)
        d = parent


def _read_requirements(path: str) -> Tuple[List[_Req], List[str]]:
    """The requirements of a file and its ``-r`` / ``-c`` includes; and the files it includes. Each
    file is read once however often it is included (a cycle or a fan-out costs nothing), only when
    it is a regular file inside ``include_boundary`` (never a FIFO, a device or a file elsewhere on
    the machine), of at most ``MAX_REQUIREMENTS_BYTES``, and at most ``MAX_REQUIREMENTS_FILES`` in
    all; what is skipped is a one-line warning."""
    reqs: List[_Req] = []
    included: List[str] = []
    boundary = include_boundary(path)
    read: set = set()

    def visit(current: str, parent: str) -> None:  # depth first, includes in place (as pip reads them)
        real = os.path.normcase(os.path.realpath(current))
        if real in read:
            return
        if parent and not _inside(real, boundary, os.path.normcase(boundary)):
            _warn(current, "requirements file", ValueError(f"included by {parent}, outside {boundary}"))
            return
        if len(read) >= MAX_REQUIREMENTS_FILES:
            _warn(current, "requirements file", ValueError(f"more than {MAX_REQUIREMENTS_FILES} files included"))
            return
        read.add(real)
        try:
            text = read_bytes(current, MAX_REQUIREMENTS_BYTES, "read").decode("utf-8", errors="replace")
        except SourceError as exc:
            if parent and os.path.lexists(current):  # a missing include is skipped, as before
                _warn(current, "requirements file", exc)
            return
        text = re.sub(r"\\\r?\n", " ", text)
        for raw in text.splitlines():
            line = re.sub(r"(^|\s)#.*$", "", raw).strip()
            if not line:
                continue
            m = _OPT_WITH_FILE.match(line)
            if m:
                target = m.group(2)
                if "://" in target:
                    continue
                full = os.path.normpath(os.path.join(os.path.dirname(current), target))
                included.append(full)
                visit(full, current)
                continue
            if line.startswith("-"):
                continue  # -e, --index-url, --hash continuation, ...
            line = re.split(r"\s+--", line)[0].strip()  # per-requirement options (--hash=...)
            r = _req(line)
            if r is not None:
                reqs.append(r)

    visit(path, "")
    return reqs, list(dict.fromkeys(included))


def requirements_files(directory: str) -> List[str]:
    found = sorted(glob.glob(os.path.join(glob.escape(directory), "requirements*.txt")))
    sub = os.path.join(directory, REQUIREMENTS_DIR)
    if os.path.isdir(sub):
        found += sorted(glob.glob(os.path.join(glob.escape(sub), "*.txt")))
    return [p for p in found if os.path.isfile(p)]


def _requirements_answer(directory: str, log: Optional[ReadLog]) -> Optional[Answer]:
    files = requirements_files(directory)
    if not files:
        return None
    parsed = {p: _cached("requirements", p, _read_requirements, log) or ([], []) for p in files}
    included = {os.path.normpath(i) for _r, inc in parsed.values() for i in inc}
    if log is not None:
        for inc in sorted(included):
            log.file(inc)
    top = [p for p in files if os.path.normpath(p) not in included] or files
    parts = []
    answering = []
    for p in top:
        found = _combine(parsed[p][0])
        if found:
            parts.append(found)
            answering.append(p)
    if not parts:
        return None
    detail = ", ".join(os.path.relpath(p, directory).replace(os.sep, "/") for p in answering)
    return _answer("requirements", answering[0], detail, _union(parts))



def _poetry_reqs(table: Any) -> List[_Req]:
    out: List[_Req] = []
    if not isinstance(table, dict):
        return out
    for name, value in table.items():
        pkg = _pkg_of(name)
        if pkg is None:
            continue
        entries = value if isinstance(value, list) else [value]
        marked = isinstance(value, list) and len(value) > 1
        for entry in entries:
            version = entry if isinstance(entry, str) else entry.get("version") if isinstance(entry, dict) else None
            if not isinstance(version, str):
                continue  # git / path / url dependencies: no release constraint
            entry_marked = marked or (isinstance(entry, dict) and any(k in entry for k in ("markers", "python", "platform")))
            cons = poetry_constraint(version)
            if not cons:
                continue
            text = f"{pkg} {version.strip()}"  # one string shared by the alternatives
            for alt in cons:
                out.append(_Req(pkg, alt, entry_marked or len(cons) > 1, text))
    return out


def _str_reqs(items: Any, groups: Optional[Dict[str, Any]] = None, seen: Optional[set] = None) -> List[_Req]:
    """Requirement strings; a PEP 735 ``{include-group = ...}`` is followed once per expansion (a
    group that includes itself, or one included from many places, costs one visit)."""
    out: List[_Req] = []
    if not isinstance(items, list):
        return out
    seen = set() if seen is None else seen
    for item in items:
        if isinstance(item, str):
            r = _req(item)
            if r is not None:
                out.append(r)
        elif isinstance(item, dict) and groups is not None and isinstance(item.get("include-group"), str):
            name = item["include-group"]
            if name not in seen:
                seen.add(name)
                out.extend(_str_reqs(groups.get(name), groups, seen))
    return out


def _parse_pyproject(path: str) -> Optional[Dict[str, Any]]:
    try:
        return tomlfile.load(path)
    except tomlfile.ERRORS as exc:
        _warn(path, "pyproject.toml", exc)
        return None


def _pyproject_answer(path: str, log: Optional[ReadLog]) -> Optional[Answer]:
    data = _cached("pyproject", path, _parse_pyproject, log)
    if not isinstance(data, dict):
        return None
    project = data.get("project") if isinstance(data.get("project"), dict) else {}
    tool = data.get("tool") if isinstance(data.get("tool"), dict) else {}
    poetry = tool.get("poetry") if isinstance(tool.get("poetry"), dict) else {}
    # what every installation has
    base = _str_reqs(project.get("dependencies")) + _poetry_reqs(poetry.get("dependencies"))
    found = _combine(base)
    if found:
        return _answer("pyproject", path, "dependencies", found)
    # otherwise: extras and groups, any of which may be the one installed with FastAPI
    alternatives: List[Tuple[str, List[_Req]]] = []
    extras = project.get("optional-dependencies")
    if isinstance(extras, dict):
        for name, items in extras.items():
            alternatives.append((f"[project.optional-dependencies] {name}", _str_reqs(items)))
    groups = data.get("dependency-groups")
    if isinstance(groups, dict):
        for name, items in groups.items():
            alternatives.append((f"[dependency-groups] {name}", _str_reqs(items, groups, {name})))
    pgroups = poetry.get("group")
    if isinstance(pgroups, dict):
        for name, g in pgroups.items():
            if isinstance(g, dict):
                alternatives.append((f"[tool.poetry.group.{name}]", _poetry_reqs(g.get("dependencies"))))
    alternatives.append(("[tool.poetry.dev-dependencies]", _poetry_reqs(poetry.get("dev-dependencies"))))
    uv = tool.get("uv") if isinstance(tool.get("uv"), dict) else {}
    alternatives.append(("[tool.uv] dev-dependencies", _str_reqs(uv.get("dev-dependencies"))))
    pdm = tool.get("pdm") if isinstance(tool.get("pdm"), dict) else {}
    pdm_dev = pdm.get("dev-dependencies")
    if isinstance(pdm_dev, dict):
        for name, items in pdm_dev.items():
            alternatives.append((f"[tool.pdm.dev-dependencies] {name}", _str_reqs(items)))
    alternatives += _hatch_alternatives(tool)
    return alternatives_answer("pyproject", path, alternatives)


def alternatives_answer(kind: str, path: str, alternatives: Sequence[Tuple[str, List[_Req]]]) -> Optional[Answer]:
    """Alternative installations (extras, groups, environments), each ``(where, requirements)``:
    any of those that answer may be the one installed."""
    parts = []
    details = []
    for detail, reqs in alternatives:
        part = _combine(reqs)
        if part:
            parts.append(part)
            details.append(detail)
    if not parts:
        return None
    return _answer(kind, path, ", ".join(details), _union(parts))


def _hatch_alternatives(tool: Dict[str, Any]) -> List[Tuple[str, List[_Req]]]:
    """Hatch's environments (``[tool.hatch.envs.NAME]`` dependencies and extra-dependencies)."""
    hatch = tool.get("hatch") if isinstance(tool.get("hatch"), dict) else {}
    envs = hatch.get("envs") if isinstance(hatch.get("envs"), dict) else {}
    out: List[Tuple[str, List[_Req]]] = []
    for name, env in envs.items():
        if isinstance(env, dict):
            reqs = _str_reqs(env.get("dependencies")) + _str_reqs(env.get("extra-dependencies"))
            out.append((f"[tool.hatch.envs.{name}]", reqs))
    return out


# -- one directory ------------------------------------------------------------------------------


def _may_answer(directory: str) -> bool:
    """Whether the directory holds any file ``directory_answer`` reads (one listing instead of a
    dozen lookups: most directories of a project hold none)."""
    try:
        names = os.listdir(directory)
    except OSError:
        return True  # let the lookups decide
    for n in names:
        n = os.path.normcase(n)
        if n in _ANSWER_NAMES or is_lock_file(n):
            return True
        if is_requirements_file(n):
            return True
    return False


_ANSWER_NAMES = frozenset(os.path.normcase(n) for n in LOCK_FILES + (CONFIG_FILE, REQUIREMENTS_DIR))


def directory_answer(directory: str, log: Optional[ReadLog] = None) -> Optional[Answer]:
    """What one directory's files say: a lock file, else requirements files, else pyproject.toml."""
    if not _may_answer(directory):
        return None
    for lock in lock_files(directory):
        ans = _lock_answer(lock, log)
        if ans is not None:
            return ans
    ans = _requirements_answer(directory, log)
    if ans is not None:
        return ans
    pyproject = os.path.join(directory, CONFIG_FILE)
    if os.path.isfile(pyproject):
        return _pyproject_answer(pyproject, log)
    return None


def _inside(path: str, root: str, real_root: Optional[str] = None) -> bool:
    path = os.path.normcase(os.path.realpath(path))
    root = real_root or os.path.normcase(os.path.realpath(root))
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _workspace_lock(member_dir: str, log: Optional[ReadLog] = None) -> Optional[Answer]:
    """A uv.lock above a workspace member's own pyproject.toml that locks that member."""
    d = os.path.dirname(member_dir)
    for _ in range(12):
        lock = os.path.join(d, "uv.lock")
        if os.path.isfile(lock):
            info = _cached("lock", lock, _parse_lock, log)
            if info is not None and any(os.path.normcase(m) == os.path.normcase(member_dir) for m in info.members):
                return _lock_answer(lock, log)
        if os.path.exists(os.path.join(d, ".git")):
            return None
        parent = os.path.dirname(d)
        if parent == d:
            return None
        d = parent
    return None


def _installed_answer(root: str, log: Optional[ReadLog] = None) -> Optional[Answer]:
    """The distributions of the interpreter running the linter, when it runs in the project's own
    environment (any other environment of the project is read by ``environments.py``)."""
    if not _inside(sys.prefix, root):
        return None
    for p in sys.path:
        if p and os.path.isdir(p):
            if log is not None:
                log.file(p)  # an install or removal changes the directory (cache/replay.py)
    versions: Dict[str, List[str]] = {}
    try:
        for dist in md.distributions():
            pkg = _pkg_of(dist.metadata["Name"] if dist.metadata else None)
            if pkg and dist.version:
                Version(dist.version)
                versions.setdefault(pkg, []).append(dist.version)
    except Exception:  # a broken environment must not break linting
        return None
    return installed_answer(sys.prefix, versions)


# ---------------------------------------------------------------------------------------------
# options
