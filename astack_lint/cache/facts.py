"""The on-disk cache: per-file facts between runs.

One file per project root, under the user cache directory (or ``--cache-dir`` /
``ASTACK_LINT_CACHE_DIR``), in a folder named after the tool version and a digest of the tool's code (its rules, model and
engine). An entry
is reused when the file's size and mtime are unchanged, or its content digest is. Findings are not
cached here: they are recomputed from the (cached) facts of the whole project, so an edit in one
file updates findings in the others. Settings and resolved releases only affect that
recomputation. (``runs.py`` keeps whole results per project root, for runs in which nothing changed.)

Robustness: a missing, truncated or corrupt cache file is ignored and rebuilt; writes go to a
temporary file in the same directory and are renamed into place, so concurrent runs never see a
half-written file (the last writer wins); a cache directory that cannot be written gives one
warning and the run goes on without a cache.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
from typing import Any, Dict, Optional

from .. import __version__
from ..source import write_atomic
from .keys import default_cache_dir, tool_key

FORMAT = 1
_warned = False


def _warn(message: str) -> None:
    global _warned
    if not _warned:
        _warned = True
        print(f"astack-lint: warning: {message}; running without a cache", file=sys.stderr)


class DiskCache:
    def __init__(self, directory: str) -> None:
        self.directory = os.path.join(directory, f"v{__version__}-f{FORMAT}-{tool_key()}")
        self.path: Optional[str] = None
        self.entries: Dict[str, Any] = {}
        self.disabled = False

    @classmethod
    def for_settings(cls, settings: Any) -> Optional["DiskCache"]:
        if settings.no_cache:
            return None
        return cls(settings.cache_dir or default_cache_dir())

    def open(self, root: str) -> None:
        """Load the cache of one project root (anything unreadable counts as empty)."""
        key = hashlib.blake2b(os.path.abspath(root).encode("utf-8", "surrogatepass"), digest_size=10).hexdigest()
        self.path = os.path.join(self.directory, f"{key}.pickle")
        self.entries = {}
        try:
            with open(self.path, "rb") as fh:
                data = pickle.load(fh)
            if isinstance(data, dict) and data.get("format") == FORMAT and isinstance(data.get("entries"), dict):
                self.entries = data["entries"]
        except FileNotFoundError:
            pass
        except Exception:  # truncated, corrupt, from another Python: rebuild
            self.entries = {}

    def get(self, path: str) -> Any:
        return self.entries.get(path)

    def save(self, entries: Dict[str, Any]) -> None:
        if self.disabled or self.path is None:
            return
        keep = {p: e for p, e in entries.items() if e.digest}
        try:
            os.makedirs(self.directory, exist_ok=True)
            write_atomic(self.path, pickle.dumps({"format": FORMAT, "entries": keep}, protocol=pickle.HIGHEST_PROTOCOL))
        except OSError as exc:
            self.disabled = True
            _warn(f"cannot write the cache in {self.directory} ({exc.strerror or exc})")
        except Exception as exc:  # e.g. a fact that cannot be pickled: never fail the run
            self.disabled = True
            _warn(f"cannot write the cache ({type(exc).__name__}: {exc})")
