"""``astack-lint rule CODE``: what a rule finds, why it hurts, how to fix it (``--all``: every rule)."""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import List

from ..report.docs import rule_json, rule_markdown, rules_by_code, write_rule_pages
from ..report.formats import use_color
from ..rules.registry import all_rules


def _bold_headings(text: str) -> str:
    return re.sub(r"^(#{1,3} .*)$", lambda m: f"\x1b[1m{m.group(1)}\x1b[0m", text, flags=re.M)


def main(argv: List[str]) -> int:
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
    if use_color(out):
        text = _bold_headings(text)
    out.write(text)
    return 0
