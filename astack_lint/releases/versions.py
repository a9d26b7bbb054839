"""Releases: which FastAPI and Starlette releases a constraint admits, and what an affected range
means for a project's possible releases.

"Possible releases" are the known releases (``data.py``) a constraint admits, plus any pinned
release newer than the table, plus ``beyond``: whether the constraint admits releases newer than
every known one. FastAPI's own pins of Starlette (``data.STARLETTE_PINS``) narrow Starlette when
only FastAPI is known, and each package by the other when both are.

A release-dependent rule declares ``affected = (Affected(fastapi=">=0.106.0,<0.118.0",
symptom="..."), ...)`` and asks ``ctx.releases.hits(self.affected)``: the ranges the project's
possible releases meet (a rule reports only when there is one), and ``explain(hits)`` renders them
for the message.
"""

from __future__ import annotations

import hashlib
import os
import re
from typing import Callable, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from .affected import Affected, Hit
from .data import FASTAPI_RELEASES, STARLETTE_PINS, STARLETTE_RELEASES

PACKAGES = ("fastapi", "starlette")

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
    kind: str  # "option" | "lock" | "requirements" | "pyproject" | "setup" | "metadata" | "installed" | "pins" | "none"
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
        if src.kind not in ("none", "pins"):
            return f"your constraint {p.text or src.detail} ({self._rel(src.path)}) admits", False
        # how to tell the linter what the project runs, where the finding is read (flake8, annotations)
        return f'no {package} release is pinned (pin it, or set {package}-version = "..."), so every release is possible, including', False

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
            elif src.kind in ("setup", "metadata"):
                where = f"{show(src.path)} {src.detail}" + (f": {p.text}" if p.text else "")
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


MAX_CONSTRAINT_CHARS = 2000
MAX_ALTERNATIVES = 64


def poetry_constraint(text: str) -> Optional[Constraint]:
    """Poetry's version constraint (``^0.100``, ``~0.100.1``, ``>=1,<2``, ``1.2.*``, ``a || b``) as
    PEP 440 specifier alternatives. None when it cannot be read (also when longer than
    ``MAX_CONSTRAINT_CHARS`` or with more than ``MAX_ALTERNATIVES`` alternatives: no real project
    writes one, and each alternative is checked against every release); () for "any release"."""
    text = str(text)
    if len(text) > MAX_CONSTRAINT_CHARS or text.count("||") >= MAX_ALTERNATIVES:
        return None
    alts: List[SpecifierSet] = []
    for part in text.split("||"):
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

