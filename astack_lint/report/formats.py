"""Findings for people and for machines: text, JSON, SARIF 2.1.0, GitHub Actions annotations.

Every formatter is a pure function of the findings (and the errors, where the format has a place
for them) that returns the whole text; the CLI decides where it goes (standard output or
``--output-file``). The summary line always goes to standard error, so standard output stays
machine-readable.

Positions: ``Finding.line`` is 1-based, ``Finding.col`` / ``end_col`` 0-based (LibCST columns, in
characters). Every format shows 1-based columns; an end column is the column just past the last
character (as ruff's JSON and SARIF's ``endColumn``).
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence
from urllib.parse import quote

from .. import __version__
from ..results import Finding, Fix, LintError, escape_controls
from ..rules.api import Rule
from ..source import read_source
from . import docs

OUTPUT_FORMATS = ("text", "json", "sarif", "github")
SARIF_SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
SRCROOT = "%SRCROOT%"

# ---------------------------------------------------------------------------------------------
# colours


def use_color(stream: Any, environ: Optional[Mapping[str, str]] = None) -> bool:
    """Colour only on a terminal; ``NO_COLOR`` (non-empty) turns it off, ``FORCE_COLOR`` (non-empty)
    turns it on even when not a terminal; ``NO_COLOR`` wins when both are set (as CPython does)."""
    env = os.environ if environ is None else environ
    if env.get("NO_COLOR"):
        return False
    if env.get("FORCE_COLOR"):
        return True
    if env.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty is not None and isatty())
    except (ValueError, OSError):
        return False


class Style:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def _wrap(self, code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.enabled else text

    def bold(self, text: str) -> str:
        return self._wrap("1", text)

    def code(self, text: str) -> str:
        return self._wrap("1;31", text)

    def dim(self, text: str) -> str:
        return self._wrap("2", text)

    def caret(self, text: str) -> str:
        return self._wrap("1;31", text)


# ---------------------------------------------------------------------------------------------
# paths


def repository_root(cwd: Optional[str] = None) -> str:
    """The git work tree containing ``cwd`` (nearest directory with ``.git``), else ``cwd``."""
    start = os.path.abspath(cwd or os.getcwd())
    d = start
    while True:
        if os.path.exists(os.path.join(d, ".git")):
            return d
        parent = os.path.dirname(d)
        if parent == d:
            return start
        d = parent


def display_path(path: str, cwd: Optional[str] = None) -> str:
    """``path`` relative to ``cwd`` as the text format, the diff and standard error show it: control
    characters escaped (``escape_controls``), so a crafted file name can neither split a finding
    nor send escape sequences to the terminal."""
    try:
        shown = os.path.relpath(path, cwd or os.getcwd())
    except ValueError:  # another drive on Windows
        shown = path
    return escape_controls(shown)



def _inside(path: str, root: str) -> Optional[str]:
    """``path`` relative to ``root`` with forward slashes, or None when it lies outside."""
    try:
        rel = os.path.relpath(os.path.abspath(path), root)
    except ValueError:
        return None
    if rel == os.pardir or rel.startswith(os.pardir + os.sep) or os.path.isabs(rel):
        return None
    return rel.replace(os.sep, "/")


def root_relative(path: str, root: str) -> str:
    """``path`` relative to the repository root, or absolute (forward slashes) when outside it."""
    rel = _inside(path, root)
    return rel if rel is not None else os.path.abspath(path).replace(os.sep, "/")


def _file_uri(path: str) -> str:
    return Path(os.path.abspath(path)).as_uri()


def artifact_location(path: str, root: str) -> Dict[str, str]:
    """A SARIF artifactLocation: relative to ``%SRCROOT%`` inside the root, an absolute file URI
    outside it; percent-encoded (spaces, non-ASCII) so that it is a valid URI reference."""
    rel = _inside(path, root)
    if rel is None:
        return {"uri": _file_uri(path)}
    # the file system's bytes: a name that is not UTF-8 holds surrogate escapes that quote() cannot encode
    return {"uri": quote(os.fsencode(rel), safe="/"), "uriBaseId": SRCROOT}


# ---------------------------------------------------------------------------------------------
# helpers


def _rule_for(code: str, rules: Mapping[str, Rule]) -> Optional[Rule]:
    return rules.get(code)


def _end(f: Finding) -> tuple:
    """(end line, end col 0-based); the start when the rule gave no end."""
    if f.end_line is None or f.end_col is None:
        return f.line, f.col
    return f.end_line, f.end_col


def _fixable(f: Finding) -> bool:
    return f.fix is not None and f.fix.applicability == "safe"


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def summary_line(findings: Sequence[Finding], files: int, errors: int = 0) -> str:
    """``3 findings in 2 files (1 fixable with --fix); 5 files linted, 1 error``."""
    n = len(findings)
    text = plural(n, "finding")
    if n:
        text += f" in {plural(len({f.path for f in findings}), 'file')}"
        safe = sum(1 for f in findings if _fixable(f))
        unsafe = sum(1 for f in findings if f.fix is not None and not _fixable(f))
        notes = []
        if safe:
            notes.append(f"{safe} fixable with --fix")
        if unsafe:
            notes.append(f"{unsafe} more with --fix --unsafe-fixes")
        if notes:
            text += f" ({', '.join(notes)})"
    text += f"; {plural(files, 'file')} linted"
    if errors:
        text += f", {plural(errors, 'error')}"
    return text


# ---------------------------------------------------------------------------------------------
# text


class SourceLines:
    """Lines of the linted files, read (as Python reads them) only when --show-source needs them."""

    def __init__(self) -> None:
        self._cache: Dict[str, List[str]] = {}

    def line(self, path: str, lineno: int) -> Optional[str]:
        lines = self._cache.get(path)
        if lines is None:
            try:
                lines = read_source(path).text.splitlines()
            except Exception:  # unreadable now: show no source rather than fail
                lines = []
            self._cache[path] = lines
        if 1 <= lineno <= len(lines):
            return lines[lineno - 1]
        return None


def one_line(text: str) -> str:
    """The text format keeps one finding per line: line breaks (and every other control character)
    in a message show escaped, as ``\\n``."""
    return escape_controls(text)


def _caret_line(line: str, col: int, width: int) -> str:
    """Spaces (tabs kept, so the caret lines up) up to ``col``, then ``^`` x width."""
    pad = "".join(ch if ch == "\t" else " " for ch in line[:col])
    return pad + "^" * max(1, width)


def format_text(
    findings: Sequence[Finding],
    cwd: Optional[str] = None,
    color: bool = False,
    show_source: bool = False,
    sources: Optional[SourceLines] = None,
) -> str:
    style = Style(color)
    sources = sources or SourceLines()
    out = []
    for f in findings:
        out.append(
            f"{style.bold(display_path(f.path, cwd))}:{f.line}:{f.col + 1}: {style.code(f.code)} {one_line(f.message)}"
        )
        if show_source:
            line = sources.line(f.path, f.line)
            if line is not None:
                end_line, end_col = _end(f)
                width = end_col - f.col if end_line == f.line and end_col > f.col else 1
                width = min(width, max(1, len(line) - f.col))
                out.append(f"    {line}")
                out.append(f"    {style.caret(_caret_line(line, f.col, width))}")
    return "".join(s + "\n" for s in out)


# ---------------------------------------------------------------------------------------------
# JSON


def _point(line: int, col0: int) -> Dict[str, int]:
    return {"row": line, "column": col0 + 1}


def fix_json(fix: Fix) -> Dict[str, Any]:
    return {
        "applicability": fix.applicability,
        "message": fix.message or None,
        "edits": [
            {"content": e.text, "location": _point(*e.start), "end_location": _point(*e.end)} for e in fix.edits
        ],
    }


def finding_json(f: Finding, rules: Mapping[str, Rule]) -> Dict[str, Any]:
    rule = _rule_for(f.code, rules)
    end_line, end_col = _end(f)
    return {
        "code": f.code,
        "name": rule.name if rule is not None else None,
        "message": f.message,
        "filename": os.path.abspath(f.path),
        "location": _point(f.line, f.col),
        "end_location": _point(end_line, end_col),
        "fix": fix_json(f.fix) if f.fix is not None else None,
        "url": docs.rule_url(f.code),
    }


def format_json(findings: Sequence[Finding], rules: Optional[Mapping[str, Rule]] = None) -> str:
    rules = docs.rules_by_code() if rules is None else rules
    return json.dumps([finding_json(f, rules) for f in findings], indent=2) + "\n"


# ---------------------------------------------------------------------------------------------
# SARIF 2.1.0


def _region(line: int, col0: int, end_line: Optional[int] = None, end_col0: Optional[int] = None) -> Dict[str, int]:
    region = {"startLine": line, "startColumn": col0 + 1}
    if end_line is not None and end_col0 is not None:
        region["endLine"] = end_line
        region["endColumn"] = end_col0 + 1
    return region


def rule_descriptor(rule: Rule) -> Dict[str, Any]:
    doc = docs.full_doc(rule)
    what = docs.section(doc, "What it does")
    why = docs.section(doc, "Why is this bad?")
    full = "\n\n".join(p for p in (what, why) if p) or rule.summary
    descriptor: Dict[str, Any] = {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": full, "markdown": full},
        "help": {"text": doc, "markdown": doc},
        "defaultConfiguration": {"level": docs.rule_level(rule)},
    }
    if docs.docs_url():  # a URI only where the pages are published; the help above is the page
        descriptor["helpUri"] = docs.rule_url(rule.code)
    return descriptor


def _unknown_descriptor(code: str) -> Dict[str, Any]:
    return {"id": code, "helpUri": docs.rule_url(code)} if docs.docs_url() else {"id": code}


def _sarif_fix(f: Finding, root: str) -> Dict[str, Any]:
    assert f.fix is not None
    return {
        "description": {"text": f.fix.message or f"{f.fix.applicability} fix for {f.code}"},
        "artifactChanges": [
            {
                "artifactLocation": artifact_location(f.path, root),
                "replacements": [
                    {"deletedRegion": _region(e.start[0], e.start[1], e.end[0], e.end[1]), "insertedContent": {"text": e.text}}
                    for e in f.fix.edits
                ],
            }
        ],
        "properties": {"applicability": f.fix.applicability},
    }


def sarif_log(
    findings: Sequence[Finding],
    rules: Optional[Sequence[Rule]] = None,
    root: Optional[str] = None,
    errors: Sequence[LintError] = (),
) -> Dict[str, Any]:
    """The SARIF log as a dict. ``rules``: the rules that ran (default: all); a finding whose code
    is not among them still gets a descriptor."""
    root = os.path.abspath(root or repository_root())
    known = docs.rules_by_code()
    ran = list(known.values()) if rules is None else list(rules)
    descriptors: List[Dict[str, Any]] = []
    index: Dict[str, int] = {}
    for r in ran:
        index[r.code] = len(descriptors)
        descriptors.append(rule_descriptor(r))
    for f in findings:
        if f.code not in index:
            index[f.code] = len(descriptors)
            r = known.get(f.code)
            descriptors.append(rule_descriptor(r) if r is not None else _unknown_descriptor(f.code))
    results = []
    for f in findings:
        rule = known.get(f.code)
        result: Dict[str, Any] = {
            "ruleId": f.code,
            "ruleIndex": index[f.code],
            "level": docs.rule_level(rule),
            "message": {"text": f.message},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": artifact_location(f.path, root),
                        "region": _region(f.line, f.col, f.end_line, f.end_col),
                    }
                }
            ],
        }
        if f.fix is not None:
            result["fixes"] = [_sarif_fix(f, root)]
        results.append(result)
    notifications = []
    for e in errors:
        note: Dict[str, Any] = {"level": "error", "message": {"text": e.message}}
        physical: Dict[str, Any] = {"artifactLocation": artifact_location(e.path, root)}
        if e.line is not None:
            physical["region"] = {"startLine": max(1, e.line), "startColumn": max(1, e.col or 1)}
        note["locations"] = [{"physicalLocation": physical}]
        notifications.append(note)
    invocation: Dict[str, Any] = {"executionSuccessful": not errors}
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    driver: Dict[str, Any] = {"name": "astack-lint", "version": __version__}
    home = docs.home_url()
    if home:
        driver["informationUri"] = home
    driver["rules"] = descriptors
    run = {
        "tool": {"driver": driver},
        "originalUriBaseIds": {SRCROOT: {"uri": _file_uri(root).rstrip("/") + "/"}},
        "columnKind": "unicodeCodePoints",
        "invocations": [invocation],
        "results": results,
    }
    return {"$schema": SARIF_SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def format_sarif(
    findings: Sequence[Finding],
    rules: Optional[Sequence[Rule]] = None,
    root: Optional[str] = None,
    errors: Sequence[LintError] = (),
) -> str:
    return json.dumps(sarif_log(findings, rules, root, errors), indent=2) + "\n"


# ---------------------------------------------------------------------------------------------
# GitHub Actions workflow commands


def escape_data(text: str) -> str:
    """A workflow command's message: ``%`` -> ``%25``, CR -> ``%0D``, LF -> ``%0A``."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value: as data, plus ``:`` -> ``%3A`` and ``,`` -> ``%2C``."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def workflow_command(command: str, properties: Sequence[tuple], message: str) -> str:
    props = ",".join(f"{k}={escape_property(str(v))}" for k, v in properties if v is not None)
    return f"::{command} {props}::{escape_data(message)}" if props else f"::{command}::{escape_data(message)}"


def format_github(
    findings: Sequence[Finding],
    root: Optional[str] = None,
    errors: Sequence[LintError] = (),
    rules: Optional[Mapping[str, Rule]] = None,
) -> str:
    root = os.path.abspath(root or repository_root())
    rules = docs.rules_by_code() if rules is None else rules
    out = []
    for f in findings:
        props: List[tuple] = [("file", root_relative(f.path, root)), ("line", f.line), ("col", f.col + 1)]
        if f.end_line is not None and f.end_col is not None:
            props += [("endLine", f.end_line), ("endColumn", f.end_col + 1)]
        props.append(("title", f.code))
        level = docs.rule_level(_rule_for(f.code, rules))
        command = {"error": "error", "warning": "warning"}.get(level, "notice")
        out.append(workflow_command(command, props, f.message))
    for e in errors:
        props = [("file", root_relative(e.path, root)), ("line", e.line), ("col", e.col if e.line is not None else None)]
        props.append(("title", "astack-lint"))
        out.append(workflow_command("error", props, e.message))
    return "".join(s + "\n" for s in out)


# ---------------------------------------------------------------------------------------------
# --statistics


def statistics(findings: Iterable[Finding], rules: Optional[Mapping[str, Rule]] = None) -> List[Dict[str, Any]]:
    """[{code, name, count, fixable}], most frequent first (ties by code)."""
    rules = docs.rules_by_code() if rules is None else rules
    findings = list(findings)
    counts = Counter(f.code for f in findings)
    fixable = {f.code for f in findings if _fixable(f)}
    rows = []
    for code, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        rule = rules.get(code)
        rows.append({"code": code, "name": rule.name if rule is not None else None, "count": count, "fixable": code in fixable})
    return rows


def format_statistics(findings: Sequence[Finding], fmt: str = "text", rules: Optional[Mapping[str, Rule]] = None) -> str:
    rows = statistics(findings, rules)
    if fmt == "json":
        return json.dumps(rows, indent=2) + "\n"
    if not rows:
        return ""
    width = max(len(str(r["count"])) for r in rows)
    any_fix = any(r["fixable"] for r in rows)
    out = []
    for r in rows:
        mark = ("[*] " if r["fixable"] else "[ ] ") if any_fix else ""
        out.append(f"{r['count']:>{width}}\t{r['code']}\t{mark}{r['name'] or ''}".rstrip())
    return "".join(s + "\n" for s in out)


# ---------------------------------------------------------------------------------------------
# the CLI's entry


def render(
    fmt: str,
    findings: Sequence[Finding],
    errors: Sequence[LintError] = (),
    rules: Optional[Sequence[Rule]] = None,
    cwd: Optional[str] = None,
    color: bool = False,
    show_source: bool = False,
    show_statistics: bool = False,
) -> str:
    """The report in one of OUTPUT_FORMATS (``--statistics`` replaces the findings, as in ruff)."""
    if fmt not in OUTPUT_FORMATS:
        raise ValueError(f"unknown output format {fmt!r}")
    if show_statistics:
        return format_statistics(findings, "json" if fmt == "json" else "text")
    if fmt == "json":
        return format_json(findings)
    if fmt == "sarif":
        return format_sarif(findings, rules, repository_root(cwd), errors)
    if fmt == "github":
        return format_github(findings, repository_root(cwd), errors)
    return format_text(findings, cwd=cwd, color=color, show_source=show_source)


def write_file(path: str, text: str) -> None:
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)


__all__ = [
    "OUTPUT_FORMATS",
    "escape_data",
    "escape_property",
    "format_github",
    "format_json",
    "format_sarif",
    "format_statistics",
    "format_text",
    "render",
    "repository_root",
    "sarif_log",
    "summary_line",
    "use_color",
]
