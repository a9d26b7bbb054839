"""``--fix`` / ``--diff``: apply the fixes of the findings that survive filtering.

Only the findings ``lint_paths`` returns are fixed: a finding suppressed by ``# noqa``,
``per-file-ignores`` or not selected is never touched. Safe fixes always; unsafe ones (they change
what the program does at run time) only with ``--unsafe-fixes``.

One pass applies, per file, every fix that does not conflict with one already taken (overlapping
edits, or two edits starting at the same place): the first in the file wins, the others wait for
the next pass. The result must parse with LibCST and compile with CPython, and must be written back
in the file's encoding (PEP 263 cookie, BOM); a file for which that fails is left untouched and
reported. Then the whole project is linted again, with the fixed texts held in memory, and the
next pass fixes what that lint reports, up to ``MAX_PASSES``: so that fixing and then linting
shows the fixed findings gone and no new fixable ones.

Nothing is written before the last pass: ``--diff`` prints the unified diff and writes nothing;
``--fix`` writes each changed file once, atomically (a temporary file in the same directory,
flushed and fsynced, then ``os.replace``; the file's mode is kept), after checking that the file
did not change on disk meanwhile. The inserted text uses the file's own line ending (LibCST keeps
each module's newline style), so CRLF files stay CRLF.
"""

from __future__ import annotations

import ast
import difflib
import os
import stat
import sys
import tempfile
import warnings
from collections import Counter
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

from ..config.options import Settings
from ..model.facts import FileFacts
from ..results import AnalysisError, Finding, LintError, LintResult, ReadLog
from ..rules.registry import all_rules
from ..source import Source, SourceError, SourceLines, content_digest, decode, read_source, spans_conflict
from .parse import analyse
from .run import Session
from .store import Store

MAX_PASSES = 5


def wanted(f: Finding, unsafe: bool) -> bool:
    return f.fix is not None and bool(f.fix.edits) and (f.fix.applicability == "safe" or unsafe)


# ---------------------------------------------------------------------------------------------
# applying the fixes of one file


def apply_fixes(text: str, findings: Sequence[Finding]) -> Tuple[str, List[Finding]]:
    """Apply the findings' fixes that do not conflict with an earlier one; (new text, the findings
    whose fix was applied). A fix is all or nothing: all its edits, or none."""
    lines = SourceLines(text)
    taken: List[Tuple[int, int]] = []
    spans: List[Tuple[int, int, str]] = []
    applied: List[Finding] = []
    done: Dict[tuple, bool] = {}
    candidates = []
    for f in findings:
        assert f.fix is not None
        try:
            fs = [(lines.offset(e.start), lines.offset(e.end), e.text) for e in f.fix.edits]
        except ValueError:
            continue  # a position outside the text: not this text's fix
        if any(s > e for s, e, _t in fs) or spans_conflict([(s, e) for s, e, _t in fs]):
            continue
        candidates.append((min(s for s, _e, _t in fs), f, fs))
    candidates.sort(key=lambda c: (c[0], c[1].sort_key()))
    for _first, f, fs in candidates:
        key = tuple(fs)
        if key in done:  # the same fix, attached to two findings
            if done[key]:
                applied.append(f)
            continue
        ok = not spans_conflict(taken + [(s, e) for s, e, _t in fs])
        done[key] = ok
        if ok:
            taken.extend((s, e) for s, e, _t in fs)
            spans.extend(fs)
            applied.append(f)
    for s, e, t in sorted(spans, reverse=True):
        text = text[:s] + t + text[e:]
    return text, applied


def encode(text: str, like: Source) -> bytes:
    """``text`` in the encoding of the source it came from (with its BOM)."""
    raw = text.encode(like.encoding)
    return (b"\xef\xbb\xbf" + raw) if like.bom else raw


def _compiles(text: str, path: str, full: bool) -> Optional[str]:
    """None when CPython compiles the text (only to an AST unless ``full``), else why not."""
    flags = 0 if full else ast.PyCF_ONLY_AST
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            compile(text, path, "exec", flags, dont_inherit=True)
        except SyntaxError as exc:
            return f"{exc.msg or 'invalid syntax'} (line {exc.lineno})"
        except (ValueError, RecursionError, MemoryError) as exc:
            return f"{type(exc).__name__}: {exc}"
    return None


# ---------------------------------------------------------------------------------------------
# a store that holds fixed texts in memory


class _Stat(NamedTuple):
    st_mtime_ns: int
    st_size: int


def _analyse_raw(path: str, raw: bytes) -> Tuple[Optional[FileFacts], Optional[Tuple[str, Optional[int], Optional[int]]]]:
    try:
        source = decode(raw)
    except SourceError as exc:
        return None, (str(exc), None, None)
    try:
        return analyse(path, source, all_rules()), None
    except AnalysisError as exc:
        return None, (exc.message, exc.line, exc.col)
    except Exception as exc:  # never let one file stop the run
        return None, (f"internal error while analysing ({type(exc).__name__}: {exc})", None, None)


class OverlayStore(Store):
    """A ``Store`` in which some files have a text other than the one on disk (the fixed one).
    Entries of those files are found by content digest, never by mtime, and never saved to the
    disk cache. Rules that read other files' text see the fixed texts (``Project.source_text``
    asks the store)."""

    def __init__(self, settings: Optional[Settings] = None, disk=None) -> None:
        super().__init__(settings, disk)
        self.overlay: Dict[str, bytes] = {}

    def set_text(self, path: str, raw: bytes) -> None:
        self.overlay[path] = raw

    def drop(self, path: str) -> None:
        self.overlay.pop(path, None)
        self.entries.pop(path, None)

    def scan(self, path: str):
        raw = self.overlay.get(path)
        if raw is None:
            return super().scan(path)
        entry = self.entries.get(path)
        if entry is not None and entry.digest == content_digest(raw):
            return entry
        return self._fresh(path, raw, _Stat(-1, len(raw)))  # type: ignore[arg-type]

    def parse_many(self, paths: Sequence[str], jobs: int = 1) -> None:
        paths = list(dict.fromkeys(paths))
        super().parse_many([p for p in paths if p not in self.overlay], jobs)
        for path in paths:
            if path not in self.overlay:
                continue
            entry = self.scan(path)
            if entry.parsed:
                continue
            facts, error = _analyse_raw(path, self.overlay[path])
            self._put(path, entry._replace(facts=facts, error=error, parsed=True, syntax_checked=True))

    def syntax_error(self, path: str):
        if path not in self.overlay:
            return super().syntax_error(path)
        self.parse_many([path])
        return self.entries[path].error

    def source(self, path: str):
        raw = self.overlay.get(path)
        return super().source(path) if raw is None else decode(raw)

    def text(self, path: str) -> Optional[str]:
        raw = self.overlay.get(path)
        if raw is None:
            return super().text(path)
        return decode(raw).text

    def save(self) -> None:
        if self.disk is not None and self._dirty:
            self.disk.save({p: e for p, e in self.entries.items() if p not in self.overlay})
            self._dirty = False


# ---------------------------------------------------------------------------------------------
# the fix loop


class FixReport(NamedTuple):
    result: LintResult  # what remains, with the fixes applied (errors include refused fixes)
    fixed: Dict[str, Counter]  # path -> code -> findings fixed
    originals: Dict[str, Source]  # the files' texts before
    texts: Dict[str, str]  # the files' texts after (only files that changed)
    converged: bool  # no fixable finding is left (but for refused files)

    @property
    def counts(self) -> Counter:
        total: Counter = Counter()
        for c in self.fixed.values():
            total.update(c)
        return total

    def diff(self, display=None) -> str:
        """The unified diff of every changed file (paths shown through ``display``)."""
        show = display or (lambda p: p)
        chunks = []
        for path in sorted(self.texts):
            old = self.originals[path].text
            new = self.texts[path]
            name = show(path).replace(os.sep, "/")
            chunks.append(unified_diff(old, new, name))
        return "".join(chunks)


def unified_diff(old: str, new: str, name: str) -> str:
    a, b = _diff_lines(old), _diff_lines(new)
    out = []
    for line in difflib.unified_diff(a, b, f"a/{name}", f"b/{name}", lineterm="\n"):
        if line.startswith(("---", "+++")) and not line.endswith("\n"):
            line += "\n"
        if not line.endswith(("\n", "\r")):
            line += "\n\\ No newline at end of file\n"
        out.append(line)
    return "".join(out)


def _diff_lines(text: str) -> List[str]:
    lines = SourceLines(text)
    return [lines.content(n) + lines.ending(n) for n in range(1, len(lines) + 1) if lines.content(n) or lines.ending(n)]


def fix_paths(
    paths: Sequence[str],
    settings: Settings,
    store: OverlayStore,
    unsafe: bool = False,
    write: bool = True,
    reads: Optional[ReadLog] = None,
) -> FixReport:
    """Fix the findings of ``paths`` (see the module docstring), holding the fixed texts in
    ``store``. ``write=False``: only compute (``--diff``)."""
    session = Session(settings, store, reads=reads)
    originals: Dict[str, Source] = {}
    fixed: Dict[str, Counter] = {}
    refused: Dict[str, str] = {}
    result = session.lint(paths)
    for _pass in range(MAX_PASSES):
        if not _fix_pass(result, store, unsafe, originals, fixed, refused):
            break
        result = session.lint(paths)
    texts = {p: decode(raw).text for p, raw in store.overlay.items() if raw != originals[p].raw}
    if write:
        failed = False
        for path in sorted(texts):
            try:
                write_atomic(path, store.overlay[path], originals[path].raw)
            except (OSError, FixError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                refused[path] = f"cannot write the fixed file ({reason})"
                fixed.pop(path, None)
                failed = True
        texts = {p: t for p, t in texts.items() if p not in refused}
        if failed:  # what remains is what is on disk now
            result = Session(settings, Store(settings, store.disk), reads=reads).lint(paths)
    errors = list(result.errors) + [
        LintError(p, f"fixes not applied, the file was left untouched: {why}") for p, why in sorted(refused.items())
    ]
    left = [f for f in result.findings if wanted(f, unsafe) and f.path not in refused]
    return FixReport(
        LintResult(result.findings, errors, result.files),
        {p: c for p, c in fixed.items() if p in texts},
        originals,
        texts,
        not left,
    )


class FixError(Exception):
    pass


def _fix_pass(
    result: LintResult,
    store: OverlayStore,
    unsafe: bool,
    originals: Dict[str, Source],
    fixed: Dict[str, Counter],
    refused: Dict[str, str],
) -> bool:
    """One pass over the files with fixable findings; True if a text changed."""
    by_path: Dict[str, List[Finding]] = {}
    for f in result.findings:
        if wanted(f, unsafe) and f.path not in refused:
            by_path.setdefault(f.path, []).append(f)
    changed = False
    for path in sorted(by_path):
        if path not in originals:
            try:
                originals[path] = read_source(path)
            except SourceError as exc:
                refused[path] = str(exc)
                continue
            entry = store.entries.get(path)
            if entry is None or entry.digest != content_digest(originals[path].raw):
                refused[path] = "it changed on disk while it was being linted"
                continue
        raw = store.overlay.get(path, originals[path].raw)
        current = decode(raw).text
        text, applied = apply_fixes(current, by_path[path])
        if not applied or text == current:
            continue
        problem = _check(path, text, originals[path])
        if problem is None:
            try:
                new_raw = encode(text, originals[path])
            except UnicodeError as exc:
                problem = f"the fixed text cannot be encoded as {originals[path].encoding} ({exc})"
        if problem is None:
            try:
                if decode(new_raw).text != text:
                    problem = "the fixed file would not read back as the same text"
            except SourceError as exc:
                problem = f"the fixed file would not read back ({exc})"
        if problem is None:
            store.set_text(path, new_raw)
            facts, error = store.facts(path)
            if error is not None:
                problem = f"the fixed file would not parse: {error[0]}" + (f" (line {error[1]})" if error[1] else "")
        if problem is not None:
            refused[path] = problem
            store.drop(path)  # back to the file as it is on disk
            fixed.pop(path, None)
            changed = True
            continue
        fixed.setdefault(path, Counter()).update(f.code for f in applied)
        changed = True
    return changed


def _check(path: str, text: str, original: Source) -> Optional[str]:
    """Why the fixed text must not be written (None: it compiles as the original does)."""
    full = _compiles(original.text, path, True) is None
    problem = _compiles(text, path, full)
    if problem is not None:
        return f"the fixed file would not compile: {problem}"
    return None


# ---------------------------------------------------------------------------------------------
# writing


def write_atomic(path: str, raw: bytes, expected: Optional[bytes] = None) -> None:
    """Replace the file's content by ``raw``: a temporary file in the same directory, flushed and
    fsynced, given the file's mode, then renamed over it. A symbolic link is followed (the link
    stays a link). ``expected``: the content the file must still have (else FixError)."""
    real = os.path.realpath(path)
    st = os.stat(real)
    if expected is not None:
        with open(real, "rb") as fh:
            if fh.read() != expected:
                raise FixError("it changed on disk while it was being fixed")
    directory = os.path.dirname(real)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(real) + ".", suffix=".astack-lint-tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, stat.S_IMODE(st.st_mode))
        if hasattr(os, "chown"):
            try:
                tst = os.stat(tmp)
                if (tst.st_uid, tst.st_gid) != (st.st_uid, st.st_gid):
                    os.chown(tmp, st.st_uid, st.st_gid)
            except OSError:
                pass
        os.replace(tmp, real)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    if sys.platform != "win32":  # make the rename itself durable
        try:
            dfd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        except OSError:
            pass


def counts_text(counts: Counter) -> str:
    """``AXS101: 2, AXS105: 1``"""
    return ", ".join(f"{code}: {n}" for code, n in sorted(counts.items()))
