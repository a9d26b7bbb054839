"""Output formats: text, json, sarif, github, --statistics, --show-source, colours, the summary.

Formatter unit tests use synthetic findings (odd paths, messages with newlines and percent signs,
a fix), so they hold whatever the rules report; the fixtures then go through the real CLI.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname

import pytest

from astack_lint.api import LintError, Settings, lint_paths
from astack_lint.report.formats import (
    escape_data,
    escape_property,
    format_github,
    format_json,
    format_sarif,
    format_statistics,
    format_text,
    render,
    repository_root,
    sarif_log,
    summary_line,
    use_color,
)
from astack_lint.results import Edit, Finding, Fix
from astack_lint.rules.registry import all_rules

from .conftest import FIXTURES, REPO, expectations

SCHEMA_PATH = REPO / "tests" / "data" / "sarif-schema-2.1.0.json"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
MESSAGE = "50% of requests fail:\nline two, with a comma\r\nand 100%25 literal"


@pytest.fixture(scope="module")
def sarif_validator():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert schema["title"] == "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema"
    cls = jsonschema.Draft7Validator
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def assert_valid_sarif(validator, log) -> None:
    errors = sorted(validator.iter_errors(log), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])


@pytest.fixture
def odd_tree(tmp_path: Path) -> Dict[str, Path]:
    """A repository with awkward names, and a file outside it."""
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    spaced = repo / "dir with space" / "app ü.py"
    weird = repo / "naïve, odd: name" / "ñandú 100%.py"
    outside = tmp_path / "elsewhere" / "out side.py"
    for p in (spaced, weird, outside):
        p.parent.mkdir(parents=True, exist_ok=True)
    spaced.write_text("import x\n\tapp.add_middleware(Thing, context_name='x')\n", encoding="utf-8")
    weird.write_text("# ü\nvalue = 1\n", encoding="utf-8")
    outside.write_text("a = 1\nb = 2\n", encoding="utf-8")
    return {"repo": repo, "spaced": spaced, "weird": weird, "outside": outside}


def findings_for(tree: Dict[str, Path]) -> List[Finding]:
    fix = Fix((Edit((2, 40), (2, 44), "'fastapi_middleware_astack'"),), "safe", "use the default name")
    return [
        Finding("AXS101", MESSAGE, str(tree["spaced"]), 2, 20, 2, 44, fix),
        Finding("AXS104", "plain message", str(tree["weird"]), 2, 0),
        Finding("AXS104", "second, in the same file", str(tree["weird"]), 1, 2, 1, 3),
        Finding("AXS999", "a code no rule has", str(tree["outside"]), 2, 4, 2, 5),
    ]


# ---------------------------------------------------------------------------------------------
# text


def test_text_lines_are_relative_to_cwd_and_plain(odd_tree):
    out = format_text(findings_for(odd_tree), cwd=str(odd_tree["repo"]))
    lines = out.splitlines()
    assert len(lines) == 4  # one line per finding, whatever the message holds
    assert lines[0] == "dir with space/app ü.py:2:21: AXS101 " + MESSAGE.replace("\r", "\\r").replace("\n", "\\n")
    assert "naïve, odd: name/ñandú 100%.py:2:1: AXS104 plain message" in lines
    # a file outside the current directory: a relative path that still leads to it
    outside_line = [line for line in lines if "AXS999" in line][0]
    rel = outside_line.split(":")[0]
    assert rel.startswith("..") and (odd_tree["repo"] / rel).resolve() == odd_tree["outside"].resolve()
    assert not ANSI.search(out)


def test_text_colour_only_when_asked(odd_tree):
    out = format_text(findings_for(odd_tree), cwd=str(odd_tree["repo"]), color=True)
    assert ANSI.search(out)
    assert ANSI.sub("", out) == format_text(findings_for(odd_tree), cwd=str(odd_tree["repo"]))


def test_show_source_puts_a_caret_under_the_column(odd_tree):
    f = findings_for(odd_tree)
    out = format_text([f[0], f[1]], cwd=str(odd_tree["repo"]), show_source=True).split("\n")
    # the source line keeps its tab; the caret line keeps it too, so the caret lines up
    src, caret = out[1], out[2]
    assert src == "    \tapp.add_middleware(Thing, context_name='x')"
    assert caret.startswith("    \t") and caret.strip() == "^" * (44 - 20)
    assert caret.index("^") == 4 + 20
    assert out[4:6] == ["    value = 1", "    ^"]


# ---------------------------------------------------------------------------------------------
# JSON


def test_json_shape(odd_tree):
    data = json.loads(format_json(findings_for(odd_tree)))
    first = data[0]
    assert set(first) == {"code", "name", "message", "filename", "location", "end_location", "fix", "url"}
    assert first["code"] == "AXS101" and first["name"] == "custom-exit-stack-name"
    assert first["message"] == MESSAGE
    assert first["filename"] == str(odd_tree["spaced"])
    assert first["location"] == {"row": 2, "column": 21}
    assert first["end_location"] == {"row": 2, "column": 45}
    assert first["url"] == "astack-lint rule AXS101"
    assert first["fix"] == {
        "applicability": "safe",
        "message": "use the default name",
        "edits": [
            {
                "content": "'fastapi_middleware_astack'",
                "location": {"row": 2, "column": 41},
                "end_location": {"row": 2, "column": 45},
            }
        ],
    }
    point = data[1]
    assert point["filename"] == str(odd_tree["weird"]) and point["fix"] is None
    assert point["location"] == point["end_location"] == {"row": 2, "column": 1}
    assert data[3]["name"] is None and data[3]["filename"] == str(odd_tree["outside"])


def test_rule_urls_come_from_the_project_urls(monkeypatch):
    """[project.urls] names no public address yet: a finding points at the shipped page (the
    command that prints it), SARIF has no helpUri / informationUri; once Documentation and
    Homepage are set, the links follow them."""
    from astack_lint.report import docs

    assert docs.project_urls() == {}  # pyproject.toml's [project.urls], as installed
    for rule in all_rules():
        assert docs.rule_url(rule.code) == f"astack-lint rule {rule.code}"
    run = sarif_log([], all_rules(), root=str(REPO))["runs"][0]
    assert "informationUri" not in run["tool"]["driver"]
    assert all("helpUri" not in d for d in run["tool"]["driver"]["rules"])
    published = {"documentation": "https://example.org/astack-lint/docs/", "homepage": "https://example.org/astack-lint"}
    monkeypatch.setattr(docs, "project_urls", lambda: published)
    assert docs.rule_url("AXS101") == "https://example.org/astack-lint/docs/rules/AXS101.md"
    run = sarif_log([], all_rules(), root=str(REPO))["runs"][0]
    assert run["tool"]["driver"]["informationUri"] == "https://example.org/astack-lint"
    assert run["tool"]["driver"]["rules"][0]["helpUri"] == "https://example.org/astack-lint/docs/rules/AXS101.md"


# ---------------------------------------------------------------------------------------------
# SARIF


def _uri_to_path(location: dict, root: Path) -> Path:
    uri = location["uri"]
    assert " " not in uri and uri.isascii(), uri
    if "uriBaseId" in location:
        assert location["uriBaseId"] == "%SRCROOT%"
        return root / unquote(uri)
    parsed = urlparse(uri)
    assert parsed.scheme == "file"
    return Path(url2pathname(parsed.path))


def test_sarif_synthetic_validates_and_round_trips(odd_tree, sarif_validator):
    findings = findings_for(odd_tree)
    errors = [LintError(str(odd_tree["repo"] / "broken file.py"), "cannot parse: invalid syntax", 3, 7)]
    log = json.loads(format_sarif(findings, root=str(odd_tree["repo"]), errors=errors))
    assert_valid_sarif(sarif_validator, log)
    assert log["version"] == "2.1.0"
    run_ = log["runs"][0]
    root = Path(url2pathname(urlparse(run_["originalUriBaseIds"]["%SRCROOT%"]["uri"]).path))
    assert root == odd_tree["repo"]
    rules = run_["tool"]["driver"]["rules"]
    for r in rules[:-1]:
        assert {"id", "name", "shortDescription", "fullDescription", "help", "defaultConfiguration"} <= set(r)
        assert r["defaultConfiguration"]["level"] in ("error", "warning", "note")
    assert rules[-1]["id"] == "AXS999"  # unknown code: still described
    results = run_["results"]
    assert [rules[r["ruleIndex"]]["id"] for r in results] == [r["ruleId"] for r in results]
    for f, r in zip(findings, results):
        loc = r["locations"][0]["physicalLocation"]
        assert _uri_to_path(loc["artifactLocation"], root).resolve() == Path(f.path).resolve()
        assert loc["region"]["startLine"] == f.line and loc["region"]["startColumn"] == f.col + 1
        assert r["message"]["text"] == f.message
    inside, outside = results[0]["locations"][0]["physicalLocation"], results[3]["locations"][0]["physicalLocation"]
    assert inside["artifactLocation"]["uri"] == "dir%20with%20space/app%20%C3%BC.py"
    assert "uriBaseId" not in outside["artifactLocation"]
    assert inside["region"] == {"startLine": 2, "startColumn": 21, "endLine": 2, "endColumn": 45}
    assert "endLine" not in results[1]["locations"][0]["physicalLocation"]["region"]
    fix = results[0]["fixes"][0]
    change = fix["artifactChanges"][0]
    assert _uri_to_path(change["artifactLocation"], root) == odd_tree["spaced"]
    assert change["replacements"][0] == {
        "deletedRegion": {"startLine": 2, "startColumn": 41, "endLine": 2, "endColumn": 45},
        "insertedContent": {"text": "'fastapi_middleware_astack'"},
    }
    invocation = run_["invocations"][0]
    assert invocation["executionSuccessful"] is False
    note = invocation["toolExecutionNotifications"][0]
    assert note["message"]["text"] == "cannot parse: invalid syntax"
    assert note["locations"][0]["physicalLocation"]["region"] == {"startLine": 3, "startColumn": 7}


def test_sarif_without_findings_validates(sarif_validator, tmp_path):
    log = sarif_log([], root=str(tmp_path))
    assert_valid_sarif(sarif_validator, log)
    assert log["runs"][0]["results"] == []
    assert [r["id"] for r in log["runs"][0]["tool"]["driver"]["rules"]] == [r.code for r in all_rules()]


# ---------------------------------------------------------------------------------------------
# GitHub workflow commands


def test_github_escaping_as_documented():
    assert escape_data("100%\r\nnext\nline: a, b") == "100%25%0D%0Anext%0Aline: a, b"
    assert escape_property("C:\\a, b:c%\n") == "C%3A\\a%2C b%3Ac%25%0A"
    # % first, so an already-escaped-looking sequence is not decoded by the runner
    assert escape_data("%0A") == "%250A"


def _unescape(text: str, prop: bool) -> str:
    pairs = [("%0D", "\r"), ("%0A", "\n")] + ([("%3A", ":"), ("%2C", ",")] if prop else [])
    for a, b in pairs:
        text = text.replace(a, b)
    return text.replace("%25", "%")


GITHUB_LINE = re.compile(r"^::(?P<cmd>error|warning|notice) (?P<props>[^:]*)::(?P<msg>.*)$")


def parse_github(line: str):
    m = GITHUB_LINE.match(line)
    assert m, line
    props = dict(p.split("=", 1) for p in m.group("props").split(","))
    return m.group("cmd"), {k: _unescape(v, True) for k, v in props.items()}, _unescape(m.group("msg"), False)


def test_github_annotations(odd_tree):
    findings = findings_for(odd_tree)
    errors = [LintError(str(odd_tree["repo"] / "bad, file.py"), "cannot read: Permission denied")]
    out = format_github(findings, root=str(odd_tree["repo"]), errors=errors)
    lines = out.splitlines()
    assert len(lines) == len(findings) + 1  # one line each: newlines in messages are escaped
    assert lines[0] == (
        "::error file=dir with space/app ü.py,line=2,col=21,endLine=2,endColumn=45,title=AXS101::"
        "50%25 of requests fail:%0Aline two, with a comma%0D%0Aand 100%2525 literal"
    )
    cmd, props, msg = parse_github(lines[1])
    assert props == {"file": "naïve, odd: name/ñandú 100%.py", "line": "2", "col": "1", "title": "AXS104"}
    assert "%2C" in lines[1] and "%3A" in lines[1]
    for f, line in zip(findings, lines):
        cmd, props, msg = parse_github(line)
        assert msg == f.message and props["title"] == f.code
        assert (odd_tree["repo"] / props["file"]).resolve() == Path(f.path).resolve()
    # outside the repository: an absolute path
    assert parse_github(lines[3])[1]["file"] == str(odd_tree["outside"]).replace(os.sep, "/")
    cmd, props, msg = parse_github(lines[4])
    assert (cmd, props, msg) == ("error", {"file": "bad, file.py", "title": "astack-lint"}, "cannot read: Permission denied")


def test_repository_root_is_the_git_work_tree(odd_tree, tmp_path):
    sub = odd_tree["spaced"].parent
    assert repository_root(str(sub)) == str(odd_tree["repo"])
    plain = tmp_path / "no-git"
    plain.mkdir()
    expected = next((str(p) for p in [plain, *plain.parents] if (p / ".git").exists()), str(plain))
    assert repository_root(str(plain)) == expected  # no checkout: the directory itself


# ---------------------------------------------------------------------------------------------
# statistics, summary, colours


def test_statistics_sorted_by_count(odd_tree):
    findings = findings_for(odd_tree)
    rows = json.loads(format_statistics(findings, "json"))
    assert [(r["code"], r["count"]) for r in rows] == [("AXS104", 2), ("AXS101", 1), ("AXS999", 1)]
    assert rows[0] == {"code": "AXS104", "name": "internal-scope-key", "count": 2, "fixable": False}
    assert rows[1]["fixable"] is True
    text = format_statistics(findings).splitlines()
    assert text[0] == "2\tAXS104\t[ ] internal-scope-key"
    assert text[1] == "1\tAXS101\t[*] custom-exit-stack-name"
    assert format_statistics([]) == ""


def test_summary_line():
    def f(path: str, fix=None) -> Finding:
        return Finding("AXS101", "m", path, 1, 0, fix=fix)

    safe = Fix((), "safe")
    unsafe = Fix((), "unsafe")
    assert summary_line([f("a", safe), f("a"), f("b")], 5) == "3 findings in 2 files (1 fixable with --fix); 5 files linted"
    assert summary_line([f("a")], 1, 1) == "1 finding in 1 file; 1 file linted, 1 error"
    assert summary_line([], 0) == "0 findings; 0 files linted"
    assert summary_line([f("a", unsafe)], 2, 2) == (
        "1 finding in 1 file (1 more with --fix --unsafe-fixes); 2 files linted, 2 errors"
    )


class _Stream:
    def __init__(self, tty: bool) -> None:
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize(
    "tty, env, expected",
    [
        (True, {}, True),
        (False, {}, False),
        (True, {"NO_COLOR": "1"}, False),
        (True, {"NO_COLOR": ""}, True),  # empty means unset (no-color.org)
        (False, {"FORCE_COLOR": "1"}, True),
        (False, {"FORCE_COLOR": ""}, False),
        (True, {"NO_COLOR": "1", "FORCE_COLOR": "1"}, False),
        (True, {"TERM": "dumb"}, False),
    ],
)
def test_use_color(tty, env, expected):
    assert use_color(_Stream(tty), env) is expected


def test_render_rejects_unknown_format():
    with pytest.raises(ValueError):
        render("xml", [])


# ---------------------------------------------------------------------------------------------
# the CLI, end to end


def cli(*args: str, cwd: Path, env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess:
    env = _env() if env is None else env
    return subprocess.run(
        [sys.executable, "-m", "astack_lint", *args], cwd=str(cwd), capture_output=True, text=True, env=env, timeout=600
    )


def _env(**extra: str) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env.update(extra)
    return env


@pytest.mark.slow
def test_fixtures_as_sarif_validate_and_match_expectations(sarif_validator):
    proc = cli("fixtures", "--output-format", "sarif", cwd=REPO)
    assert proc.returncode == 1, proc.stderr
    log = json.loads(proc.stdout)
    assert_valid_sarif(sarif_validator, log)
    run_ = log["runs"][0]
    root = Path(url2pathname(urlparse(run_["originalUriBaseIds"]["%SRCROOT%"]["uri"]).path))
    got = set()
    for r in run_["results"]:
        loc = r["locations"][0]["physicalLocation"]
        path = _uri_to_path(loc["artifactLocation"], root).resolve()
        got.add((path.relative_to(REPO).as_posix(), loc["region"]["startLine"], r["ruleId"]))
    assert got == expectations()
    # the summary stays on stderr
    assert re.search(r"\d+ findings in \d+ files", proc.stderr)


@pytest.fixture(scope="module")
def fixture_result():
    return lint_paths([str(FIXTURES)], Settings(base_dir=str(REPO)))


def test_fixtures_as_json_and_github(fixture_result):
    data = json.loads(render("json", fixture_result.findings))
    got = {(Path(d["filename"]).relative_to(REPO).as_posix(), d["location"]["row"], d["code"]) for d in data}
    assert got == expectations()
    names = {r.code: r.name for r in all_rules()}
    assert all(d["name"] == names[d["code"]] for d in data)
    lines = render("github", fixture_result.findings, cwd=str(REPO)).splitlines()
    assert len(lines) == len(fixture_result.findings)
    got = set()
    for line in lines:
        cmd, props, msg = parse_github(line)
        got.add((props["file"], int(props["line"]), props["title"]))
    assert got == expectations()


@pytest.mark.slow
def test_cli_output_file_quiet_and_config(project):
    root = project(
        {
            "app.py": """
                from fastapi import FastAPI
                from starlette.middleware import Middleware
                from starlette.middleware.gzip import GZipMiddleware

                app = FastAPI()
                app.add_middleware(Middleware(GZipMiddleware))
            """,
        }
    )
    out = root / "reports" / "out.json"
    proc = cli("--output-format", "json", "--output-file", str(out), "app.py", cwd=root)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == ""
    assert [d["code"] for d in json.loads(out.read_text(encoding="utf-8"))] == ["AXS105"]
    assert proc.stderr.strip().splitlines()[-1] == "1 finding in 1 file (1 fixable with --fix); 1 file linted"
    quiet = cli("-q", "--output-format", "github", "app.py", cwd=root)
    assert quiet.stderr == "" and quiet.stdout.startswith("::error file=app.py,line=6,col=1,title=AXS105::")
    # the config file can choose the format; the command line wins
    (root / "pyproject.toml").write_text('[project]\nname = "demo"\n\n[tool.astack-lint]\noutput-format = "json"\n')
    assert json.loads(cli("app.py", cwd=root).stdout)[0]["code"] == "AXS105"
    assert cli("--output-format", "text", "app.py", cwd=root).stdout.startswith("app.py:6:1: AXS105 ")
    (root / "pyproject.toml").write_text('[project]\nname = "demo"\n\n[tool.astack-lint]\noutput-format = "xml"\n')
    bad = cli("app.py", cwd=root)
    assert bad.returncode == 2 and "output-format must be one of text, json, sarif, github" in bad.stderr


@pytest.mark.slow
def test_cli_statistics_show_source_and_colour(project):
    root = project(
        {
            "app.py": """
                from fastapi import FastAPI
                from starlette.middleware import Middleware
                from starlette.middleware.gzip import GZipMiddleware

                app = FastAPI()
                app.add_middleware(Middleware(GZipMiddleware))
                app.add_middleware(Middleware(GZipMiddleware))
            """,
        }
    )
    stats = cli("--statistics", "app.py", cwd=root)
    assert stats.stdout == "2\tAXS105\t[*] middleware-instance-in-add-middleware\n"  # AXS105 has a safe fix
    source = cli("--show-source", "app.py", cwd=root, env=_env())
    assert source.stdout.splitlines()[1:3] == ["    app.add_middleware(Middleware(GZipMiddleware))", "    ^"]
    assert not ANSI.search(source.stdout)  # not a terminal
    forced = cli("app.py", cwd=root, env=_env(FORCE_COLOR="1"))
    assert ANSI.search(forced.stdout) and ANSI.sub("", forced.stdout) == source.stdout.replace(
        "    app.add_middleware(Middleware(GZipMiddleware))\n    ^\n", ""
    )
    both = cli("app.py", cwd=root, env=_env(FORCE_COLOR="1", NO_COLOR="1"))
    assert not ANSI.search(both.stdout)
    # machine formats never carry colour
    assert not ANSI.search(cli("--output-format", "json", "app.py", cwd=root, env=_env(FORCE_COLOR="1")).stdout)


@pytest.mark.slow
def test_cli_findings_outside_the_current_directory(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    other = tmp_path / "other project ü"
    other.mkdir()
    (other / "pyproject.toml").write_text('[project]\nname = "x"\n')
    (other / "main app.py").write_text(
        "from fastapi import FastAPI\nfrom starlette.middleware import Middleware\n"
        "from starlette.middleware.gzip import GZipMiddleware\n\napp = FastAPI()\n"
        "app.add_middleware(Middleware(GZipMiddleware))\n",
        encoding="utf-8",
    )
    target = str(other / "main app.py")
    text = cli(target, cwd=work)
    assert text.stdout.startswith(f"..{os.sep}other project ü{os.sep}main app.py:6:1: AXS105 "), text.stdout
    gh = cli("--output-format", "github", target, cwd=work)
    if repository_root(str(work)) == str(work):  # tmp_path is not inside a git checkout
        assert parse_github(gh.stdout.splitlines()[0])[1]["file"] == target.replace(os.sep, "/")
    sarif = json.loads(cli("--output-format", "sarif", target, cwd=work).stdout)
    loc = sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    root = Path(url2pathname(urlparse(sarif["runs"][0]["originalUriBaseIds"]["%SRCROOT%"]["uri"]).path))
    assert _uri_to_path(loc, root) == Path(target)
