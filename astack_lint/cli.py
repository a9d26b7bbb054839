"""The standalone command line: ``astack-lint [PATHS...]`` and ``astack-lint rule CODE``."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Dict, List, Optional, Sequence

from . import __version__
from .engine import lint_paths
from .options import OPTIONS, ConfigError, coerce, load_settings

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2

EPILOG = """\
examples:
  astack-lint                          lint the current directory
  astack-lint src/ app/main.py         lint some directories and files
  astack-lint --select AXS1 src/       only the exit-stack and middleware rules
  astack-lint --ignore AXS104 .        everything but AXS104
  astack-lint --per-file-ignores 'tests/*:AXS1' .
  astack-lint rule AXS101              explain a rule
  astack-lint rule --all               list every rule
  astack-lint --output-format sarif -o astack.sarif .   for GitHub code scanning
  astack-lint --output-format github .                  annotations in GitHub Actions
  astack-lint --statistics .           a count per code

exit codes:
  0  no findings
  1  findings were reported
  2  usage or configuration error, or a file that could not be read or parsed
     (each reported on its own line; the other files are still linted)
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_ERROR)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="astack-lint",
        description="Find request-lifecycle bugs in FastAPI and Starlette apps: exit stacks, middleware, "
        "dependencies with yield, background tasks, lifespan.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="*", metavar="PATH", help="files or directories to lint (default: .)")
    for spec in OPTIONS:
        flag = f"--{spec.name}"
        if spec.kind == "bool":
            parser.add_argument(flag, dest=spec.dest, action="store_true", default=None, help=spec.help)
        else:
            parser.add_argument(flag, dest=spec.dest, metavar=spec.metavar or "VALUE", default=None, help=spec.help)
    parser.add_argument("--config", metavar="PATH", help="read options from this TOML file "
                        "(default: the nearest pyproject.toml with [tool.astack-lint])")
    parser.add_argument("--output-file", "-o", metavar="PATH", help="write the report to this file instead of "
                        "standard output (the summary still goes to standard error)")
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing but findings and errors")
    parser.add_argument("--show-settings", action="store_true", help="print the resolved options, the config "
                        "file, and the FastAPI/Starlette releases of the given paths and where they come from; "
                        "lint nothing")
    parser.add_argument("--version", action="version", version=f"astack-lint {__version__}")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] == "rule":
            from .docs import rule_command

            return rule_command(argv[1:])
        return _lint(argv)
    except KeyboardInterrupt:
        print("astack-lint: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_CLEAN


def _lint(argv: List[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    cli_values: Dict[str, Any] = {}
    try:
        for spec in OPTIONS:
            value = getattr(args, spec.dest)
            if value is not None:
                cli_values[spec.dest] = coerce(spec, value, f"--{spec.name}")
        settings = load_settings(cli_values, args.config)
    except ConfigError as exc:
        print(f"astack-lint: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if args.config and not os.path.isfile(args.config):
        print(f"astack-lint: error: {args.config}: no such config file", file=sys.stderr)
        return EXIT_ERROR
    if args.show_settings:
        from .releases import show_settings

        print(show_settings(args.paths or ["."], settings))
        return EXIT_CLEAN
    result = lint_paths(args.paths or ["."], settings)
    if not _report(result, settings, args):
        return EXIT_ERROR
    if result.errors:
        return EXIT_ERROR
    if result.findings and not settings.exit_zero:
        return EXIT_FINDINGS
    return EXIT_CLEAN


def _report(result: Any, settings: Any, args: argparse.Namespace) -> bool:
    """Print the findings in the chosen format (standard output or --output-file), the errors and
    the summary on standard error. False if the report could not be written."""
    from . import output
    from .rules import all_rules

    fmt = getattr(settings, "output_format", None) or "text"
    to_file = bool(args.output_file)
    text = output.render(
        fmt,
        result.findings,
        result.errors,
        rules=[r for r in all_rules() if settings.is_selected(r.code)],
        color=not to_file and fmt == "text" and output.use_color(sys.stdout),
        show_source=bool(getattr(settings, "show_source", False)),
        show_statistics=bool(getattr(settings, "statistics", False)),
    )
    ok = True
    if to_file:
        try:
            output.write_file(args.output_file, text)
        except OSError as exc:
            print(f"astack-lint: error: {args.output_file}: cannot write: {exc.strerror or exc}", file=sys.stderr)
            ok = False
    else:
        output.write_text(sys.stdout, text)
    for e in result.errors:
        print(e.format(output.display_path(e.path)), file=sys.stderr)
    if not args.quiet:
        print(output.summary_line(result.findings, result.files, len(result.errors)), file=sys.stderr)
    return ok
