"""Whole-run results, per project root: a run in which nothing changed reads one small file.

The facts cache (``facts.py``) saves the parse of every file, but a run still has to load every
file's facts, rebuild the project model and run every check. When nothing the findings depend
on has changed, none of that is needed. For each project root, after a full run, this records:

- the findings and errors of the files linted under that root, and how many were linted;
- every Python file of the root the project model could read (path, size, mtime, content
  digest): an edit anywhere in the project, a new file, a deleted one, invalidates the record;
- the FastAPI / Starlette releases resolved for each directory linted (lock files, pins,
  ``--fastapi-version``, the installed packages): a changed pin invalidates it;
- the tool's own code (a digest of every module of the package), the options that can change a
  finding, and the paths asked for (in the record's file name).

A file whose size or mtime changed is read and hashed: the same content still counts as
unchanged (a ``touch``, a checkout). Reading a record imports neither LibCST nor any rule, so
such a run costs a directory walk and a ``stat`` per file.

Records are written like the facts cache (temporary file, then rename) and anything unreadable
counts as no record.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..config.options import Settings
from ..releases.resolve import Resolver
from ..results import Finding, LintError
from ..source import SourceError, content_digest, read_bytes, write_atomic
from .keys import tool_key

FORMAT = 1


def releases_keys(root: str, targets: Sequence[str], resolver: Resolver) -> Dict[str, str]:
    """What the release sources say for each directory holding a linted file (the answer, not only
    the releases: messages quote its file and text)."""
    return {d: repr(resolver.answer(d, root)) for d in sorted({os.path.dirname(t) for t in targets})}


RootResult = Tuple[List[Finding], List[LintError], int]


class RunCache:
    def __init__(self, directory: str) -> None:
        self.directory = directory

    def _path(self, root: str, targets: Sequence[str], settings: Settings) -> str:
        key = repr((FORMAT, tool_key(), os.path.abspath(root), sorted(targets), settings.key()))
        name = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()
        return os.path.join(self.directory, f"{name}.run")

    def load(
        self, root: str, targets: Sequence[str], settings: Settings, known: Sequence[str], resolver: Resolver
    ) -> Optional[RootResult]:
        """The recorded result, if nothing it depends on changed; else None."""
        path = self._path(root, targets, settings)
        try:
            with open(path, "rb") as fh:
                data = pickle.load(fh)
            if not isinstance(data, dict) or data.get("format") != FORMAT:
                return None
            files: Dict[str, Tuple[int, int, str]] = data["files"]
            if len(files) != len(known) or any(p not in files for p in known):
                return None
            changed_stat = False
            for p in known:
                mtime_ns, size, digest = files[p]
                st = os.stat(p)
                if st.st_mtime_ns == mtime_ns and st.st_size == size:
                    continue
                if content_digest(read_bytes(p)) != digest:
                    return None
                files[p] = (st.st_mtime_ns, st.st_size, digest)
                changed_stat = True
            if releases_keys(root, targets, resolver) != data["releases"]:
                return None
            result: RootResult = (list(data["findings"]), list(data["errors"]), int(data["linted"]))
        except (OSError, SourceError):
            return None
        except Exception:  # truncated, corrupt, from another version: no record
            return None
        if changed_stat:  # same content, new mtimes: remember them so the next run need not hash
            self._write(path, data)
        return result

    def save(
        self,
        root: str,
        targets: Sequence[str],
        settings: Settings,
        files: Dict[str, Tuple[int, int, str]],
        result: RootResult,
        resolver: Resolver,
    ) -> None:
        try:
            data = {
                "format": FORMAT,
                "files": files,
                "releases": releases_keys(root, targets, resolver),
                "findings": result[0],
                "errors": result[1],
                "linted": result[2],
            }
        except Exception:  # a release file that cannot be read now: record nothing
            return
        self._write(self._path(root, targets, settings), data)

    def _write(self, path: str, data: Dict[str, Any]) -> None:
        try:
            os.makedirs(self.directory, exist_ok=True)
            write_atomic(path, pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL))
        except Exception:  # the facts cache warns about an unwritable directory; this stays quiet
            pass
