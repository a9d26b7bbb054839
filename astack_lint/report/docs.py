"""Rule documentation, from one source: each rule module's docstring.

``astack-lint rule AXS101`` prints it, ``astack-lint rule --all`` lists the rules, the SARIF and JSON
outputs link to it, and ``python -m astack_lint.docgen`` writes it to ``docs/rules/AXSnnn.md`` and
the README's rule table (``generate`` / ``problems`` below). A rule that declares ``affected`` rows
(FastAPI specifier, Starlette specifier, symptom) gets a "Releases affected" section built from them,
and one that declares ``proven_on`` a "Releases proven" section naming the releases its proofs ran on.
"""

from __future__ import annotations

import functools
import os
import re
from importlib import metadata as importlib_metadata
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..releases.affected import spec_text
from ..rules.api import Rule
from ..rules.registry import all_rules

DISTRIBUTION = "astack-lint"

SECTION_ORDER = (
    "What it does",
    "Why is this bad?",
    "Example",
    "Use instead",
    "Fix safety",
    "Releases affected",
    "Releases proven",
    "References",
)
RELEASES_HEADING = "Releases affected"
PROVEN_HEADING = "Releases proven"
_HEADING = re.compile(r"^## +(.+?)\s*$", re.M)
# GitHub's level names for a rule's ``severity`` (default "error").
LEVELS = {"error": "error", "warning": "warning", "warn": "warning", "note": "note", "info": "note"}


@functools.lru_cache(maxsize=None)
def project_urls() -> Dict[str, str]:
    """The installed package's ``[project.urls]`` (its ``Project-URL`` metadata), by label
    lowercased without punctuation (``Documentation`` -> ``documentation``); empty when the package
    is not installed or names no address."""
    try:
        entries = importlib_metadata.metadata(DISTRIBUTION).get_all("Project-URL") or []
    except importlib_metadata.PackageNotFoundError:
        return {}
    out = {}
    for entry in entries:
        label, _, url = str(entry).partition(",")
        if url.strip():
            out[re.sub(r"[^a-z0-9]", "", label.lower())] = url.strip()
    return out


def home_url() -> Optional[str]:
    """The project's home page (SARIF ``tool.driver.informationUri``), if it has one."""
    urls = project_urls()
    return urls.get("homepage") or urls.get("source") or urls.get("repository")


def docs_url() -> Optional[str]:
    """Where the docs/rules/AXSnnn.md pages are published: ``<Documentation>/rules/``, if anywhere."""
    base = project_urls().get("documentation")
    return f"{base.rstrip('/')}/rules/" if base else None


def rule_url(code: str) -> str:
    """A rule's docs link in JSON and SARIF output: its published page, else the command that
    prints the page shipped in the package (``astack-lint rule AXS101``)."""
    base = docs_url()
    return f"{base}{code}.md" if base else f"astack-lint rule {code}"


def rule_level(rule: Optional[Rule]) -> str:
    """SARIF/GitHub level of a rule: its ``severity`` attribute if it declares one, else "error"."""
    severity = str(getattr(rule, "severity", "error") or "error").lower()
    return LEVELS.get(severity, "error")


def rules_by_code() -> Dict[str, Rule]:
    return {r.code: r for r in all_rules()}


def rule_source_file(rule: Rule) -> str:
    """``astack_lint/rules/axs101.py``: where the rule (and its docs) live, relative to the checkout."""
    return f"astack_lint/rules/{rule.code.lower()}.py"


# ---------------------------------------------------------------------------------------------
# sections


def sections(doc: str) -> List[Tuple[str, str]]:
    """The ``## Heading`` sections of a docstring, in order, as (heading, body) pairs."""
    matches = list(_HEADING.finditer(doc))
    out = []
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(doc)
        out.append((m.group(1), doc[m.end() : end].strip("\n").rstrip()))
    return out


def section(doc: str, heading: str) -> str:
    for h, body in sections(doc):
        if h.lower() == heading.lower():
            return body
    return ""


def affected_rows(rule: Rule) -> List[Tuple[str, str, str]]:
    """The rule's declared affected releases: [(fastapi specifier, starlette specifier, symptom)]."""
    rows = getattr(rule, "affected", None) or ()
    out = []
    try:
        for row in rows:
            fields = [str(x) if x is not None else "" for x in tuple(row)[:3]]
            fields += [""] * (3 - len(fields))
            out.append((fields[0], fields[1], fields[2]))
    except TypeError:
        return []
    return out


def _spec_text(spec: str) -> str:
    return spec_text(spec) if spec else "any release"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def releases_markdown(rule: Rule) -> str:
    """A table of the affected releases the rule declares, or "" if it declares none."""
    rows = affected_rows(rule)
    if not rows:
        return ""
    lines = [
        "| FastAPI | Starlette | What happens |",
        "|---|---|---|",
    ]
    for fastapi, starlette, symptom in rows:
        lines.append(
            f"| {_cell(_spec_text(fastapi)) if fastapi else 'any'} | {_cell(_spec_text(starlette)) if starlette else 'any'} "
            f"| {_cell(symptom)} |"
        )
    return "\n".join(lines)


def proven_markdown(rule: Rule) -> str:
    """Which releases the rule's proof tests ran its pattern on, or "" if it declares none."""
    proven = tuple(getattr(rule, "proven_on", None) or ())
    if not proven:
        return ""
    names = []
    for entry in proven:
        fastapi, _, starlette = str(entry).partition("/")
        names.append(f"FastAPI {fastapi}" + (f" with Starlette {starlette}" if starlette else ""))
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"The pattern was run against the real framework, and the rule checked on the same code, on {listed} (the proof tests in `tests/proofs/`)."


def full_doc(rule: Rule) -> str:
    """The rule's docstring, with "Releases affected" (when the rule declares affected releases)
    and "Releases proven" sections before References, unless its docstring has its own."""
    doc = rule.doc().strip()
    have = {h.lower() for h, _ in sections(doc)}
    blocks = ""
    for heading, body in ((RELEASES_HEADING, releases_markdown(rule)), (PROVEN_HEADING, proven_markdown(rule))):
        if body and heading.lower() not in have:
            blocks += f"## {heading}\n{body}\n\n"
    if not blocks:
        return doc
    m = re.search(r"^## +References\s*$", doc, re.M)
    if m:
        return doc[: m.start()] + blocks + doc[m.start() :]
    return f"{doc}\n\n{blocks.rstrip()}"


def rule_markdown(rule: Rule, generated_note: bool = True) -> str:
    """The page ``docs/rules/AXSnnn.md``."""
    parts = [f"# {rule.code}: {rule.name}", "", rule.summary, ""]
    if generated_note:
        parts += [
            f"<!-- Generated from {rule_source_file(rule)} by `python -m astack_lint.docgen`; "
            "edit the rule's docstring, not this file. -->",
            "",
        ]
    parts += [full_doc(rule), ""]
    return "\n".join(parts)


def rule_json(rule: Rule, full: bool = True) -> Dict[str, Any]:
    data: Dict[str, Any] = {
        "code": rule.code,
        "name": rule.name,
        "summary": rule.summary,
        "level": rule_level(rule),
        "url": rule_url(rule.code),
    }
    rows = affected_rows(rule)
    if rows:
        data["affected"] = [{"fastapi": f, "starlette": s, "symptom": sym} for f, s, sym in rows]
    if full:
        data["explanation"] = full_doc(rule)
    return data


def readme_table(rules: Sequence[Rule]) -> str:
    """The README's rule table. No links: the README is also the page of the package on an index,
    where a relative link breaks, and the rule pages have no public address yet."""
    lines = ["| Code | Name | What it finds |", "|---|---|---|"]
    for r in rules:
        lines.append(f"| {r.code} | `{r.name}` | {_cell(r.summary)} |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# docs/rules/AXSnnn.md and the README's rule table

TABLE_START = "<!-- rules-table:start (generated by `python -m astack_lint.docgen`; do not edit) -->"
TABLE_END = "<!-- rules-table:end -->"
_PAGE = re.compile(r"^AXS\d{3}\.md$")


def rule_pages(rules: Sequence[Rule]) -> Dict[str, str]:
    return {f"{r.code}.md": rule_markdown(r) for r in rules}


def readme_with_table(readme: str, rules: Sequence[Rule]) -> Optional[str]:
    """README text with the generated table between the markers; None if the markers are missing."""
    start = readme.find(TABLE_START)
    end = readme.find(TABLE_END)
    if start < 0 or end < start:
        return None
    head = readme[: start + len(TABLE_START)]
    return f"{head}\n{readme_table(rules)}\n{readme[end:]}"


def _read(path: str) -> Optional[str]:
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            return fh.read()
    except OSError:
        return None


def _write(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)


def write_rule_pages(directory: str, rules: Optional[Sequence[Rule]] = None, remove_stale: bool = True) -> List[str]:
    """Write the pages that changed; remove AXSnnn.md pages of codes that no longer exist."""
    rules = all_rules() if rules is None else rules
    changed = []
    pages = rule_pages(rules)
    for name, text in pages.items():
        path = os.path.join(directory, name)
        if _read(path) != text:
            _write(path, text)
            changed.append(path)
    if remove_stale and os.path.isdir(directory):
        for name in sorted(os.listdir(directory)):
            if _PAGE.match(name) and name not in pages:
                os.remove(os.path.join(directory, name))
                changed.append(os.path.join(directory, name))
    return changed


def problems(root: str, rules: Optional[Sequence[Rule]] = None) -> List[str]:
    """What is out of date under ``root`` (docs/rules and README.md); empty when all is current."""
    rules = all_rules() if rules is None else rules
    out = []
    directory = os.path.join(root, "docs", "rules")
    pages = rule_pages(rules)
    for name, text in pages.items():
        current = _read(os.path.join(directory, name))
        if current is None:
            out.append(f"docs/rules/{name} is missing")
        elif current != text:
            out.append(f"docs/rules/{name} differs from the rule's docstring")
    if os.path.isdir(directory):
        for name in sorted(os.listdir(directory)):
            if _PAGE.match(name) and name not in pages:
                out.append(f"docs/rules/{name} documents a rule that does not exist")
    readme = _read(os.path.join(root, "README.md"))
    if readme is None:
        out.append("README.md is missing")
    else:
        new = readme_with_table(readme, rules)
        if new is None:
            out.append(f"README.md lacks the rule-table markers {TABLE_START!r} ... {TABLE_END!r}")
        elif new != readme:
            out.append("README.md's rule table is out of date")
    return out


def generate(root: str, rules: Optional[Sequence[Rule]] = None) -> List[str]:
    """Bring docs/rules and the README table under ``root`` up to date; returns the changed paths."""
    rules = all_rules() if rules is None else rules
    changed = write_rule_pages(os.path.join(root, "docs", "rules"), rules)
    readme_path = os.path.join(root, "README.md")
    readme = _read(readme_path)
    if readme is not None:
        new = readme_with_table(readme, rules)
        if new is None:
            raise SystemExit(f"astack-lint docgen: {readme_path} lacks the markers {TABLE_START} ... {TABLE_END}")
        if new != readme:
            _write(readme_path, new)
            changed.append(readme_path)
    return changed
