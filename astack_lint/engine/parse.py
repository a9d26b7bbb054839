"""Parsing one file: its core facts from CPython's ``ast`` (``model/collect.py``), and, the first
time a rule reads them, its rule data from the rules' LibCST collectors (one parse, one batched
traversal: ``cst/visitors.py``). CPython's parser gives the verdict on syntax."""

from __future__ import annotations

import sys
import threading
import warnings
from _ast import PyCF_ONLY_AST  # not ``ast``: a replayed run never needs that module
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence

from ..model.collect import collect
from ..model.facts import FileFacts
from ..results import AnalysisError, describe_exception
from ..source import Source, SourceError

RECURSION_LIMIT = 20000
# LibCST's native parser, and its Python-side traversal under RECURSION_LIMIT, recurse on the C
# stack: valid but deep code (a 10,000-term ``and``) overflowed the main thread's stack and the
# process died with SIGSEGV, taking every other file's findings (and a flake8 worker) with it.
# So each file is analysed in a thread with a large stack; too deep then ends in RecursionError.
PARSE_STACK_SIZE = 256 * 1024 * 1024


def analyse(path: str, source: Source, rules: Sequence[Any] = ()) -> FileFacts:
    """The file's core facts, from CPython's ``ast``. The rule collectors' data (a LibCST
    traversal, for ``rules``) is collected from this same source the first time a rule asks."""
    facts = _deep(_analyse, path, source)
    facts.rule_loader = _SourceRules(source, rules)
    return facts


def rule_data_for(path: str, source: Source, rules: Sequence[Any]) -> Dict[str, Any]:
    """Parse once with LibCST and run the collectors of ``rules`` in one batched traversal: what
    they recorded, by rule code. Raises AnalysisError when LibCST cannot parse or traverse the
    file. The collector classes bring LibCST with them: the engine itself never imports it."""
    collectors = {r.code: r.collector for r in rules if r.collector is not None}
    if not collectors:
        return {}
    run_all = next(iter(collectors.values())).collect_all
    return _deep(_with_recursion, run_all, path, source.text, collectors)  # type: ignore[no-any-return]


class _SourceRules:
    """A FileFacts.rule_loader over a source held in memory (flake8's text, a fixed text)."""

    def __init__(self, source: Source, rules: Sequence[Any]) -> None:
        self.source = source
        self.rules = rules

    def __call__(self, facts: FileFacts) -> Dict[str, Any]:
        return load_rule_data(facts, lambda: self.source, self.rules)


def load_rule_data(facts: FileFacts, source: Callable[[], Source], rules: Sequence[Any]) -> Dict[str, Any]:
    """Collect ``facts``' rule data from ``source()``; on failure, record why in ``facts.rule_error``
    (the file then counts as not linted) and return nothing."""
    try:
        return rule_data_for(facts.path, source(), rules)
    except SourceError as exc:
        facts.rule_error = (str(exc), None, None)
    except AnalysisError as exc:
        facts.rule_error = (exc.message, exc.line, exc.col)
    except Exception as exc:  # never let one file stop the run
        facts.rule_error = (f"internal error while analysing ({describe_exception(exc)})", None, None)
    return {}


def _deep(func: Callable[..., Any], *args: Any) -> Any:
    """Run ``func`` in a thread with a large stack (see PARSE_STACK_SIZE)."""
    box: List[Any] = []

    def target() -> None:
        try:
            box.append((True, func(*args)))
        except BaseException as exc:  # re-raised in the caller's thread
            box.append((False, exc))

    try:
        old_size = threading.stack_size(PARSE_STACK_SIZE)
    except (ValueError, RuntimeError):  # the platform cannot: run here
        target()
    else:
        try:
            worker: Optional[threading.Thread] = threading.Thread(target=target, name="astack-lint-parse", daemon=True)
            worker.start()  # type: ignore[union-attr]
        except RuntimeError:  # cannot reserve such a stack: run here
            worker = None
        finally:
            threading.stack_size(old_size)
        if worker is None:
            target()
        else:
            worker.join()
    ok, value = box[0]
    if ok:
        return value
    raise value


def _analyse(path: str, source: Source) -> FileFacts:
    # CPython's verdict at the process's own recursion limit (where Python itself would give up on
    # a deep expression); then our own walk of the tree, which may go deeper
    tree = cpython_tree(path, source.text)
    try:
        with _deep_recursion():
            return collect(path, source.text, tree)
    except RecursionError:
        raise AnalysisError("too deeply nested to analyse") from None


def _with_recursion(func: Callable[..., Any], *args: Any) -> Any:
    with _deep_recursion():
        return func(*args)


@contextmanager
def _deep_recursion() -> Iterator[None]:
    """The recursion limit at RECURSION_LIMIT for a while (in a thread with a large stack)."""
    old = sys.getrecursionlimit()
    if old < RECURSION_LIMIT:
        sys.setrecursionlimit(RECURSION_LIMIT)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def cpython_tree(path: str, text: str) -> Any:
    """CPython's AST of the text (not bytecode: cheap), or AnalysisError with CPython's verdict.
    Warnings are silenced: a SyntaxWarning (an invalid escape sequence) is printed by Python, never
    an error, except under ``-W error``, where compile() would raise it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return compile(text, path, "exec", PyCF_ONLY_AST, dont_inherit=True)
    except SyntaxError as exc:
        raise AnalysisError(f"syntax error: {exc.msg or 'invalid syntax'}", exc.lineno or 1, exc.offset or 1) from None
    except (ValueError, RecursionError, MemoryError) as exc:  # NUL bytes, too deep
        raise AnalysisError(f"syntax error: {str(exc) or type(exc).__name__}") from None


def cpython_syntax_error(path: str, text: str) -> Optional[AnalysisError]:
    """CPython's parser's verdict, as an error, or None when it accepts the text."""
    try:
        cpython_tree(path, text)
    except AnalysisError as exc:
        return exc
    return None
