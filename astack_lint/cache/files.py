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

Pruning (``prune``, at most once a day per cache directory): a file not used for ``MAX_AGE_DAYS``
is removed (a file that is read has its mtime refreshed once a day), then the oldest files until
the directory holds less than ``MAX_BYTES``; empty folders of other versions go with them.
``clean`` removes everything the linter keeps in a cache directory, and nothing else.
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
MAX_AGE_DAYS = 30
MAX_BYTES = 512 * 1024 * 1024
_DAY = 86400
PRUNE_STAMP = ".pruned"
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
        if time.time() - st.st_mtime > _DAY:  # used: not to be pruned (refreshed once a day)
            try:
                os.utime(path)
            except OSError:
                pass
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


def _ours(name: str) -> bool:
    """The entries of a cache directory that the linter made: one folder per version and layer
    (``keys.version_dir``), the replay records' folder, the pruning stamp."""
    return (name.startswith("v") and name.count("-") >= 2) or name in ("runs", PRUNE_STAMP)


def prune(top: str, now: Optional[float] = None) -> None:
    """See the module docstring; quiet on every error (another run may be pruning too)."""
    now = time.time() if now is None else now
    stamp = os.path.join(top, PRUNE_STAMP)
    try:
        if now - os.stat(stamp).st_mtime < _DAY:
            return
    except OSError:
        pass
    try:
        with open(stamp, "w"):
            pass
        os.chmod(stamp, 0o600)
        names = [n for n in os.listdir(top) if _ours(n) and n != PRUNE_STAMP]
    except OSError:
        return
    kept = []
    for name in names:
        d = os.path.join(top, name)
        try:
            with os.scandir(d) as it:
                entries = [(e.path, e.stat(follow_symlinks=False)) for e in it if e.is_file(follow_symlinks=False)]
        except OSError:
            continue
        for path, st in entries:
            old = now - st.st_mtime > (TMP_MAX_AGE if os.path.basename(path).startswith(TMP_PREFIX)
                                       else MAX_AGE_DAYS * _DAY)
            if old:
                _unlink(path)
            else:
                kept.append((st.st_mtime, st.st_size, path))
    total = sum(size for _, size, _ in kept)
    if total > MAX_BYTES:
        for _, size, path in sorted(kept):
            if total <= MAX_BYTES * 3 // 4:
                break
            _unlink(path)
            total -= size
    for name in names:
        try:
            os.rmdir(os.path.join(top, name))  # only once empty
        except OSError:
            pass


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def clean(top: str) -> int:
    """Remove what the linter keeps in the cache directory ``top`` (and ``top`` itself once empty);
    how many files were removed. Other entries of ``top`` are left alone."""
    removed = 0
    try:
        names = [n for n in os.listdir(top) if _ours(n)]
    except OSError:
        return 0
    for name in names:
        path = os.path.join(top, name)
        if os.path.isdir(path) and not os.path.islink(path):
            for entry in os.listdir(path):
                _unlink(os.path.join(path, entry))
                removed += 1
            try:
                os.rmdir(path)
            except OSError:
                pass
        else:
            _unlink(path)
    try:
        os.rmdir(top)
    except OSError:
        pass
    return removed


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
