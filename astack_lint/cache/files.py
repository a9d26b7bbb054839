"""The files every cache layer keeps: plain data that cannot run code when read, in private
directories, written atomically.

A cache file is ``MAGIC``, a digest of the payload, and the payload: ``marshal`` of plain data
only (None, bool, int, float, str, bytes, tuple, list, dict, set, frozenset). Loading it builds
those values and nothing else: no class is looked up, no function called (pickle would run any
callable a crafted file names). Named tuples are written as tagged tuples (``encode``) and rebuilt
only for classes of this package (``decode``).

Trust: a cache directory is created with mode 0700 (each missing component), files with 0600. A
directory owned by another user or writable by others, and a file that is not a regular file of
ours readable by us alone (a file from a checkout or an archive is 0644), are not used: one
warning, and the run goes on without that cache. A file that is missing, truncated, corrupt (its
digest does not match) or of the wrong shape is a miss, never an error.

Litter: a write goes to ``.tmp-PID-RANDOM`` in the same directory, renamed into place; one left by
a killed process (its PID is gone, or it is older than an hour) is removed by the next write.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import stat
import sys
import time
from typing import Any, Dict, Optional

MAGIC = b"astack-lint cache 1\n"
_DIGEST = 16
TMP_PREFIX = ".tmp-"
TMP_MAX_AGE = 3600  # seconds: a temporary file older than this was left by a killed run
MAX_FILE_BYTES = 1 << 30  # a cache file larger than this is not read
_warned = False
_checked: Dict[str, Optional[str]] = {}  # directory -> why it cannot be used (None: it can)


def warn(message: str) -> None:
    """One warning per process for every cache layer together."""
    global _warned
    if not _warned:
        _warned = True
        print(f"astack-lint: warning: {message}; running without a cache", file=sys.stderr)


def _euid() -> Optional[int]:
    return os.geteuid() if hasattr(os, "geteuid") else None


def _untrusted(st: os.stat_result, what: str, path: str) -> Optional[str]:
    uid = _euid()
    if uid is not None and st.st_uid != uid:
        return f"{what} {path} is owned by another user"
    if st.st_mode & 0o022:
        return f"{what} {path} is writable by others"
    return None


def private_dir(directory: str, create: bool = True) -> Optional[str]:
    """Make sure ``directory`` exists (creating each missing component with mode 0700) and can be
    trusted: None if so, else why not (the caller warns and does without the cache)."""
    directory = os.path.abspath(directory)
    if directory in _checked:
        return _checked[directory]
    reason: Optional[str] = None
    missing = []
    d = directory
    while not os.path.isdir(d):
        missing.append(d)
        parent = os.path.dirname(d)
        if parent == d:
            break
        d = parent
    if missing and not create:
        return "missing"
    try:
        for d in reversed(missing):
            try:
                os.mkdir(d, 0o700)
            except FileExistsError:
                pass
        st = os.lstat(directory)
        if stat.S_ISLNK(st.st_mode):
            st = os.stat(directory)
        if not stat.S_ISDIR(st.st_mode):
            reason = f"the cache directory {directory} is not a directory"
        else:
            reason = _untrusted(st, "the cache directory", directory)
    except OSError as exc:
        reason = f"cannot create the cache in {directory} ({exc.strerror or exc})"
    _checked[directory] = reason
    return reason


def usable(top: str, directory: str, create: bool = True) -> Optional[str]:
    """``private_dir`` of a cache directory ``top`` and of ``directory`` inside it."""
    return private_dir(top, create) or private_dir(directory, create)


def read(path: str) -> Any:
    """The plain data in a cache file; None when there is none that can be used (see the module
    docstring: a file not of ours or not private gives the one warning)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
                     | getattr(os, "O_BINARY", 0))
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_FILE_BYTES:
            return None
        uid = _euid()
        if (uid is not None and st.st_uid != uid) or st.st_mode & 0o077:
            warn(f"the cache file {path} is not private to this user (owner or mode)")
            return None
        with os.fdopen(fd, "rb") as fh:
            fd = -1
            raw = fh.read(MAX_FILE_BYTES + 1)
    except OSError:
        return None
    finally:
        if fd >= 0:
            os.close(fd)
    head = len(MAGIC) + _DIGEST
    if len(raw) < head or not raw.startswith(MAGIC):
        return None
    payload = raw[head:]
    if hashlib.blake2b(payload, digest_size=_DIGEST).digest() != raw[len(MAGIC):head]:
        return None
    try:
        return marshal.loads(payload)
    except Exception:  # truncated in the middle, or not marshal data at all
        return None


def write(path: str, value: Any) -> None:
    """Write plain data atomically, mode 0600 (raises OSError, or ValueError for data that is not
    plain)."""
    payload = marshal.dumps(value)
    data = MAGIC + hashlib.blake2b(payload, digest_size=_DIGEST).digest() + payload
    directory = os.path.dirname(path) or "."
    tmp = os.path.join(directory, f"{TMP_PREFIX}{os.getpid()}-{os.urandom(6).hex()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0),
                 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _sweep_tmp(directory)


_swept: set = set()


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, ValueError, OverflowError):
        return True  # someone else's process, or cannot tell: keep its file
    return True


def _sweep_tmp(directory: str) -> None:
    """Remove temporary files a killed run left in ``directory`` (once per process)."""
    if directory in _swept:
        return
    _swept.add(directory)
    now = time.time()
    try:
        with os.scandir(directory) as it:
            for entry in it:
                if not entry.name.startswith(TMP_PREFIX):
                    continue
                try:
                    pid = int(entry.name[len(TMP_PREFIX):].split("-", 1)[0])
                    if not _alive(pid) or now - entry.stat(follow_symlinks=False).st_mtime > TMP_MAX_AGE:
                        os.unlink(entry.path)
                except (ValueError, OSError):
                    continue
    except OSError:
        pass


# ---------------------------------------------------------------------------------------------
# named tuples as plain data

_TAG = ...  # a tuple starting with Ellipsis is a tagged one: (..., "module:Class", *fields)


def encode(value: Any) -> Any:
    """``value`` as plain data: named tuples of this package become tagged tuples; containers are
    walked. Raises ValueError for anything else that is not plain."""
    t = type(value)
    if value is None or t in (bool, int, float, str, bytes):
        return value
    if t is tuple:
        return tuple(encode(v) for v in value)
    if t is list:
        return [encode(v) for v in value]
    if t is dict:
        return {encode(k): encode(v) for k, v in value.items()}
    if t is set:
        return {encode(v) for v in value}
    if t is frozenset:
        return frozenset(encode(v) for v in value)
    if issubclass(t, tuple) and hasattr(t, "_fields") and t.__module__.startswith("astack_lint."):
        return (_TAG, f"{t.__module__}:{t.__qualname__}", *(encode(v) for v in value))
    raise ValueError(f"not plain data: {t.__name__}")


def _named(key: str) -> Any:
    """The named tuple class ``module:Class`` of this package, if that module is loaded (nothing is
    imported here)."""
    module, _, name = key.partition(":")
    if not module.startswith("astack_lint."):
        raise ValueError(key)
    cls = getattr(sys.modules.get(module), name, None)
    if not (isinstance(cls, type) and issubclass(cls, tuple) and hasattr(cls, "_fields")):
        raise ValueError(key)
    return cls


def decode(value: Any) -> Any:
    """The inverse of ``encode``; raises ValueError (or TypeError) on data it did not write."""
    t = type(value)
    if t is tuple:
        if value and value[0] is _TAG:
            key = value[1]
            items = tuple(decode(v) for v in value[2:])
            cls = _named(key)
            if len(items) != len(cls._fields):
                raise ValueError(key)
            return cls._make(items)
        return tuple(decode(v) for v in value)
    if t is list:
        return [decode(v) for v in value]
    if t is dict:
        return {decode(k): decode(v) for k, v in value.items()}
    if t is set:
        return {decode(v) for v in value}
    if t is frozenset:
        return frozenset(decode(v) for v in value)
    if value is None or t in (bool, int, float, str, bytes):
        return value
    raise ValueError(f"not plain data: {t.__name__}")
