"""The release table and every rule's ``affected`` rows, release by release.

For each known FastAPI release (and one newer than the table, standing for the releases to come),
each rule's rows are asked as the linter asks them (``Releases.hits``, with Starlette narrowed by
FastAPI's own pins), one group per row tag. A release that no row of a group meets must be
explained below (``GAPS``: why the harm cannot happen there), and a release that two rows of one
group meet at once too (``OVERLAPS``); an explanation that no longer matches a gap fails as well.
A new release added by ``python -m astack_lint.releases.refresh`` falls under an open-ended row or
explanation, or this test names it. Also: the table itself is sorted, and FastAPI's pins cover
every FastAPI release with a Starlette release the table knows.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List, Tuple

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from astack_lint.releases import data, refresh
from astack_lint.releases.affected import Affected
from astack_lint.releases.resolve import option_answer
from astack_lint.releases.versions import KNOWN, from_answer
from astack_lint.rules.registry import all_rules

# (rule code, row tag) -> [(FastAPI releases where no row applies, why)]
GAPS: Dict[Tuple[str, str], List[Tuple[str, str]]] = {
    ("AXS101", "fastapi_astack"): [
        ("<0.74.0", "no AsyncExitStackMiddleware before 0.74.0 (AXS102 reports its import)"),
        (">=0.106.0", "from 0.106.0 FastAPI no longer reads 'fastapi_astack'; 0.118.0 on is the other tag's"),
    ],
    ("AXS101", "fastapi_middleware_astack"): [
        ("<0.118.0", "FastAPI reads 'fastapi_middleware_astack' only from 0.118.0; before, the other tag or no module"),
    ],
    ("AXS102", ""): [
        (">=0.74.0,<0.106.0", "fastapi.middleware.asyncexitstack exists"),
        (">=0.118.0", "fastapi.middleware.asyncexitstack exists again"),
    ],
    ("AXS103", ""): [
        ("<0.118.0", "before 0.118.0 a route without the stack fails only with a yield dependency or a Form/File "
                     "parameter (the 'yield' and 'form' tags)"),
    ],
    ("AXS103", "yield"): [
        ("<0.74.0", "no exit stack in the request scope before 0.74.0: a router works under plain Starlette"),
        (">=0.106.0", "0.106.0 - 0.117.1 run yield dependencies without the stack; from 0.118.0 every route fails "
                      "(the untagged row)"),
    ],
    ("AXS103", "form"): [
        ("<0.86.0", "Form/File routes need the stack only from 0.86.0"),
        (">=0.106.0", "0.106.0 - 0.117.1 work; from 0.118.0 every route fails (the untagged row)"),
    ],
    ("AXS201", ""): [
        (">=0.87.0,<0.90.1", "Starlette 0.21.0 - 0.23.0 run the background task after the response, outside the "
                             "middleware's task group"),
        (">=0.107.1", "Starlette >= 0.29 runs the background task after the response, outside the task group"),
    ],
    ("AXS203", ""): [
        ("<0.87.0", "Starlette <= 0.20 reports the disconnect through BaseHTTPMiddleware"),
    ],
    ("AXS301", "request"): [
        (">=0.74.0,<0.110.0", "FastAPI 0.74 - 0.109 re-raises the endpoint's error itself"),
    ],
    ("AXS301", "function"): [
        ("<0.121.0", "dependencies with scope='function' exist only from FastAPI 0.121.0"),
    ],
    ("AXS302", "request"): [
        (">=0.74.0,<0.110.0", "FastAPI 0.74 - 0.109 re-raises the endpoint's error itself"),
    ],
    ("AXS302", "function"): [
        ("<0.121.0", "dependencies with scope='function' exist only from FastAPI 0.121.0"),
    ],
    ("AXS305", ""): [
        (">=0.106.0,<0.118.0", "FastAPI 0.106 - 0.117 run the code after yield before the response: the client "
                               "gets the error"),
    ],
    ("AXS401", ""): [
        ("<0.106.0", "before 0.106.0 uploads and yield dependencies are closed after the background tasks ran"),
        (">=0.117.2,<0.121.0", "0.117.2 - 0.120 close them after the response again, and scope='function' does "
                               "not exist yet"),
    ],
    ("AXS404", ""): [
        ("<0.91.0", "Starlette < 0.24 (FastAPI < 0.91) raises no error for middleware added after the start"),
    ],
}

# (rule code, row tag) -> [(FastAPI releases where two rows of the group both apply, why)]
OVERLAPS: Dict[Tuple[str, str], List[Tuple[str, str]]] = {
    ("AXS401", ""): [
        (">=0.106.0,<=0.117.1", "one row for UploadFile, one for a yield dependency's value: each finding asks only "
                                "the row of its own resource"),
    ],
}


def _versions() -> List[Version]:
    known = list(KNOWN["fastapi"].versions)
    return known + [KNOWN["fastapi"].probes[1]]  # a release newer than the table


def _releases(v: Version):
    return from_answer(option_answer(f"=={v}", None))


def _groups() -> Dict[Tuple[str, str], Tuple[Affected, ...]]:
    out: Dict[Tuple[str, str], List[Affected]] = {}
    for rule in all_rules():
        for row in rule.affected:
            a = row if isinstance(row, Affected) else Affected(*row)
            out.setdefault((rule.code, a.tag), []).append(a)
    return {k: tuple(v) for k, v in out.items()}


def _explained(table, key, v: Version) -> bool:
    return any(SpecifierSet(spec).contains(v, prereleases=True) for spec, _why in table.get(key, ()))


@pytest.fixture(scope="module")
def per_release():
    groups = _groups()
    out = {}
    for v in _versions():
        r = _releases(v)
        out[v] = {key: len(r.hits(rows)) for key, rows in groups.items()}
    return out


def test_every_gap_and_overlap_is_explained(per_release):
    problems = []
    for v, counts in per_release.items():
        for key, n in counts.items():
            if n == 0 and not _explained(GAPS, key, v):
                problems.append(f"{key[0]} rows tagged {key[1]!r} leave FastAPI {v} uncovered, and GAPS does not say why")
            if n > 0 and _explained(GAPS, key, v):
                problems.append(f"{key[0]} rows tagged {key[1]!r} cover FastAPI {v}, which GAPS explains as a gap")
            if n > 1 and not _explained(OVERLAPS, key, v):
                problems.append(f"{key[0]} rows tagged {key[1]!r} overlap on FastAPI {v}, and OVERLAPS does not say why")
            if n == 1 and _explained(OVERLAPS, key, v):
                problems.append(f"{key[0]} rows tagged {key[1]!r} do not overlap on FastAPI {v}, which OVERLAPS explains")
    assert not problems, "\n".join(problems[:40])


def test_explanations_name_rules_and_tags_that_exist():
    groups = _groups()
    assert set(GAPS) <= set(groups) and set(OVERLAPS) <= set(groups)


def test_the_release_table():
    for releases in (data.FASTAPI_RELEASES, data.STARLETTE_RELEASES):
        assert list(releases) == sorted(releases, key=Version) and len(set(releases)) == len(releases)
        assert all(not Version(v).is_prerelease for v in releases)
    # every FastAPI release falls in exactly one pin row, which admits some known Starlette release
    for v in data.FASTAPI_RELEASES + (str(KNOWN["fastapi"].probes[1]),):
        rows = [s for f, s in data.STARLETTE_PINS if SpecifierSet(f).contains(v)]
        assert len(rows) == 1, (v, rows)
        assert any(SpecifierSet(rows[0]).contains(s) for s in data.STARLETTE_RELEASES), (v, rows)
    # FastAPI 0.164 forced Starlette >= 1.6 (its wheel's Requires-Dist)
    assert refresh.pin_row("0.164.0") == (">=0.164", ">=1.6.0")
    assert refresh.pin_row("0.163.2") == (">=0.134,<0.164", ">=0.46")


def test_every_rule_says_which_releases_it_was_proven_on():
    """``proven_on`` (rendered in the docs): the newest release of the table with its Starlette,
    which the proofs run on in this environment, and each older release a proof test pins."""
    proofs = Path(__file__).resolve().parent / "proofs"
    texts = {p.name: p.read_text(encoding="utf-8") for p in proofs.glob("test_*.py")}
    newest = f"{data.FASTAPI_RELEASES[-1]}/{data.STARLETTE_RELEASES[-1]}"
    for rule in all_rules():
        assert rule.proven_on and rule.proven_on[-1] == newest, (rule.code, rule.proven_on, newest)
        for entry in rule.proven_on[:-1]:
            fastapi = entry.partition("/")[0]
            assert fastapi in data.FASTAPI_RELEASES, (rule.code, entry)
            pinned = [n for n, t in texts.items() if rule.code in t or n == f"test_{rule.code.lower()}.py"]
            assert any(re.search(rf"fastapi=={re.escape(fastapi)}\b", texts[n]) for n in pinned), (rule.code, entry)


# ---------------------------------------------------------------------------------------------
# the maintainer command, without the network

INDEX = "fastapi (0.166.0)\nAvailable versions: 0.166.0, 0.166.0rc1, {known}\n  INSTALLED: 0.165.0\n"


def test_refresh_reports_and_rewrites(tmp_path):
    text = open(refresh.DATA_PY, encoding="utf-8").read()
    path = tmp_path / "data.py"
    path.write_text(text, encoding="utf-8")

    def versions_of(package):
        known = data.FASTAPI_RELEASES if package == "fastapi" else data.STARLETTE_RELEASES
        if package == "fastapi":
            return refresh.parse_index_versions(INDEX.format(known=", ".join(reversed(known))))
        return list(known)

    def metadata_of(package, version):
        assert (package, version) == ("fastapi", "0.166.0")
        return "Metadata-Version: 2.1\nName: fastapi\nRequires-Dist: starlette>=1.8.0\nRequires-Dist: httpx; extra == 'all'\n\nbody"

    out = []

    class Out:
        def write(self, s):
            out.append(s)

    assert refresh.refresh(True, versions_of, metadata_of, str(path), Out()) == 1
    report = "".join(out)
    assert "fastapi: 1 new release(s) 0.166.0" in report
    assert "requires starlette >=1.8.0, the row '>=0.164' says '>=1.6.0'" in report
    assert path.read_text(encoding="utf-8") == text  # --check writes nothing
    refresh.refresh(False, versions_of, metadata_of, str(path), Out())
    rewritten = path.read_text(encoding="utf-8")
    assert '"0.165.0", "0.166.0",' in rewritten.replace("\n   ", "") and "0.166.0rc1" not in rewritten
    namespace: Dict[str, object] = {}
    exec(compile(rewritten, "data.py", "exec"), namespace)  # the rewritten table is still valid Python
    assert namespace["FASTAPI_RELEASES"][-1] == "0.166.0"
    assert namespace["STARLETTE_RELEASES"] == data.STARLETTE_RELEASES
    assert refresh.render_tuple("X", ["1", "2"]) == 'X = (\n    "1", "2",\n)'
