"""The standalone command line below the replay: ``astack-lint [PATHS...]`` lints, ``--fix`` /
``--diff`` fix, ``--show-settings`` shows what was resolved, ``astack-lint rule CODE`` explains a
rule. It composes the engine with the caches (``cache/``) and prints through ``report/``."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import Any, Dict, List, NamedTuple, Optional, Sequence

from .. import __version__
from ..cache import files as cache_files
from ..cache.facts import DiskCache
from ..cache.keys import default_cache_dir
from ..cache.replay import Watch
from ..cache.runs import RunCache
from ..config.files import load_settings
from ..config.options import OPTIONS, ConfigError, Settings
from ..config.values import coerce
from ..engine.fix import OverlayStore, counts_text, fix_paths
from ..engine.run import Session
from ..engine.store import Store
from ..report import formats as output
from ..results import LintResult, ReadLog
from ..rules.registry import all_rules
from ..source import write_text
from . import rule as rule_command
from .show_settings import show_settings

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
  astack-lint clean                    remove the cache

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


class Outcome(NamedTuple):
    """What a command line run did: its exit status, and, for a plain lint run that the same command
    may replay, what it read and where its cache was (``cache/replay.py`` records it)."""

    status: int
    reads: Optional[ReadLog] = None
    cache_dir: Optional[str] = None
    paths: Sequence[str] = ()


def main(argv: Optional[Sequence[str]] = None) -> int:
    """The command line without the replay in front of it (``cli/main.py`` adds that)."""
    return run(list(sys.argv[1:] if argv is None else argv)).status


def run(argv: List[str]) -> Outcome:
    try:
        if argv and argv[0] == "rule":
            return Outcome(rule_command.main(argv[1:]))
        if argv and argv[0] == "clean":
            return Outcome(_clean(argv[1:]))
        return _lint(argv)
    except KeyboardInterrupt:
        print("astack-lint: interrupted", file=sys.stderr)
        return Outcome(130)
    except BrokenPipeError:
        return Outcome(EXIT_CLEAN)


def session(settings: Settings, reads: Optional[ReadLog] = None) -> Session:
    """The engine with the caches the settings ask for: per-file facts and per-root results."""
    disk = DiskCache.for_settings(settings)
    runs = RunCache(disk.directory) if disk is not None else None
    return Session(settings, Store(settings, disk), runs, reads)


def _lint(argv: List[str]) -> Outcome:
    with Watch.unwatched():
        args = build_parser().parse_args(argv)
    reads = ReadLog()
    cli_values: Dict[str, Any] = {}
    try:
        for spec in OPTIONS:
            value = getattr(args, spec.dest)
            if value is not None:
                cli_values[spec.dest] = coerce(spec, value, f"--{spec.name}")
        if args.config and not os.path.lexists(args.config):
            raise ConfigError(f"{args.config}: no such config file")
        settings = load_settings(cli_values, args.config, reads=reads)
    except ConfigError as exc:
        print(f"astack-lint: error: {exc}", file=sys.stderr)
        return Outcome(EXIT_ERROR)
    if args.show_settings:
        print(show_settings(args.paths or ["."], settings))
        return Outcome(EXIT_CLEAN)
    if settings.fix or settings.diff:
        return Outcome(_fix(args, settings))
    if settings.unsafe_fixes:
        print("astack-lint: error: --unsafe-fixes only applies with --fix or --diff", file=sys.stderr)
        return Outcome(EXIT_ERROR)
    paths = args.paths or ["."]
    status = _report_and_exit(session(settings, reads).lint(paths), settings, args)
    if not settings.no_cache and not args.output_file:  # the next run of this command may replay it
        return Outcome(status, reads, settings.cache_dir or default_cache_dir(), paths)
    return Outcome(status)


def _clean(argv: List[str]) -> int:
    """``astack-lint clean``: remove the cache (the one the options and the environment name)."""
    parser = _Parser(prog="astack-lint clean", description="Remove what astack-lint keeps in its cache directory "
                     "(the one --cache-dir, ASTACK_LINT_CACHE_DIR or the config names; else the user cache directory).")
    parser.add_argument("--cache-dir", metavar="DIR", help="the cache directory to clean")
    parser.add_argument("--config", metavar="PATH", help="read cache-dir from this TOML file")
    args = parser.parse_args(argv)
    directory = args.cache_dir
    if directory is None:
        try:
            directory = load_settings({}, args.config).cache_dir
        except ConfigError as exc:
            print(f"astack-lint: error: {exc}", file=sys.stderr)
            return EXIT_ERROR
    directory = directory or default_cache_dir()
    removed = cache_files.clean(directory)
    print(f"astack-lint: removed {output.plural(removed, 'cache file')} from {directory}", file=sys.stderr)
    return EXIT_CLEAN


def _report_and_exit(result: LintResult, settings: Settings, args: argparse.Namespace) -> int:
    if not _report(result, settings, args):
        return EXIT_ERROR
    if result.errors:
        return EXIT_ERROR
    if result.findings and not settings.exit_zero:
        return EXIT_FINDINGS
    return EXIT_CLEAN


def _terminated(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds: a temporary file being written is removed


def _fix(args: argparse.Namespace, settings: Settings) -> int:
    """--fix (write the fixes, report what remains) or --diff (print them, write nothing)."""
    store = OverlayStore(settings, DiskCache.for_settings(settings))
    previous = None
    if not settings.diff and hasattr(signal, "SIGTERM"):
        try:
            previous = signal.signal(signal.SIGTERM, _terminated)
        except ValueError:  # not the main thread
            previous = None
    try:
        report = fix_paths(args.paths or ["."], settings, store, unsafe=settings.unsafe_fixes, write=not settings.diff)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
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
    if not args.output_file:
        write_text(sys.stdout, text)
        return True
    try:
        output.write_file(args.output_file, text)
    except OSError as exc:
        print(f"astack-lint: error: {args.output_file}: cannot write: {exc.strerror or exc}", file=sys.stderr)
        return False
    return True


def _report(result: LintResult, settings: Settings, args: argparse.Namespace) -> bool:
    """Print the findings in the chosen format (standard output or --output-file), the errors and
    the summary on standard error. False if the report could not be written."""
    fmt = settings.output_format or "text"
    to_file = bool(args.output_file)
    rules = None
    if fmt == "sarif":  # the rules that ran, described in the log (loading them loads LibCST)
        rules = [r for r in all_rules() if settings.is_selected(r.code)]
    text = output.render(
        fmt,
        result.findings,
        result.errors,
        rules=rules,
        color=not to_file and fmt == "text" and output.use_color(sys.stdout),
        show_source=settings.show_source,
        show_statistics=settings.statistics,
    )
    ok = _write_report(text, args)
    for e in result.errors:
        print(e.format(output.display_path(e.path)), file=sys.stderr)
    if not args.quiet:
        for w in result.warnings:
            print(w.format(output.display_path(w.path), "warning"), file=sys.stderr)
        print(output.summary_line(result.findings, result.files, len(result.errors)), file=sys.stderr)
    return ok
