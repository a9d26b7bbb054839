"""Whole-run results, per project root: a run in which nothing changed reads one small file.

The facts cache (``facts.py``) saves the parse of every file, but a run still has to load every
file's facts, rebuild the project model and run every check. When nothing the findings depend
on has changed, none of that is needed. For each project root, after a full run, this records:

- the findings and errors of the files linted under that root, and how many were linted;
- every Python file of the root the project model could read (path, size, mtime, ctime, content
  digest): an edit anywhere in the project, a new file, a deleted one, invalidates the record;
- the FastAPI / Starlette releases resolved for each directory linted (lock files, pins,
  ``--fastapi-version``, the installed packages): a changed pin invalidates it;
- the tool's own code (a digest of every module of the package), the options that can change a
  finding, and the paths asked for (in the record's file name).

A file whose size, mtime or ctime changed, or that had changed less than ``RACY_NS`` before the
record was written, is read and hashed: the same content still counts as unchanged (a ``touch``,
a checkout). Reading a record imports neither LibCST nor any rule, so such a run costs a
directory walk and a ``stat`` per file.

Records are plain data written like the facts cache (``files.py``); anything unreadable or of the
wrong shape counts as no record.
"""

from __future__ import annotations

import hashlib
import os
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..config.options import Settings
from ..releases.resolve import Resolver
from ..results import Edit, Finding, Fix, LintError
from ..source import SourceError, content_digest, read_bytes
from . import files as cachefiles
from .facts import RACY_NS
from .keys import tool_key

FORMAT = 2


def releases_keys(root: str, targets: Sequence[str], resolver: Resolver) -> Dict[str, str]:
    """What the release sources say for each directory holding a linted file (the answer, not only
    the releases: messages quote its file and text)."""
    return {d: repr(resolver.answer(d, root)) for d in sorted({os.path.dirname(t) for t in targets})}


RootResult = Tuple[List[Finding], List[LintError], int]


def _pos(p: Any) -> bool:
    return type(p) is tuple and len(p) == 2 and type(p[0]) is int and type(p[1]) is int


def _opt_int(v: Any) -> bool:
    return v is None or type(v) is int


def valid_finding(f: Any) -> bool:
    """Whether a decoded record's finding has the shape the reports expect."""
    if type(f) is not Finding or not (type(f.code) is type(f.message) is type(f.path) is str):
        return False
    if not (type(f.line) is int and type(f.col) is int and _opt_int(f.end_line) and _opt_int(f.end_col)):
        return False
    fix = f.fix
    if fix is None:
        return True
    return (type(fix) is Fix and type(fix.edits) is tuple and type(fix.applicability) is str and type(fix.message) is str
            and all(type(e) is Edit and _pos(e.start) and _pos(e.end) and type(e.text) is str for e in fix.edits))


def valid_error(e: Any) -> bool:
    return type(e) is LintError and type(e.path) is str and type(e.message) is str and _opt_int(e.line) \
        and _opt_int(e.col)


class RunCache:
    def __init__(self, directory: str, top: Optional[str] = None) -> None:
        self.directory = directory
        self.top = top or os.path.dirname(directory)

    def _path(self, root: str, targets: Sequence[str], settings: Settings) -> str:
        key = repr((FORMAT, tool_key(), os.path.abspath(root), sorted(targets), settings.key()))
        name = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()
        return os.path.join(self.directory, f"{name}.run")

    def load(
        self, root: str, targets: Sequence[str], settings: Settings, known: Sequence[str], resolver: Resolver
    ) -> Optional[RootResult]:
        """The recorded result, if nothing it depends on changed; else None."""
        path = self._path(root, targets, settings)
        if cachefiles.usable(self.top, self.directory, create=False) is not None:
            return None
        data = cachefiles.read(path)
        try:
            if type(data) is not tuple or len(data) != 7 or data[:2] != ("run", FORMAT):
                return None
            _, _, files, releases, findings, errors, linted = data
            if type(files) is not dict or len(files) != len(known) or any(p not in files for p in known):
                return None
            changed_stat = False
            for p in known:
                mtime_ns, ctime_ns, size, digest = files[p]
                st = os.stat(p)
                if st.st_mtime_ns == mtime_ns and st.st_ctime_ns == ctime_ns and st.st_size == size:
                    continue
                if content_digest(read_bytes(p)) != digest:
                    return None
                files[p] = (st.st_mtime_ns, st.st_ctime_ns, st.st_size, digest)
                changed_stat = True
            if releases_keys(root, targets, resolver) != releases:
                return None
            found, errs = cachefiles.decode(findings), cachefiles.decode(errors)
            if type(found) is not list or type(errs) is not list or type(linted) is not int:
                return None
            if not all(valid_finding(f) for f in found) or not all(valid_error(e) for e in errs):
                return None
            result: RootResult = (found, errs, linted)
        except (OSError, SourceError):
            return None
        except Exception:  # a record of the wrong shape: no record
            return None
        if changed_stat:  # same content, new stat: remember it so the next run need not hash
            self._write(path, files, releases, findings, errors, linted)
        return result

    def save(
        self,
        root: str,
        targets: Sequence[str],
        settings: Settings,
        files: Dict[str, Tuple[int, int, int, str]],
        result: RootResult,
        resolver: Resolver,
    ) -> None:
        try:
            releases = releases_keys(root, targets, resolver)
            findings, errors = cachefiles.encode(list(result[0])), cachefiles.encode(list(result[1]))
        except Exception:  # a release file that cannot be read now, data that is not plain: record nothing
            return
        self._write(self._path(root, targets, settings), dict(files), releases, findings, errors, int(result[2]))

    def _write(self, path: str, files: Dict[str, Tuple[int, int, int, str]], releases: Any, findings: Any, errors: Any,
               linted: int) -> None:
        young = time.time_ns() - RACY_NS
        files = {p: ((-1, -1, size, digest) if max(m, c) > young else (m, c, size, digest))
                 for p, (m, c, size, digest) in files.items()}
        try:
            if cachefiles.usable(self.top, self.directory) is not None:
                return  # the facts cache warns about an unusable directory
            cachefiles.write(path, ("run", FORMAT, files, releases, findings, errors, linted))
        except Exception:  # the facts cache warns about an unwritable directory; this stays quiet
            pass
