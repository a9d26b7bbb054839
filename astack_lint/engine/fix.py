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
``--fix`` writes each changed file once, under a policy that never loses an edit and never writes
outside the paths given (``write_fixed``): a path that goes through a symbolic link below a given
path is not fixed ("not fixed: symlink"; a file reached both through a link and by its own name
is linted and fixed once, under its own name); a read-only file is not fixed; the content is
compared with what was linted immediately before the replacement, and a file edited meanwhile is
left alone; a file with one link is replaced atomically (a temporary file in the same directory,
flushed and fsynced, given the file's mode, owner, group and extended attributes, then
``os.replace``; refused when the owner cannot be kept), one with several hard links is rewritten
in place. A temporary file an interrupted run left behind is removed by the next ``--fix``. The
inserted text uses the file's own line ending (LibCST keeps each module's newline style), so CRLF
files stay CRLF.
"""

from __future__ import annotations

import ast
import difflib
import os
import re
import stat
import sys
import time
import warnings
from collections import Counter
from typing import Dict, List, NamedTuple, Optional, Sequence, Set, Tuple

from ..config.options import Settings
from ..model.facts import FileFacts
from ..results import AnalysisError, Finding, LintError, LintResult, ReadLog
from ..rules.registry import all_rules
from ..source import Source, SourceError, SourceLines, content_digest, decode, read_source, spans_conflict
from .discover import discover
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
    policy: Dict[str, str] = {}  # refused by the --fix safety policy (the message says so alone)
    if write:
        failed = False
        for directory in sorted({os.path.dirname(p) for p in originals}):
            clean_stale_temps(directory)
        selected: Optional[Set[str]] = None
        for path in sorted(texts):
            try:
                if os.path.realpath(path) != path:
                    if selected is None:
                        selected = set(discover(paths, settings)[0])
                    problem = symlink_problem(path, paths, selected)
                    if problem is not None:
                        raise FixError(problem)
                write_fixed(path, store.overlay[path], originals[path].raw)
            except (OSError, FixError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                if reason.startswith("not fixed: "):
                    policy[path] = reason
                else:
                    refused[path] = f"cannot write the fixed file ({reason})"
                fixed.pop(path, None)
                failed = True
        texts = {p: t for p, t in texts.items() if p not in refused and p not in policy}
        if failed:  # what remains is what is on disk now
            result = Session(settings, Store(settings, store.disk), reads=reads).lint(paths)
    errors = list(result.errors) + sorted(
        [LintError(p, f"fixes not applied, the file was left untouched: {why}") for p, why in refused.items()]
        + [LintError(p, why) for p, why in policy.items()],
        key=lambda e: e.path,
    )
    left = [f for f in result.findings if wanted(f, unsafe) and f.path not in refused and f.path not in policy]
    return FixReport(
        LintResult(result.findings, errors, result.files),
        {p: c for p, c in fixed.items() if p in texts},
        originals,
        texts,
        not left,
    )


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
# writing: the --fix safety policy

TMP_SUFFIX = ".astack-lint-tmp"
# .NAME.PID.RANDOM.astack-lint-tmp (this version), .NAME.RANDOM.astack-lint-tmp (before)
_TMP_NAME = re.compile(r"^\.(?P<name>.+?)\.(?:(?P<pid>[0-9]+)\.)?[0-9A-Za-z_]+" + re.escape(TMP_SUFFIX) + r"$")
STALE_TMP_SECONDS = 3600  # a temporary file this old is stale even if its pid is alive again


class FixError(Exception):
    """Why a fixed text was not written (one line)."""


def symlink_problem(path: str, given: Sequence[str], selected: Set[str]) -> Optional[str]:
    """Why ``path`` must not be written because it goes through a symbolic link below the paths
    given on the command line (None: it does not, or its target is inside a given directory and
    was itself selected, so it is fixed under its own name)."""
    real = os.path.realpath(path)
    for g in given:
        g = os.path.abspath(g)
        if os.path.isdir(g) and (path == g or path.startswith(g.rstrip(os.sep) + os.sep)):
            base, rel = os.path.realpath(g), os.path.relpath(path, g)
        elif path == g:
            base, rel = os.path.realpath(os.path.dirname(g)), os.path.basename(g)
        else:
            continue
        if os.path.normcase(os.path.normpath(os.path.join(base, rel))) == os.path.normcase(real):
            return None  # no symbolic link below where the user pointed
    inside = any(os.path.isdir(g) and _under(real, os.path.realpath(g)) for g in given)
    if inside and real in selected:
        return None
    return f"not fixed: symlink (to {real}" + ("" if inside else ", outside the paths given") + ")"


def _under(path: str, top: str) -> bool:
    path, top = os.path.normcase(path), os.path.normcase(top)
    return path == top or path.startswith(top.rstrip(os.sep) + os.sep)


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, ValueError, OverflowError):
        return True  # someone else's process, or we cannot tell: leave its file alone
    return True


def clean_stale_temps(directory: str) -> List[str]:
    """Remove the temporary files an interrupted ``--fix`` left in ``directory`` (its process is gone,
    or the file is older than ``STALE_TMP_SECONDS``); the paths removed."""
    removed: List[str] = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    now = time.time()
    for name in names:
        m = _TMP_NAME.match(name) if name.endswith(TMP_SUFFIX) else None
        if m is None:
            continue
        full = os.path.join(directory, name)
        try:
            st = os.lstat(full)
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode):
            continue
        old = now - st.st_mtime > STALE_TMP_SECONDS
        if not old and m.group("pid") is not None and _pid_alive(int(m.group("pid"))):
            continue  # a run that is writing right now
        if not old and m.group("pid") is None:
            continue
        try:
            os.unlink(full)
            removed.append(full)
        except OSError:
            pass
    return removed


def _read_all(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def write_fixed(path: str, raw: bytes, expected: bytes) -> None:
    """Replace the content of the regular file ``path`` (already checked for symbolic links) by ``raw``,
    if it still holds ``expected`` right before the replacement (else FixError). A read-only file is
    refused. A file with one link is replaced atomically by a temporary file in the same directory
    (flushed, fsynced, given the file's mode, owner, group and extended attributes; refused when the
    owner or group cannot be kept); a file with several hard links is rewritten in place, so that
    every name keeps the same content."""
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        raise FixError("not fixed: symlink")
    if not stat.S_ISREG(st.st_mode):
        raise FixError("not fixed: not a regular file")
    if not st.st_mode & stat.S_IWUSR or not os.access(path, os.W_OK):
        raise FixError("not fixed: read-only file")
    if _read_all(path) != expected:
        raise FixError("it changed on disk while it was being fixed")
    if st.st_nlink > 1:
        _write_in_place(path, raw, expected)
    else:
        _write_replacing(path, raw, expected, st)


def _write_in_place(path: str, raw: bytes, expected: bytes) -> None:
    with open(path, "r+b") as fh:
        if fh.read() != expected:  # compared through the very handle that writes
            raise FixError("it changed on disk while it was being fixed")
        fh.seek(0)
        fh.write(raw)
        fh.truncate()
        fh.flush()
        os.fsync(fh.fileno())


def _copy_xattrs(src: str, fd: int) -> None:
    if not hasattr(os, "listxattr"):
        return
    try:
        names = os.listxattr(src, follow_symlinks=False)
    except OSError:
        return
    for name in names:
        try:
            os.setxattr(fd, name, os.getxattr(src, name, follow_symlinks=False))
        except OSError:
            pass  # e.g. security.* without the privilege: kept where the OS allows


def _write_replacing(path: str, raw: bytes, expected: bytes, st: os.stat_result) -> None:
    directory = os.path.dirname(path)
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.{os.urandom(4).hex()}{TMP_SUFFIX}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            if hasattr(os, "fchown"):
                tst = os.fstat(fh.fileno())
                if (tst.st_uid, tst.st_gid) != (st.st_uid, st.st_gid):
                    try:
                        os.fchown(fh.fileno(), st.st_uid, st.st_gid)
                    except OSError:
                        raise FixError(f"not fixed: its owner and group ({st.st_uid}:{st.st_gid}) could not be kept; "
                                       "fix it as its owner") from None
            if hasattr(os, "fchmod"):
                os.fchmod(fh.fileno(), stat.S_IMODE(st.st_mode))
            else:  # pragma: no cover - Windows
                os.chmod(tmp, stat.S_IMODE(st.st_mode))
            _copy_xattrs(path, fh.fileno())
            os.fsync(fh.fileno())
        # the last look before the rename: an edit saved meanwhile is never lost
        now = os.lstat(path)
        if (now.st_ino, now.st_size, now.st_mtime_ns) != (st.st_ino, st.st_size, st.st_mtime_ns) or _read_all(path) != expected:
            raise FixError("it changed on disk while it was being fixed")
        os.replace(tmp, path)
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
