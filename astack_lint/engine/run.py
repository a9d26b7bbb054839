"""Running the rules: build a project's model, run every rule that can report on each linted file,
filter what ``# noqa``, ``per-file-ignores`` and the selection leave out.

A ``Session`` is one linting session: the settings, the store of per-file facts, what the run
read, and (optionally) run records that replay a project root's result when nothing it depends on
changed. The application (the CLI, the flake8 plugin, the library API) composes it with the caches
it wants; the engine builds no cache itself, and knows no rule by name.
"""

from __future__ import annotations

import gc
import os
import sys
from contextlib import contextmanager
from typing import Dict, FrozenSet, Iterable, Iterator, List, Optional, Protocol, Sequence, Tuple

from ..config.noqa import NoqaMap
from ..config.options import Settings
from ..model.facts import FileFacts
from ..model.project import Project
from ..releases.resolve import Resolver
from ..results import Finding, LintError, LintResult, ReadLog, describe_exception
from ..rules.api import CheckContext, Rule
from ..rules.registry import all_rules
from ..source import Source, SourceError, read_source
from .discover import discover, find_root, known_files, unmarked_root
from .parse import analyse
from .store import FRAMEWORK_TOKENS, STRUCTURE_TOKENS, Store, feeds_model

RootResult = Tuple[List[Finding], List[LintError], int]


class RunRecords(Protocol):
    """Whole results per project root, replayed while nothing they depend on changed
    (``cache/runs.py``)."""

    def load(self, root: str, targets: Sequence[str], settings: Settings, known: Sequence[str],
             resolver: Resolver) -> Optional[RootResult]: ...

    def save(self, root: str, targets: Sequence[str], settings: Settings, files: Dict[str, Tuple[int, int, int, str]],
             result: RootResult, resolver: Resolver) -> None: ...


def mentions_framework(tokens: Iterable[FrozenSet[bytes]]) -> bool:
    """Whether any of these files (their prefilter tokens) names FastAPI or Starlette."""
    return any(t in present for present in tokens for t in FRAMEWORK_TOKENS)


def runnable_rules(project: Project, settings: Settings, only_selected: bool = True) -> List[Rule]:
    """The rules that can report anything in this project: selected ones (unless flake8 selects),
    and in a project that never names the framework only those that do not need it."""
    free = project.framework_free
    return [
        r
        for r in all_rules()
        if (not only_selected or settings.is_selected(r.code)) and not (free and r.needs_framework)
    ]


def check_file(
    project: Project,
    facts: FileFacts,
    settings: Settings,
    resolver: Resolver,
    only_selected: bool = True,
    present: Optional[FrozenSet[bytes]] = None,
) -> Tuple[List[Finding], List[LintError]]:
    """Run the rules on one file of the model: their findings, and an error for each rule that
    raised (a bug of ours: the file's other rules still run, the run exits 2). ``present``: the
    file's prefilter tokens; a rule whose prefilter the file fails cannot report there and is not
    run (None: run every rule)."""
    findings: List[Finding] = []
    crashes: List[LintError] = []
    for rule in runnable_rules(project, settings, only_selected):
        if present is not None and not rule.wants(project, facts.path, present, settings):
            continue
        ctx = CheckContext(rule, project, facts, settings, resolver)
        try:
            result = rule.check(ctx)
            if result is not None:
                ctx.findings.extend(result)
        except Exception as exc:  # a rule bug must not stop the run, nor go unnoticed
            crashes.append(LintError(facts.path, f"internal error in {rule.code} ({describe_exception(exc)}); "
                                     f"its findings in this file are missing"))
            continue
        findings.extend(ctx.findings)
    return findings, crashes


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Python's cyclic garbage collector, tuned while linting: a project's facts are hundreds of
    thousands of small tuples that live until the run ends and form no cycles, and collecting
    after every 700 new objects scanned them over and over (half the time of a cold run on a
    FastAPI project). Collections still happen, a hundred times less often."""
    old = gc.get_threshold()
    gc.set_threshold(100_000, 20, 100)
    try:
        yield
    finally:
        gc.set_threshold(*old)


def cpu_count() -> int:
    """The cores this process may run on: ``jobs`` is capped at it (a config file asking for 120
    processes gets as many as there are cores)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def prefilter_on() -> bool:
    """Whether files are parsed, and rules run, only where their prefilter tokens occur (the
    tests compare runs with and without: ASTACK_LINT_NO_PREFILTER=1)."""
    return not os.environ.get("ASTACK_LINT_NO_PREFILTER")


def build_project(
    root: str,
    settings: Settings,
    store: Store,
    targets: Iterable[str] = (),
    jobs: int = 1,
    known: Optional[Sequence[str]] = None,
    reads: Optional[ReadLog] = None,
) -> Project:
    """The project model of ``root``: files that mention FastAPI or Starlette are parsed up front;
    other modules only when name resolution reaches them; a linted file when a selected rule's
    prefilter wants it."""
    targets = list(targets)
    if known is None:
        known = known_files(root, settings, targets, reads=reads)
    entries = {p: store.scan(p) for p in known}
    prefilter = prefilter_on()
    # no file names FastAPI or Starlette: rules that need them neither parse files nor run
    framework_free = prefilter and not mentions_framework(e.tokens for e in entries.values())
    if not prefilter:
        model = known
    else:
        model = [p for p in known if feeds_model(entries[p].tokens)]
    store.parse_many(model, jobs)

    def loader(path: str) -> Optional[FileFacts]:
        return store.facts(path)[0]

    def relevant(path: str) -> bool:
        return any(t in store.scan(path).tokens for t in STRUCTURE_TOKENS)

    def make(paths: Iterable[str]) -> Project:
        facts = [store.facts(p)[0] for p in sorted(set(paths))]
        project = Project(root, [f for f in facts if f is not None], known, loader, store.text, relevant)
        project.framework_free = framework_free
        return project

    project = make(model)
    rules = runnable_rules(project, settings)
    wanted = [
        t
        for t in targets
        if t not in project.files and any(r.wants(project, t, entries[t].tokens, settings) for r in rules)
    ]
    if wanted:
        store.parse_many(wanted, jobs)
        project = make(list(project.files) + wanted)
    return project


class Session:
    """One linting session (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        store: Optional[Store] = None,
        runs: Optional[RunRecords] = None,
        reads: Optional[ReadLog] = None,
    ) -> None:
        self.settings = settings
        self.store = store if store is not None else Store(settings)
        self.runs = runs
        self.reads = reads if reads is not None else ReadLog()
        self._projects: Dict[str, Project] = {}  # the models file_findings keeps, by root
        self._file_resolver: Optional[Resolver] = None

    def resolver(self) -> Resolver:
        """A fresh release resolution (each lint reads the release sources anew)."""
        return Resolver(self.settings.fastapi_version, self.settings.starlette_version, self.reads)

    def lint(self, paths: Sequence[str]) -> LintResult:
        """Lint files and directories; each file is judged within its whole project."""
        with fewer_collections():
            return self._lint(paths)

    def _lint(self, paths: Sequence[str]) -> LintResult:
        settings, store, runs = self.settings, self.store, self.runs
        resolver = self.resolver()
        jobs = min(settings.jobs or cpu_count(), cpu_count())
        warnings: List[LintError] = []
        walked: Dict[str, List[str]] = {}
        targets, errors = discover(list(paths) or ["."], settings, warnings, walked, self.reads)
        by_root: Dict[str, List[str]] = {}
        roots: Dict[str, str] = {}
        marked: Dict[str, bool] = {}
        given = list(paths) or ["."]
        for t in targets:
            d = os.path.dirname(t)
            if d not in roots:
                roots[d] = find_root(t, marked=marked, unmarked=unmarked_root(t, given))
            by_root.setdefault(roots[d], []).append(t)
        findings: List[Finding] = []
        linted = 0
        for root in sorted(by_root):
            root_targets = by_root[root]
            known = known_files(root, settings, root_targets, walked, self.reads)
            if runs is not None:
                hit = runs.load(root, root_targets, settings, known, resolver)
                if hit is not None:
                    findings.extend(hit[0])
                    errors.extend(hit[1])
                    linted += hit[2]
                    continue
            if store.disk is not None:
                store.disk.open(root)
            project = build_project(root, settings, store, root_targets, jobs, known, self.reads)
            root_findings, root_errors, root_linted = self._lint_root(project, root_targets, resolver)
            store.save()
            findings.extend(root_findings)
            errors.extend(root_errors)
            linted += root_linted
            if runs is not None:
                files = {}
                for p in known:
                    e = store.entries.get(p)
                    if e is None or not e.digest:
                        break  # unreadable now: do not record a result that depends on it
                    files[p] = (e.mtime_ns, e.ctime_ns, e.size, e.digest)
                else:
                    runs.save(root, root_targets, settings, files, (root_findings, root_errors, root_linted), resolver)
        findings.sort(key=Finding.sort_key)
        errors.sort(key=lambda e: (e.path, e.line or 0))
        return LintResult(findings, errors, linted, warnings)

    def _lint_root(self, project: Project, targets: Sequence[str], resolver: Resolver) -> RootResult:
        settings, store = self.settings, self.store
        findings: List[Finding] = []
        errors: List[LintError] = []
        linted = 0
        checked: List[FileFacts] = []
        for path in targets:
            facts = project.files.get(path)
            err = store.entries[path].error if facts is None and store.entries.get(path, None) else None
            if facts is None and err is None:
                err = store.syntax_error(path)
            if err is not None:
                errors.append(LintError(path, err[0], err[1], err[2]))
                continue
            linted += 1
            if facts is None:
                continue  # no selected rule can report anything here
            checked.append(facts)
            text = store.text(path)
            noqa = NoqaMap(text or "")
            if noqa.file_ignored and not settings.disable_noqa:
                continue
            present = store.entries[path].tokens if prefilter_on() and path in store.entries else None
            found, crashes = check_file(project, facts, settings, resolver, present=present)
            errors.extend(crashes)
            for f in found:
                if not settings.disable_noqa and noqa.suppresses(f.line, f.code):
                    continue
                if settings.per_file_ignored(path, f.code):
                    continue
                findings.append(f)
        # a file whose rule data a rule needed (here or from another file) but LibCST could not
        # collect is not linted: one error, none of its findings
        refused = {f.path: f.rule_error for f in checked if f.rule_error is not None}
        if refused:
            findings = [f for f in findings if f.path not in refused]
            for path, (message, line, col) in sorted(refused.items()):
                errors.append(LintError(path, message, line, col))
                linted -= 1
        return findings, errors, linted


    def file_findings(self, path: str, text: Optional[str] = None) -> List[Finding]:
        """Every finding of every rule on one file, judged within its whole project, unfiltered
        (flake8 does the noqa, select/ignore and per-file-ignores filtering itself). The project's
        model is built once per root and kept; a file the model has not read is added to it in
        place. ``text``: the file's text as the caller read it (flake8's lines), linted instead of
        the file on disk when the two differ (stdin, or an edit since). A file that cannot be
        parsed gives nothing (the caller reports syntax errors itself); so does one whose rule data
        LibCST could not collect (not linted, as in ``lint``)."""
        with fewer_collections():
            return self._file_findings(path, text)

    def _file_findings(self, path: str, text: Optional[str]) -> List[Finding]:
        settings, store = self.settings, self.store
        path = os.path.abspath(path)
        root = find_root(path)
        project = self._projects.get(root)
        if project is None:
            if store.disk is not None:
                store.disk.open(root)
            project = build_project(root, settings, store, [], reads=self.reads)
            store.save()
            self._projects[root] = project
        try:
            disk: Optional[Source] = read_source(path)
        except SourceError:
            disk = None
        if text is not None and (disk is None or disk.text != text):
            raw = text.encode("utf-8", "surrogatepass")
            present = frozenset(t for t in store.tokens if t in raw)
            try:
                facts = analyse(path, Source(text, "utf-8", False, raw), all_rules())
            except Exception:
                return []
        else:
            present = store.scan(path).tokens
            found = project.files.get(path)
            if found is None:
                rules = runnable_rules(project, settings, only_selected=False)
                if not any(r.wants(project, path, present, settings) for r in rules):
                    return []
                # a project file is added to the model in place (as name resolution loads modules)
                found = project.facts_for(path) if path in project.known_paths else store.facts(path)[0]
                if found is None:
                    return []
            facts = found
        if project.files.get(path) is not facts:  # the caller's own text, or a file outside the model's tree
            project = self._projects[root] = project.with_file(facts)
        if self._file_resolver is None:
            self._file_resolver = self.resolver()
        findings, crashes = check_file(project, facts, settings, self._file_resolver, only_selected=False,
                                       present=present if prefilter_on() else None)
        for crash in crashes:  # flake8 has no place for an error of ours but standard error
            print(f"astack-lint: {crash.message} ({crash.path})", file=sys.stderr)
        if facts.rule_error is not None:
            return []
        return findings


def lint(paths: Sequence[str], settings: Settings, store: Optional[Store] = None, runs: Optional[RunRecords] = None,
         reads: Optional[ReadLog] = None) -> LintResult:
    """``Session(settings, store, runs, reads).lint(paths)``."""
    return Session(settings, store, runs, reads).lint(paths)
