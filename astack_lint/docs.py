"""Rule documentation, from one source: each rule module's docstring.

``astack-lint rule AXS101`` prints it, ``astack-lint rule --all`` lists the rules, the SARIF and JSON
outputs link to it, and ``python -m astack_lint.docgen`` writes it to ``docs/rules/AXSnnn.md`` and
the README's rule table. A rule that declares ``affected`` rows (FastAPI specifier, Starlette
specifier, symptom) gets a "Releases affected" section built from them.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .rule import Rule
from .rules import all_rules

# Where the generated docs/rules/AXSnnn.md pages are published: the links in JSON and SARIF output.
DOCS_BASE_URL = "https://github.com/astack-lint/astack-lint/blob/main/docs/rules/"
# The project's home page (SARIF ``tool.driver.informationUri``).
HOME_URL = "https://github.com/astack-lint/astack-lint"

SECTION_ORDER = (
    "What it does",
    "Why is this bad?",
    "Example",
    "Use instead",
    "Fix safety",
    "Releases affected",
    "References",
)
RELEASES_HEADING = "Releases affected"
_HEADING = re.compile(r"^## +(.+?)\s*$", re.M)
# GitHub's level names for a rule's ``severity`` (default "error").
LEVELS = {"error": "error", "warning": "warning", "warn": "warning", "note": "note", "info": "note"}


def rule_url(code: str) -> str:
    return f"{DOCS_BASE_URL}{code}.md"


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
    try:
        from .affected import spec_text
    except ImportError:  # pragma: no cover - release data not present
        return spec or "any release"
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


def full_doc(rule: Rule) -> str:
    """The rule's docstring, with a "Releases affected" section (before References) when the rule
    declares affected releases and its docstring has no such section of its own."""
    doc = rule.doc().strip()
    releases = releases_markdown(rule)
    if not releases or any(h.lower() == RELEASES_HEADING.lower() for h, _ in sections(doc)):
        return doc
    block = f"## {RELEASES_HEADING}\n{releases}\n\n"
    m = re.search(r"^## +References\s*$", doc, re.M)
    if m:
        return doc[: m.start()] + block + doc[m.start() :]
    return f"{doc}\n\n{block.rstrip()}"


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


def readme_table(rules: Sequence[Rule], docs_prefix: str = "docs/rules/") -> str:
    lines = ["| Code | Name | What it finds |", "|---|---|---|"]
    for r in rules:
        lines.append(f"| [{r.code}]({docs_prefix}{r.code}.md) | `{r.name}` | {_cell(r.summary)} |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# astack-lint rule ...


def _bold_headings(text: str) -> str:
    return re.sub(r"^(#{1,3} .*)$", lambda m: f"\x1b[1m{m.group(1)}\x1b[0m", text, flags=re.M)


def rule_command(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="astack-lint rule",
        description="Explain a rule, list them all, or write their docs.",
        epilog="examples:\n  astack-lint rule AXS101\n  astack-lint rule --all\n"
        "  astack-lint rule --all --output-format json\n  astack-lint rule --write-docs docs/rules",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("code", nargs="?", help="a rule code, e.g. AXS101")
    parser.add_argument("--all", action="store_true", help="list every rule")
    parser.add_argument("--output-format", choices=("text", "json"), default="text")
    parser.add_argument("--write-docs", metavar="DIR", help="write every rule's page (AXSnnn.md) into DIR")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return 0 if exc.code == 0 else 2
    rules = all_rules()
    if args.write_docs:
        from .docgen import write_rule_pages

        written = write_rule_pages(args.write_docs, rules)
        print(f"astack-lint: {len(written)} rule page(s) changed in {args.write_docs}", file=sys.stderr)
        return 0
    out = sys.stdout
    if args.all or not args.code:
        if args.output_format == "json":
            out.write(json.dumps([rule_json(r) for r in rules], indent=2, ensure_ascii=False) + "\n")
        else:
            width = max((len(r.name) for r in rules), default=0)
            for r in rules:
                out.write(f"{r.code}  {r.name:<{width}}  {r.summary}\n")
        return 0
    wanted = args.code.strip().upper()
    found = rules_by_code().get(wanted)
    if found is None:
        print(f"astack-lint: error: no rule {args.code!r}; see 'astack-lint rule --all'", file=sys.stderr)
        return 2
    if args.output_format == "json":
        out.write(json.dumps(rule_json(found), indent=2, ensure_ascii=False) + "\n")
        return 0
    text = rule_markdown(found, generated_note=False)
    from .output import use_color

    if use_color(out):
        text = _bold_headings(text)
    out.write(text)
    return 0
