"""Source files as Python reads them (PEP 263 coding cookie, UTF-8 BOM), positions in their text as
LibCST counts them, and writing text safely."""

from __future__ import annotations

import bisect
import hashlib
import io
import os
import re
import stat
import tokenize
from typing import Any, List, NamedTuple, Tuple


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


def read_bytes(path: str, limit: int = MAX_FILE_BYTES, verb: str = "lint") -> bytes:
    """A file's bytes; never blocks on a FIFO or a device (opened non-blocking, then only a regular
    file is read), never reads more than ``limit`` bytes (a larger file is a SourceError)."""
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
        if st.st_size > limit:
            raise SourceError(f"too large to {verb} ({st.st_size} bytes; the limit is {limit})")
        with os.fdopen(fd, "rb") as fh:
            fd = -1
            raw = fh.read(limit + 1)
    except OSError as exc:
        raise SourceError(f"cannot read: {exc.strerror or exc}") from None
    finally:
        if fd >= 0:
            os.close(fd)
    if len(raw) > limit:  # it grew since
        raise SourceError(f"too large to {verb} (more than {limit} bytes)")
    return raw


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "a special file"


def read_source(path: str) -> Source:
    return decode(read_bytes(path))


def content_digest(raw: bytes) -> str:
    """What identifies a file's content in the caches (the facts store, run records, fixes)."""
    return hashlib.blake2b(raw, digest_size=16).hexdigest()


def write_text(stream: Any, text: str) -> None:
    """Write to a text stream, replacing what its encoding cannot hold rather than failing."""
    try:
        stream.write(text)
    except UnicodeEncodeError:
        encoding = getattr(stream, "encoding", None) or "ascii"
        stream.write(text.encode(encoding, "backslashreplace").decode(encoding))
    stream.flush()


# ---------------------------------------------------------------------------------------------
# positions in a text, as LibCST counts them, and edits between them

NEWLINE = re.compile(r"\r\n?|\n")
Pos = Tuple[int, int]


class SourceLines:
    """A text split into lines as LibCST numbers them: ``content(n)`` without the line ending,
    ``ending(n)`` the ending itself ("" on a last line without one)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts: List[int] = [0]
        self.ends: List[int] = []  # offset of each line's ending
        for m in NEWLINE.finditer(text):
            self.ends.append(m.start())
            self.starts.append(m.end())
        self.ends.append(len(text))

    def __len__(self) -> int:
        return len(self.starts)

    def content(self, n: int) -> str:
        if not 1 <= n <= len(self.starts):
            return ""
        return self.text[self.starts[n - 1] : self.ends[n - 1]]

    def ending(self, n: int) -> str:
        if not 1 <= n <= len(self.starts):
            return ""
        nxt = self.starts[n] if n < len(self.starts) else len(self.text)
        return self.text[self.ends[n - 1] : nxt]

    def offset(self, pos: Pos) -> int:
        """The offset of (line, col); raises ValueError for a position outside the text."""
        line, col = pos
        if not 1 <= line <= len(self.starts) or col < 0:
            raise ValueError(f"no position {pos} in the text")
        off = self.starts[line - 1] + col
        if off > self.ends[line - 1]:
            raise ValueError(f"no position {pos} in the text")
        return off

    def position(self, offset: int) -> Pos:
        """(line, col) of an offset."""
        i = bisect.bisect_right(self.starts, offset) - 1
        return i + 1, offset - self.starts[i]

    def slice(self, start: Pos, end: Pos) -> str:
        return self.text[self.offset(start) : self.offset(end)]


def _conflict(a: Tuple[int, int], b: Tuple[int, int]) -> bool:
    """Two spans (start, end) conflict when they overlap or start at the same place (then the
    order of the two edits would be arbitrary)."""
    return a[0] == b[0] or (a[0] < b[1] and b[0] < a[1])


def spans_conflict(spans: List[Tuple[int, int]]) -> bool:
    spans = sorted(spans)
    return any(_conflict(spans[i], spans[i + 1]) for i in range(len(spans) - 1))


def apply_edits(text: str, edits: Tuple[Any, ...]) -> str:
    """The text with the edits (``results.Edit``) applied (ValueError if one is outside the text
    or two conflict)."""
    lines = SourceLines(text)
    spans = [(lines.offset(e.start), lines.offset(e.end), e.text) for e in edits]
    if any(s > e for s, e, _t in spans) or spans_conflict([(s, e) for s, e, _t in spans]):
        raise ValueError("edits conflict")
    for s, e, t in sorted(spans, reverse=True):
        text = text[:s] + t + text[e:]
    return text
