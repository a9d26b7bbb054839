"""Which FastAPI and Starlette releases a project can run, and what that means for a rule.

Resolution, per linted file (``for_file``): the first source that answers wins, and it answers for
both packages at once (so a project never gets its FastAPI from one file and its Starlette from
another):

1. the options ``fastapi-version`` / ``starlette-version`` (a version or a specifier);
2. walking up from the file's directory to its project root, the nearest directory that answers,
   where within one directory a lock file (uv.lock, poetry.lock, pdm.lock, Pipfile.lock,
   pylock.toml) beats the requirements files (``requirements*.txt``, ``requirements/*.txt``,
   following ``-r`` and ``-c``), which beat pyproject.toml (``[project]`` dependencies, optional
   dependencies, ``[dependency-groups]``, Poetry's tables). A pyproject.toml of a uv workspace
   member yields to the workspace's uv.lock further up when that lock lists the member;
3. the distributions installed in the interpreter running the linter, only when it runs inside the
   project's environment (``sys.prefix`` is under the project root, or ``VIRTUAL_ENV`` points
   inside it);
4. nothing known: every release is possible.

A source "answers" when it constrains fastapi (or fastapi-slim) or starlette. FastAPI's own pins
of Starlette (``release_data.STARLETTE_PINS``) narrow Starlette when only FastAPI is known, and
each package by the other when both are.

"Possible releases" are the known releases (``release_data``) a constraint admits, plus any
pinned release newer than the table, plus ``beyond``: whether the constraint admits releases
newer than every known one.

A release-dependent rule declares ``affected = (Affected(fastapi=">=0.106.0,<0.118.0",
symptom="..."), ...)`` and asks ``ctx.releases.hits(self.affected)``: the ranges the project's
possible releases meet (a rule reports only when there is one), and ``explain(hits)`` renders them
for the message.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import sys
from typing import Any, Callable, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from .snapshot import note
from .release_data import FASTAPI_RELEASES, STARLETTE_PINS, STARLETTE_RELEASES

PACKAGES = ("fastapi", "starlette")
# distribution names that provide each package
_DISTS = {"fastapi": ("fastapi", "fastapi-slim"), "starlette": ("starlette",)}
_DIST_TO_PKG = {d: p for p, ds in _DISTS.items() for d in ds}

LOCK_FILES = ("uv.lock", "poetry.lock", "pdm.lock", "Pipfile.lock", "pylock.toml")

Constraint = Tuple[SpecifierSet, ...]  # alternatives: a release is admitted if any alternative admits it


class ReleaseConfigError(ValueError):
    """An option value that is neither a version nor a specifier."""


# ---------------------------------------------------------------------------------------------
# known releases


class _Known:
    def __init__(self, releases: Sequence[str]) -> None:
        self.versions: Tuple[Version, ...] = tuple(sorted(Version(v) for v in releases))
        last = self.versions[-1]
        major, minor, micro = (list(last.release) + [0, 0])[:3]
        # versions newer than every known release, to ask whether a constraint admits "later ones"
        self.probes = (
            Version(f"{major}.{minor}.{micro + 1}"),
            Version(f"{major}.{minor + 1}.0"),
            Version(f"{major + 1}.0.0"),
        )


class _KnownTable(Dict[str, _Known]):
    """Built on first use (some 560 versions to parse): a run that replays a cached result never asks."""

    def __missing__(self, package: str) -> _Known:
        releases = {"fastapi": FASTAPI_RELEASES, "starlette": STARLETTE_RELEASES}[package]
        value = self[package] = _Known(releases)
        return value


KNOWN: Dict[str, _Known] = _KnownTable()
_PIN_ROWS_CACHE: List[Tuple[SpecifierSet, SpecifierSet]] = []


def _pin_rows() -> List[Tuple[SpecifierSet, SpecifierSet]]:
    if not _PIN_ROWS_CACHE:
        _PIN_ROWS_CACHE.extend((SpecifierSet(f), SpecifierSet(s)) for f, s in STARLETTE_PINS)
    return _PIN_ROWS_CACHE


def _pin_row(fastapi: Version) -> Optional[int]:
    for i, (fspec, _s) in enumerate(_pin_rows()):
        if fspec.contains(fastapi, prereleases=True):
            return i
    return None


def _admits(constraint: Optional[Constraint], version: Version) -> bool:
    if constraint is None:
        return True
    return any(alt.contains(version, prereleases=True) for alt in constraint)


_SPEC_CACHE: Dict[str, SpecifierSet] = {}


def _spec(text: Optional[str]) -> Optional[SpecifierSet]:
    if text is None:
        return None
    s = _SPEC_CACHE.get(text)
    if s is None:
        s = _SPEC_CACHE[text] = SpecifierSet(text)
    return s


# ---------------------------------------------------------------------------------------------
# what a source says


class Source(NamedTuple):
    kind: str  # "option" | "lock" | "requirements" | "pyproject" | "installed" | "pins" | "none"
    path: str  # the file (or environment) that answered; "" for options and "none"
    detail: str  # what it says, e.g. "fastapi>=0.100" or "[project.optional-dependencies] test"


class Answer(NamedTuple):
    """What one source says: per package, the constraint and its text (absent: not mentioned)."""

    source: Source
    constraints: Dict[str, Constraint]
    texts: Dict[str, str]  # package -> "fastapi>=0.100" (for messages)
    exact: Dict[str, bool]  # package -> the source pins exact releases (a lock, ==X)


class Possible:
    """The releases of one package a project can run."""

    def __init__(
        self,
        package: str,
        versions: Iterable[Version],
        beyond: bool,
        source: Source,
        text: str = "",
        exact: bool = False,
    ) -> None:
        self.package = package
        self.versions: Tuple[Version, ...] = tuple(sorted(set(versions)))
        self.beyond = beyond
        self.source = source
        self.text = text  # the constraint as written ("fastapi>=0.100"), "" when none
        self.exact = exact

    @classmethod
    def everything(cls, package: str, source: Optional[Source] = None) -> "Possible":
        return cls(package, KNOWN[package].versions, True, source or Source("none", "", ""))

    @classmethod
    def from_constraint(cls, package: str, constraint: Constraint, source: Source, text: str, exact: bool) -> "Possible":
        known = KNOWN[package]
        versions = [v for v in known.versions if _admits(constraint, v)]
        # pinned releases newer than (or missing from) the table
        for alt in constraint:
            for sp in alt:
                if sp.operator in ("==", "===") and "*" not in sp.version:
                    try:
                        v = Version(sp.version)
                    except InvalidVersion:
                        continue
                    if _admits(constraint, v):
                        versions.append(v)
        beyond = not exact and any(_admits(constraint, p) for p in known.probes)
        return cls(package, versions, beyond, source, text, exact)

    def single(self) -> Optional[Version]:
        return self.versions[0] if len(self.versions) == 1 and not self.beyond else None

    def render(self, subset: Optional[Iterable[Version]] = None, beyond: Optional[bool] = None) -> str:
        """Ranges of releases, e.g. ``0.106.0-0.117.1, >=0.118.0`` (``subset`` of the possible ones)."""
        versions = self.versions if subset is None else tuple(sorted(set(subset)))
        return render_ranges(self.package, versions, self.beyond if beyond is None else beyond)

    def key(self) -> str:
        return f"{self.package}=" + ",".join(str(v) for v in self.versions) + ("+" if self.beyond else "")


def render_ranges(package: str, versions: Sequence[Version], beyond: bool) -> str:
    if not versions:
        return f"releases after {KNOWN[package].versions[-1]}" if beyond else "no release"
    universe = sorted(set(KNOWN[package].versions) | set(versions))
    index = {v: i for i, v in enumerate(universe)}
    runs: List[List[Version]] = []
    for v in sorted(versions):
        if runs and index[v] == index[runs[-1][-1]] + 1:
            runs[-1].append(v)
        else:
            runs.append([v])
    out = []
    for run in runs:
        first, last = run[0], run[-1]
        at_start = index[first] == 0
        at_end = index[last] == len(universe) - 1 and beyond
        if at_start and at_end:
            out.append("every release")
        elif at_end:
            out.append(f">={first}")
        elif at_start and first != last:
            out.append(f"<={last}")
        elif first == last:
            out.append(str(first))
        else:
            out.append(f"{first}-{last}")
    return ", ".join(out)


# ---------------------------------------------------------------------------------------------
# affected ranges, as rules declare them


class Affected(NamedTuple):
    """Releases where a rule's pattern does harm, and what happens there (from FACTS.md).

    ``fastapi`` / ``starlette``: PEP 440 specifiers (None: any release). ``tag`` lets a rule pick
    among its ranges (AXS101: the default exit-stack name in that range)."""

    fastapi: Optional[str] = None
    starlette: Optional[str] = None
    symptom: str = ""
    tag: str = ""


class Hit(NamedTuple):
    """The part of an affected range the project's possible releases meet."""

    affected: Affected
    fastapi: Tuple[Version, ...]
    fastapi_beyond: bool
    starlette: Tuple[Version, ...]
    starlette_beyond: bool


def _starlette_allowed(row: Optional[int], candidates: Iterable[Version]) -> List[Version]:
    if row is None:
        return list(candidates)
    spec = _pin_rows()[row][1]
    return [v for v in candidates if spec.contains(v, prereleases=True)]


def _row_admits_beyond(row: Optional[int]) -> bool:
    if row is None:
        return True
    spec = _pin_rows()[row][1]
    return any(spec.contains(p, prereleases=True) for p in KNOWN["starlette"].probes)


def _merge_by_symptom(hits: Sequence[Hit]) -> List[Hit]:
    """Rows with the same symptom (AXS201's two "held" rows) are named as one set of releases."""
    merged: Dict[Tuple[str, bool], Hit] = {}
    for h in hits:
        key = (h.affected.symptom, h.affected.starlette is not None)
        old = merged.get(key)
        if old is None:
            merged[key] = h
        else:
            merged[key] = Hit(
                old.affected,
                tuple(sorted(set(old.fastapi) | set(h.fastapi))),
                old.fastapi_beyond or h.fastapi_beyond,
                tuple(sorted(set(old.starlette) | set(h.starlette))),
                old.starlette_beyond or h.starlette_beyond,
            )
    return list(merged.values())


class Releases:
    """The releases a file's project can run: ``fastapi`` and ``starlette`` (``Possible``)."""

    def __init__(self, fastapi: Possible, starlette: Possible, root: str = "") -> None:
        self.fastapi = fastapi
        self.starlette = starlette
        self.root = root
        self._hits: Dict[Affected, Optional[Hit]] = {}

    # -- the mechanism ------------------------------------------------------------------------
    def hit(self, affected: Affected) -> Optional[Hit]:
        """``affected`` may be a plain ``(fastapi, starlette, symptom)`` tuple too."""
        if not isinstance(affected, Affected):
            affected = Affected(*affected)
        if affected not in self._hits:
            self._hits[affected] = self._hit(affected)
        return self._hits[affected]

    def hits(self, affected: Iterable[Affected]) -> List[Hit]:
        """The affected ranges the project's possible releases meet (empty: stay quiet)."""
        return [h for h in (self.hit(a) for a in affected) if h is not None]

    def meets(self, affected: Iterable[Affected]) -> bool:
        return bool(self.hits(affected))

    def _hit(self, a: Affected) -> Optional[Hit]:
        fspec, sspec = _spec(a.fastapi), _spec(a.starlette)
        fknown = KNOWN["fastapi"]
        fa = [v for v in self.fastapi.versions if fspec is None or fspec.contains(v, prereleases=True)]
        fa_beyond = self.fastapi.beyond and (fspec is None or any(fspec.contains(p, prereleases=True) for p in fknown.probes))
        sknown = KNOWN["starlette"]
        sa = [v for v in self.starlette.versions if sspec is None or sspec.contains(v, prereleases=True)]
        sa_beyond = self.starlette.beyond and (sspec is None or any(sspec.contains(p, prereleases=True) for p in sknown.probes))
        if not (fa or fa_beyond) or not (sa or sa_beyond):
            return None
        if sspec is None:
            return Hit(a, tuple(fa), fa_beyond, tuple(sa), sa_beyond)
        # both matter: keep the FastAPI releases that allow one of the affected Starlette releases
        rows: Dict[Optional[int], List[Version]] = {}
        for v in fa:
            rows.setdefault(_pin_row(v), []).append(v)
        if fa_beyond:
            rows.setdefault(_pin_row(fknown.probes[-1]), [])
        f_ok: List[Version] = []
        f_ok_beyond = False
        s_ok: set = set()
        s_ok_beyond = False
        for row, fvs in rows.items():
            allowed = _starlette_allowed(row, sa)
            allowed_beyond = sa_beyond and _row_admits_beyond(row)
            if allowed or allowed_beyond:
                f_ok.extend(fvs)
                if fa_beyond and row == _pin_row(fknown.probes[-1]):
                    f_ok_beyond = True
                s_ok.update(allowed)
                s_ok_beyond = s_ok_beyond or allowed_beyond
        if not (f_ok or f_ok_beyond):
            return None
        return Hit(a, tuple(sorted(f_ok)), f_ok_beyond, tuple(sorted(s_ok)), s_ok_beyond)

    # -- messages -----------------------------------------------------------------------------
    def _rel(self, path: str) -> str:
        if not path:
            return path
        if self.root:
            try:
                rel = os.path.relpath(path, self.root)
            except ValueError:
                return path
            if not rel.startswith(".."):
                return rel.replace(os.sep, "/")
        return path

    def lead(self, package: str) -> Tuple[str, bool]:
        """How to name where a package's releases come from, and whether that is one release:
        ``uv.lock pins fastapi 0.100.0`` (True) or ``your constraint fastapi>=0.100 (pyproject.toml)
        admits`` (False)."""
        p = self.fastapi if package == "fastapi" else self.starlette
        src = p.source
        one = p.single()
        if one is not None:
            if src.kind == "installed":
                return f"the installed {package} {one} ({src.path})", True
            if src.kind == "option":
                return f"your setting {package}-version={p.text!r}", True
            return f"{self._rel(src.path)} pins {package} {one}", True
        if src.kind == "option":
            return f"your setting {package}-version={p.text!r} admits", False
        if src.kind in ("lock", "requirements", "pyproject", "installed"):
            return f"your constraint {p.text or src.detail} ({self._rel(src.path)}) admits", False
        return f"no {package} release is pinned, so every release is possible, including", False

    def explain(self, hits: Sequence[Hit]) -> str:
        """``your constraint fastapi>=0.100 (pyproject.toml) admits 0.106.0-0.117.1, where ...``."""
        if not hits:
            return ""
        package = "fastapi"
        if all(h.affected.fastapi is None and h.affected.starlette is not None for h in hits):
            # ranges of Starlette: name them as Starlette's, unless Starlette is only known through
            # FastAPI's pins (then FastAPI's constraint is what the user wrote)
            if self.starlette.source.kind != "pins":
                package = "starlette"
        lead, one = self.lead(package)
        parts = []
        for h in _merge_by_symptom(hits):
            where = f"where {h.affected.symptom}" if h.affected.symptom else ""
            with_starlette = ""
            if (
                package == "fastapi"
                and h.affected.starlette is not None
                and self.starlette.single() is None
                and self.starlette.source.kind not in ("none", "pins")  # then it follows from FastAPI's
            ):
                with_starlette = f"with starlette {render_ranges('starlette', h.starlette, h.starlette_beyond)}"
            if package == "fastapi":
                rng = render_ranges("fastapi", h.fastapi, h.fastapi_beyond)
            else:
                rng = render_ranges("starlette", h.starlette, h.starlette_beyond)
            if one:
                text = " ".join(t for t in (with_starlette, where) if t)
                text = f"{with_starlette}, {where}" if with_starlette and where else text
            else:
                text = " ".join(t for t in (rng, with_starlette) if t)
                text = f"{text}, {where}" if where else text
            parts.append(text)
        if one:
            return f"{lead}, " + "; and ".join(t for t in parts if t) if any(parts) else lead
        return f"{lead} " + "; and ".join(parts)

    # -- identity -----------------------------------------------------------------------------
    def cache_key(self) -> str:
        """Changes whenever the possible releases change: part of any cache key for findings."""
        raw = self.fastapi.key() + "|" + self.starlette.key()
        return hashlib.sha1(raw.encode("ascii")).hexdigest()[:16]

    def describe(self, display: Optional[Callable[[str], str]] = None) -> List[str]:
        """Lines for ``--show-settings`` (``display`` shows a path; default: relative to the root)."""
        show = display or self._rel
        lines = []
        for p in (self.fastapi, self.starlette):
            src = p.source
            if src.kind == "none":
                where = "nothing pins it"
            elif src.kind == "pins":
                where = "FastAPI's own starlette pins (nothing pins starlette itself)"
            elif src.kind == "option":
                where = f"option {p.package}-version={p.text!r}"
            elif src.kind == "installed":
                where = f"installed in {show(src.path)}"
            else:
                where = f"{src.kind} {show(src.path)}"
                if p.text:
                    where += f": {p.text}"
                elif src.detail:
                    where += f" ({src.detail})"
            n = len(p.versions)
            count = f"{n} known release{'s' if n != 1 else ''}" + (" and later ones" if p.beyond else "")
            lines.append(f"{p.package}: {p.render()} ({count}) -- from {where}")
        lines.append(f"releases cache key: {self.cache_key()}")
        return lines

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"Releases({self.fastapi.render()!r}, {self.starlette.render()!r})"


# ---------------------------------------------------------------------------------------------
# reading the sources

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
    print(f"astack-lint: warning: {path}: cannot read this {what} ({msg}); ignoring it for release resolution", file=sys.stderr)


_FILE_CACHE: Dict[Tuple[str, str], Tuple[Tuple[int, int], Any]] = {}


def _cached(kind: str, path: str, parse) -> Any:
    """parse(path), memoized per file content (mtime and size); None when unreadable."""
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


def _load_toml_file(path: str) -> Dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.9/3.10
        import tomli as tomllib
    note(path)
    with open(path, "rb") as fh:
        return tomllib.load(fh)


def _toml_errors() -> tuple:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    return (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError)


def _pkg_of(name: Any) -> Optional[str]:
    if not isinstance(name, str):
        return None
    return _DIST_TO_PKG.get(canonicalize_name(name))


# -- lock files ---------------------------------------------------------------------------------


class LockInfo(NamedTuple):
    versions: Dict[str, List[str]]  # package -> locked versions
    members: Tuple[str, ...]  # absolute directories of local (workspace) packages it locks


def _parse_lock(path: str) -> Optional[LockInfo]:
    note(path)
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
        data = _load_toml_file(path)
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
    except (ValueError, TypeError, InvalidVersion, *_toml_errors()) as exc:
        _warn(path, "lock file", exc)
        return None


def lock_files(directory: str) -> List[str]:
    out = [os.path.join(directory, n) for n in LOCK_FILES if os.path.isfile(os.path.join(directory, n))]
    out += sorted(p for p in glob.glob(os.path.join(glob.escape(directory), "pylock.*.toml")) if os.path.isfile(p))
    return out


def _lock_answer(path: str) -> Optional[Answer]:
    info = _cached("lock", path, _parse_lock)
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
        if plain:
            spec = SpecifierSet()
            for r in plain:
                spec &= r.spec
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


def _read_requirements(path: str, seen: Tuple[str, ...] = ()) -> Tuple[List[_Req], List[str]]:
    """The requirements of a file and its ``-r`` / ``-c`` includes; and the files it includes."""
    reqs: List[_Req] = []
    included: List[str] = []
    if path in seen or len(seen) > 20:
        return reqs, included
    note(path)
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    except OSError:
        return reqs, included
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
            full = os.path.normpath(os.path.join(os.path.dirname(path), target))
            included.append(full)
            sub, sub_included = _read_requirements(full, seen + (path,))
            reqs.extend(sub)
            included.extend(sub_included)
            continue
        if line.startswith("-"):
            continue  # -e, --index-url, --hash continuation, ...
        line = re.split(r"\s+--", line)[0].strip()  # per-requirement options (--hash=...)
        r = _req(line)
        if r is not None:
            reqs.append(r)
    return reqs, included


def requirements_files(directory: str) -> List[str]:
    found = sorted(glob.glob(os.path.join(glob.escape(directory), "requirements*.txt")))
    sub = os.path.join(directory, "requirements")
    if os.path.isdir(sub):
        found += sorted(glob.glob(os.path.join(glob.escape(sub), "*.txt")))
    return [p for p in found if os.path.isfile(p)]


def _requirements_answer(directory: str) -> Optional[Answer]:
    files = requirements_files(directory)
    if not files:
        return None
    parsed = {p: _cached("requirements", p, _read_requirements) or ([], []) for p in files}
    included = {os.path.normpath(i) for _r, inc in parsed.values() for i in inc}
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


# -- pyproject.toml -----------------------------------------------------------------------------

_POETRY_OP = re.compile(r"(\^|~=|~|===|==|!=|<=|>=|<|>|=)\s+")
_RELEASE = re.compile(r"^\d+(?:\.\d+)*")


def _bump(text: str, caret: bool) -> Optional[str]:
    m = _RELEASE.match(text)
    if not m:
        return None
    parts = [int(x) for x in m.group(0).split(".")]
    if caret:
        idx = next((i for i, x in enumerate(parts) if x != 0), len(parts) - 1)
    else:  # tilde: ~1.2.3 and ~1.2 allow patch releases, ~1 allows minor ones
        idx = 1 if len(parts) >= 2 else 0
    upper = parts[: idx + 1]
    upper[idx] += 1
    return f">={text},<{'.'.join(str(x) for x in upper)}"


def poetry_constraint(text: str) -> Optional[Constraint]:
    """Poetry's version constraint (``^0.100``, ``~0.100.1``, ``>=1,<2``, ``1.2.*``, ``a || b``) as
    PEP 440 specifier alternatives. None when it cannot be read; () for "any release"."""
    alts: List[SpecifierSet] = []
    for part in str(text).split("||"):
        part = _POETRY_OP.sub(r"\1", part.strip())
        tokens = [t for t in re.split(r"[,\s]+", part) if t]
        specs: List[str] = []
        for tok in tokens:
            if tok == "*":
                continue
            if tok.startswith("^"):
                s = _bump(tok[1:], caret=True)
            elif tok.startswith("~") and not tok.startswith("~="):
                s = _bump(tok[1:], caret=False)
            elif tok[0] in "<>!~=":
                s = "==" + tok[1:] if tok.startswith("=") and not tok.startswith("==") else tok
            else:
                s = f"=={tok}"
            if s is None:
                return None
            specs.append(s)
        try:
            alts.append(SpecifierSet(",".join(specs)))
        except InvalidSpecifier:
            return None
    if any(not str(a) for a in alts):
        return ()  # one alternative admits anything
    return tuple(alts)


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
            for alt in cons:
                out.append(_Req(pkg, alt, entry_marked or len(cons) > 1, f"{pkg} {version.strip()}"))
    return out


def _str_reqs(items: Any, groups: Optional[Dict[str, Any]] = None, depth: int = 0) -> List[_Req]:
    out: List[_Req] = []
    if not isinstance(items, list) or depth > 10:
        return out
    for item in items:
        if isinstance(item, str):
            r = _req(item)
            if r is not None:
                out.append(r)
        elif isinstance(item, dict) and groups is not None and isinstance(item.get("include-group"), str):
            out.extend(_str_reqs(groups.get(item["include-group"]), groups, depth + 1))
    return out


def _parse_pyproject(path: str) -> Optional[Dict[str, Any]]:
    try:
        return _load_toml_file(path)
    except _toml_errors() as exc:
        _warn(path, "pyproject.toml", exc)
        return None


def _pyproject_answer(path: str) -> Optional[Answer]:
    data = _cached("pyproject", path, _parse_pyproject)
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
            alternatives.append((f"[dependency-groups] {name}", _str_reqs(items, groups)))
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
    parts = []
    details = []
    for detail, reqs in alternatives:
        part = _combine(reqs)
        if part:
            parts.append(part)
            details.append(detail)
    if not parts:
        return None
    return _answer("pyproject", path, ", ".join(details), _union(parts))


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
        if n in _ANSWER_NAMES or (n.startswith("pylock.") and n.endswith(".toml")):
            return True
        if n.startswith("requirements") and n.endswith(".txt"):
            return True
    return False


_ANSWER_NAMES = frozenset(os.path.normcase(n) for n in LOCK_FILES + ("pyproject.toml", "requirements"))


def directory_answer(directory: str) -> Optional[Answer]:
    """What one directory's files say: a lock file, else requirements files, else pyproject.toml."""
    if not _may_answer(directory):
        return None
    for lock in lock_files(directory):
        ans = _lock_answer(lock)
        if ans is not None:
            return ans
    ans = _requirements_answer(directory)
    if ans is not None:
        return ans
    pyproject = os.path.join(directory, "pyproject.toml")
    if os.path.isfile(pyproject):
        return _pyproject_answer(pyproject)
    return None


def _inside(path: str, root: str, real_root: Optional[str] = None) -> bool:
    path = os.path.normcase(os.path.realpath(path))
    root = real_root or os.path.normcase(os.path.realpath(root))
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _workspace_lock(member_dir: str) -> Optional[Answer]:
    """A uv.lock above a workspace member's own pyproject.toml that locks that member."""
    d = os.path.dirname(member_dir)
    for _ in range(12):
        lock = os.path.join(d, "uv.lock")
        if os.path.isfile(lock):
            info = _cached("lock", lock, _parse_lock)
            if info is not None and any(os.path.normcase(m) == os.path.normcase(member_dir) for m in info.members):
                return _lock_answer(lock)
        if os.path.exists(os.path.join(d, ".git")):
            return None
        parent = os.path.dirname(d)
        if parent == d:
            return None
        d = parent
    return None


def _installed_answer(root: str) -> Optional[Answer]:
    """The distributions of the environment the linter runs in, when that is the project's own."""
    import importlib.metadata as md

    paths: Optional[List[str]] = None
    where = ""
    if _inside(sys.prefix, root):
        where = sys.prefix
    else:
        venv = os.environ.get("VIRTUAL_ENV")
        if venv and _inside(venv, root):
            where = venv
            paths = glob.glob(os.path.join(glob.escape(venv), "lib", "python*", "site-packages"))
            paths += glob.glob(os.path.join(glob.escape(venv), "Lib", "site-packages"))
    if not where:
        return None
    for p in paths if paths is not None else sys.path:
        if p and os.path.isdir(p):
            note(p)  # an install or removal changes the directory (snapshot.py)
    versions: Dict[str, List[str]] = {}
    try:
        dists = md.distributions(path=paths) if paths is not None else md.distributions()
        for dist in dists:
            pkg = _pkg_of(dist.metadata["Name"] if dist.metadata else None)
            if pkg and dist.version:
                Version(dist.version)
                versions.setdefault(pkg, []).append(dist.version)
    except Exception:  # a broken environment must not break linting
        return None
    if not versions:
        return None
    constraints = {p: tuple(SpecifierSet(f"=={v}") for v in vs) for p, vs in versions.items()}
    texts = {p: f"{p}==" + " or ==".join(vs) for p, vs in versions.items()}
    return Answer(Source("installed", where, "installed distributions"), constraints, texts, {p: True for p in constraints})


# ---------------------------------------------------------------------------------------------
# options


def parse_option(value: str) -> Constraint:
    """``fastapi-version``: a version (``0.110.0``), a PEP 440 specifier (``>=0.100,<0.110``), or a
    Poetry constraint (``^0.110``)."""
    text = str(value).strip()
    if not text:
        raise ReleaseConfigError("empty version")
    try:
        Version(text)
        return (SpecifierSet(f"=={text}"),)
    except InvalidVersion:
        pass
    try:
        return (SpecifierSet(text),)
    except InvalidSpecifier:
        pass
    cons = poetry_constraint(text)
    if cons is None:
        raise ReleaseConfigError(f"{text!r} is neither a version nor a version specifier (e.g. 0.110.0 or >=0.100,<0.110)")
    return cons or (SpecifierSet(),)


def _option_answer(settings: Any) -> Optional[Answer]:
    values = getattr(settings, "values", None) or {}
    constraints: Dict[str, Constraint] = {}
    texts: Dict[str, str] = {}
    exact: Dict[str, bool] = {}
    detail = []
    for pkg in PACKAGES:
        value = values.get(f"{pkg}_version")
        if value is None or value == "":
            continue
        constraints[pkg] = parse_option(value)
        texts[pkg] = str(value)
        exact[pkg] = False
        detail.append(str(value))
    if not constraints:
        return None
    # the option's text is what messages quote
    return Answer(Source("option", "", "; ".join(detail)), constraints, texts, exact)


# ---------------------------------------------------------------------------------------------
# resolution


def _walk(start: str, root: str, memo: Optional[Dict[Any, Any]] = None) -> List[str]:
    dirs = []
    d = os.path.abspath(start)
    root = os.path.abspath(root)
    real_root = None
    if memo is not None:  # the same root for every start: resolve its real path once
        if ("realpath", root) not in memo:
            memo[("realpath", root)] = os.path.normcase(os.path.realpath(root))
        real_root = memo[("realpath", root)]
    inside = _inside(d, root, real_root)
    while True:
        dirs.append(d)
        if not inside or os.path.normcase(d) == os.path.normcase(root):
            break
        parent = os.path.dirname(d)
        if parent == d:
            break
        d = parent
    return dirs


def resolve_answer(
    start: str, root: str, settings: Any = None, memo: Optional[Dict[Any, Any]] = None
) -> Optional[Answer]:
    """The first source that answers for a file in directory ``start`` of the project at ``root``.

    ``memo``: a dict to keep each directory's answer in, for many lookups in one run."""
    ans = _option_answer(settings) if settings is not None else None
    if ans is not None:
        return ans
    for d in _walk(start, root, memo):
        if memo is None:
            ans = directory_answer(d)
        else:
            if ("dir", d) not in memo:
                memo[("dir", d)] = directory_answer(d)
            ans = memo[("dir", d)]
        if ans is not None:
            if ans.source.kind != "lock" and os.path.basename(ans.source.path) == "pyproject.toml":
                ws = _workspace_lock(d)
                if ws is not None:
                    return ws
            return ans
    if memo is None:
        return _installed_answer(root)
    if ("installed", root) not in memo:
        memo[("installed", root)] = _installed_answer(root)
    return memo[("installed", root)]  # type: ignore[no-any-return]


def from_answer(ans: Optional[Answer], root: str = "") -> Releases:
    if ans is None:
        return Releases(Possible.everything("fastapi"), Possible.everything("starlette"), root)
    per: Dict[str, Possible] = {}
    for pkg in PACKAGES:
        if pkg in ans.constraints:
            per[pkg] = Possible.from_constraint(
                pkg, ans.constraints[pkg], ans.source, ans.texts.get(pkg, ""), ans.exact.get(pkg, False)
            )
    fastapi = per.get("fastapi")
    starlette = per.get("starlette")
    if fastapi is not None and starlette is None:
        starlette = _starlette_through_pins(fastapi)
    elif fastapi is not None and starlette is not None:
        fastapi, starlette = _narrow_each_other(fastapi, starlette)
    return Releases(
        fastapi or Possible.everything("fastapi"),
        starlette or Possible.everything("starlette"),
        root,
    )


def _starlette_through_pins(fastapi: Possible) -> Possible:
    candidates = KNOWN["starlette"].versions
    rows = {_pin_row(v) for v in fastapi.versions}
    if fastapi.beyond:
        rows.add(_pin_row(KNOWN["fastapi"].probes[-1]))
    allowed: set = set()
    beyond = False
    for row in rows:
        allowed.update(_starlette_allowed(row, candidates))
        beyond = beyond or _row_admits_beyond(row)
    return Possible("starlette", allowed, beyond, Source("pins", fastapi.source.path, "FastAPI's starlette pins"))


def _narrow_each_other(fastapi: Possible, starlette: Possible) -> Tuple[Possible, Possible]:
    """Keep the Starlette releases some possible FastAPI allows, and the FastAPI releases that allow
    some possible Starlette (unless that leaves nothing: then the data, not the project, is off)."""
    rows: Dict[Optional[int], List[Version]] = {}
    for v in fastapi.versions:
        rows.setdefault(_pin_row(v), []).append(v)
    f_ok: List[Version] = []
    s_ok: set = set()
    for row, fvs in rows.items():
        allowed = _starlette_allowed(row, starlette.versions)
        if allowed or (starlette.beyond and _row_admits_beyond(row)):
            f_ok.extend(fvs)
            s_ok.update(allowed)
    f_beyond = fastapi.beyond
    if fastapi.beyond:
        row = _pin_row(KNOWN["fastapi"].probes[-1])
        allowed = _starlette_allowed(row, starlette.versions)
        s_ok.update(allowed)
        f_beyond = bool(allowed) or (starlette.beyond and _row_admits_beyond(row))
    if not (f_ok or f_beyond) or not (s_ok or starlette.beyond):
        return fastapi, starlette
    return (
        Possible("fastapi", f_ok, f_beyond, fastapi.source, fastapi.text, fastapi.exact),
        Possible("starlette", s_ok, starlette.beyond, starlette.source, starlette.text, starlette.exact),
    )


def for_path(path: str, root: str, settings: Any = None, memo: Optional[Dict[Any, Any]] = None) -> Releases:
    """The releases a file (or a directory) of the project at ``root`` can run.

    ``memo``: a dict to reuse results in (the project's memo; one lint run)."""
    start = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    values = getattr(settings, "values", None) or {}
    key = ("releases", start, root, values.get("fastapi_version"), values.get("starlette_version"))
    if memo is not None and key in memo:
        return memo[key]
    result = from_answer(resolve_answer(start, root, settings), root)
    if memo is not None:
        memo[key] = result
    return result


# ---------------------------------------------------------------------------------------------
# --show-settings


def show_settings(paths: Sequence[str], settings: Any) -> str:
    """The resolved options, the config file, and for the given paths the releases and where they
    come from (one block per distinct answer among the files linted)."""
    from .engine import discover, find_root
    from .options import OPTIONS

    def display(path: str) -> str:
        try:
            rel = os.path.relpath(path)
        except ValueError:
            return path
        return path if rel.startswith(".." + os.sep + "..") else rel

    lines = [f"config file: {display(settings.config_path) if settings.config_path else '(none)'}", "options:"]
    for spec in OPTIONS:
        value = settings.values.get(spec.dest)
        lines.append(f"  {spec.name} = {'(default)' if value is None else repr(value)}")
    targets, _errors = discover(list(paths), settings)
    if not targets:
        targets = [os.path.abspath(p) for p in paths]
    memo: Dict[Any, Any] = {}
    groups: Dict[Tuple[str, str, str], Tuple[Releases, List[str]]] = {}
    for t in targets:
        root = find_root(t)
        r = for_path(t, root, settings, memo)
        key = (root, r.fastapi.source.path + r.starlette.source.path, r.cache_key())
        groups.setdefault(key, (r, []))[1].append(t)
    for (root, _src, _k), (r, files) in groups.items():
        where = os.path.commonpath(files) if len(files) > 1 else files[0]
        n = len(files)
        lines.append(f"releases for {n} file{'s' if n != 1 else ''} in {display(where)} (project root {display(root)}):")
        lines.extend("  " + line for line in r.describe(display))
    return "\n".join(lines)
