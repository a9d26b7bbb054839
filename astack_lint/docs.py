"""Rule documentation on the command line: ``astack-lint rule AXS101`` / ``rule --all``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import List

from .rules import all_rules


def rule_command(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(prog="astack-lint rule", description="Explain a rule, or list them all.")
    parser.add_argument("code", nargs="?", help="a rule code, e.g. AXS101")
    parser.add_argument("--all", action="store_true", help="list every rule")
    parser.add_argument("--output-format", choices=("text", "json"), default="text")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return 0 if exc.code == 0 else 2
    rules = all_rules()
    if args.all or not args.code:
        if args.output_format == "json":
            print(json.dumps([{"code": r.code, "name": r.name, "summary": r.summary} for r in rules], indent=2))
        else:
            for r in rules:
                print(f"{r.code}  {r.name:<40} {r.summary}")
        return 0
    wanted = args.code.upper()
    for r in rules:
        if r.code == wanted:
            if args.output_format == "json":
                print(json.dumps({"code": r.code, "name": r.name, "summary": r.summary, "doc": r.doc()}, indent=2))
            else:
                print(f"# {r.code} ({r.name})\n\n{r.doc()}")
            return 0
    print(f"astack-lint: error: no rule {args.code!r}; see 'astack-lint rule --all'", file=sys.stderr)
    return 2
