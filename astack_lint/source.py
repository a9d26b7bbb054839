"""Reading source files the way Python does: PEP 263 coding cookie, UTF-8 BOM."""

from __future__ import annotations

import io
import os
import stat
import tokenize
from typing import NamedTuple


class SourceError(Exception):
    """A file that cannot be read or decoded; the message is one line, without the path."""


class Source(NamedTuple):
    text: str  # decoded, without the BOM
    encoding: str  # as detected ("utf-8", "latin-1", ...)
    bom: bool
    raw: bytes


def decode(raw: bytes) -> Source:
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
    except SyntaxError as exc:
        msg = exc.msg if hasattr(exc, "msg") else str(exc)
        if not msg.startswith("invalid or missing encoding declaration"):
            raise SourceError(f"cannot decode: {msg}") from None
        encoding = "utf-8"  # no cookie and not UTF-8 in the first two lines: say where, below
    bom = encoding == "utf-8-sig"
    try:
        text = raw.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        reason = exc.reason if isinstance(exc, UnicodeDecodeError) else str(exc)
        where = ""
        if isinstance(exc, UnicodeDecodeError):
            line = raw[: exc.start].count(b"\n") + 1
            where = f" (line {line}, byte {exc.start})"
        name = "utf-8" if encoding == "utf-8-sig" else encoding
        raise SourceError(f"cannot decode as {name}{where}: {reason}; add a PEP 263 coding comment") from None
    if text.startswith("\ufeff"):
        text = text[1:]
        bom = True
    return Source(text, "utf-8" if bom else encoding, bom, raw)


# Larger files are not linted (one error line): LibCST's tree takes a hundred times the source's
# size in memory, so a 50 MB generated module would take the machine down. Real modules stay far below.
MAX_FILE_BYTES = 10 * 1024 * 1024


def read_bytes(path: str) -> bytes:
    """A file's bytes; never blocks on a FIFO or a device (opened non-blocking, then only a regular
    file is read), never reads more than MAX_FILE_BYTES."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except IsADirectoryError:
        raise SourceError("is a directory, not a file") from None
    except OSError as exc:
        raise SourceError(f"cannot read: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise SourceError("is a directory, not a file")
        if not stat.S_ISREG(st.st_mode):
            raise SourceError(f"not a regular file ({_kind(st.st_mode)}); it was not read")
        if st.st_size > MAX_FILE_BYTES:
            raise SourceError(f"too large to lint ({st.st_size} bytes; the limit is {MAX_FILE_BYTES})")
        with os.fdopen(fd, "rb") as fh:
            fd = -1
            raw = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise SourceError(f"cannot read: {exc.strerror or exc}") from None
    finally:
        if fd >= 0:
            os.close(fd)
    if len(raw) > MAX_FILE_BYTES:  # it grew since
        raise SourceError(f"too large to lint (more than {MAX_FILE_BYTES} bytes)")
    return raw


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "a special file"


def read_source(path: str) -> Source:
    return decode(read_bytes(path))


def write_atomic(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory, renamed into
    place: readers see the old file or the new one, never half of one (the last writer wins)."""
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=os.path.dirname(path) or ".")
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


def content_digest(raw: bytes) -> str:
    """What identifies a file's content in the caches (the facts store, run records, fixes)."""
    import hashlib

    return hashlib.blake2b(raw, digest_size=16).hexdigest()
