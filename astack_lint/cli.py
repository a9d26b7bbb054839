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
  astack-lint --fix .                  apply the safe fixes, report what remains
  astack-lint --diff --unsafe-fixes .  show every fix as a diff, change nothing

exit codes:
  0  no findings
  1  findings were reported (--diff: there is a diff)
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
    if settings.fix or settings.diff:
        return _fix(args, settings)
    if settings.unsafe_fixes:
        print("astack-lint: error: --unsafe-fixes only applies with --fix or --diff", file=sys.stderr)
        return EXIT_ERROR
    status = _report_and_exit(lint_paths(args.paths or ["."], settings), settings, args)
    if not settings.no_cache and not args.output_file:  # the next run of this command may replay it
        from .snapshot import default_cache_dir, recordable

        recordable(settings.cache_dir or default_cache_dir(), args.paths or ["."])
    return status


def _report_and_exit(result: Any, settings: Any, args: argparse.Namespace) -> int:
    if not _report(result, settings, args):
        return EXIT_ERROR
    if result.errors:
        return EXIT_ERROR
    if result.findings and not settings.exit_zero:
        return EXIT_FINDINGS
    return EXIT_CLEAN


def _fix(args: argparse.Namespace, settings: Any) -> int:
    """--fix (write the fixes, report what remains) or --diff (print them, write nothing)."""
    from . import output
    from .fixes import counts_text, fix_paths

    report = fix_paths(args.paths or ["."], settings, unsafe=bool(settings.unsafe_fixes), write=not settings.diff)
    counts = report.counts
    n, files = sum(counts.values()), len(report.fixed)
    what = f"{output.plural(n, 'finding')} in {output.plural(files, 'file')}" + (f" ({counts_text(counts)})" if n else "")
    if settings.diff:
        text = report.diff(output.display_path)
        if not _write_report(text, args):
            return EXIT_ERROR
        for e in report.result.errors:
            print(e.format(output.display_path(e.path)), file=sys.stderr)
        if not args.quiet:
            print(f"astack-lint: would fix {what}", file=sys.stderr)
        if report.result.errors:
            return EXIT_ERROR
        return EXIT_FINDINGS if text and not settings.exit_zero else EXIT_CLEAN
    if not args.quiet and n:
        print(f"astack-lint: fixed {what}", file=sys.stderr)
    if not report.converged and not args.quiet:
        print("astack-lint: warning: fixable findings remain after the last fix pass", file=sys.stderr)
    return _report_and_exit(report.result, settings, args)


def _write_report(text: str, args: argparse.Namespace) -> bool:
    """To --output-file or standard output; False if the file could not be written."""
    from . import output

    if not args.output_file:
        output.write_text(sys.stdout, text)
        return True
    try:
        output.write_file(args.output_file, text)
    except OSError as exc:
        print(f"astack-lint: error: {args.output_file}: cannot write: {exc.strerror or exc}", file=sys.stderr)
        return False
    return True


def _report(result: Any, settings: Any, args: argparse.Namespace) -> bool:
    """Print the findings in the chosen format (standard output or --output-file), the errors and
    the summary on standard error. False if the report could not be written."""
    from . import output

    fmt = getattr(settings, "output_format", None) or "text"
    to_file = bool(args.output_file)
    rules = None
    if fmt == "sarif":  # the rules that ran, described in the log (importing them imports LibCST)
        from .rules import all_rules

        rules = [r for r in all_rules() if settings.is_selected(r.code)]
    text = output.render(
        fmt,
        result.findings,
        result.errors,
        rules=rules,
        color=not to_file and fmt == "text" and output.use_color(sys.stdout),
        show_source=bool(getattr(settings, "show_source", False)),
        show_statistics=bool(getattr(settings, "statistics", False)),
    )
    ok = _write_report(text, args)
    for e in result.errors:
        print(e.format(output.display_path(e.path)), file=sys.stderr)
    if not args.quiet:
        for w in getattr(result, "warnings", ()):
            print(w.format(output.display_path(w.path), "warning"), file=sys.stderr)
        print(output.summary_line(result.findings, result.files, len(result.errors)), file=sys.stderr)
    return ok
