"""Regenerate the rule docs from the rules' docstrings: ``python -m astack_lint.docgen``.

Writes ``docs/rules/AXSnnn.md`` for every rule (removing pages of codes that no longer exist) and
the rule table between the markers in README.md. ``--check`` writes nothing and exits 1 when a file
is out of date (tests/test_docs.py runs the same check).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Optional, Sequence

from .report.docs import generate, problems


def checkout_root() -> str:
    """The source checkout this package runs from (its parent directory)."""
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m astack_lint.docgen", description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default=None, help="the source checkout (default: the one this package runs from)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if anything is out of date")
    args = parser.parse_args(argv)
    root = os.path.abspath(args.root or checkout_root())
    if not os.path.isfile(os.path.join(root, "pyproject.toml")):
        print(f"astack-lint docgen: {root} is not a source checkout; pass --root", file=sys.stderr)
        return 2
    if args.check:
        found = problems(root)
        for p in found:
            print(p, file=sys.stderr)
        if found:
            print("run: python -m astack_lint.docgen", file=sys.stderr)
        return 1 if found else 0
    for path in generate(root):
        print(f"wrote {os.path.relpath(path, root)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
