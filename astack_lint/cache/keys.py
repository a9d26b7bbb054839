"""Where state between runs lives, and what makes all of it stale at once: the tool's own code and
the interpreter (CPython's verdict on a file's syntax depends on its version)."""

from __future__ import annotations

import hashlib
import os
import sys
from typing import Optional

from .. import __version__

_TOOL_KEY: Optional[str] = None
PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tool_key() -> str:
    """A digest of the tool's own code and of the interpreter running it: any change to a rule, the
    model or the engine (an upgrade, an edit in a development checkout), and another Python version
    or implementation, makes every earlier record and cache entry stale."""
    global _TOOL_KEY
    if _TOOL_KEY is None:
        h = hashlib.blake2b(digest_size=8)
        h.update(repr((sys.implementation.name, sys.version, sys.hexversion)).encode("utf-8", "surrogatepass"))
        for dirpath, dirnames, filenames in os.walk(PACKAGE_DIR):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            for name in sorted(filenames):
                if name.endswith(".py"):
                    full = os.path.join(dirpath, name)
                    h.update(os.path.relpath(full, PACKAGE_DIR).encode("utf-8", "surrogatepass") + b"\0")
                    try:
                        with open(full, "rb") as fh:
                            h.update(fh.read())
                    except OSError:
                        h.update(b"?")
        _TOOL_KEY = h.hexdigest()
    return _TOOL_KEY


def version_dir(cache_dir: str, layer: str) -> str:
    """The folder of one layer's files (``layer``: its format) in a cache directory."""
    return os.path.join(cache_dir, f"v{__version__}-{layer}-{tool_key()}")


def default_cache_dir() -> str:
    env = os.environ.get("ASTACK_LINT_CACHE_DIR")
    if env:
        return env
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or os.path.expanduser("~\\AppData\\Local")
        return os.path.join(base, "astack-lint", "Cache")
    if sys.platform == "darwin":
        return os.path.expanduser("~/Library/Caches/astack-lint")
    return os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "astack-lint")
