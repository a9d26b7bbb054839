"""Reading source files the way Python does: PEP 263 coding cookie, UTF-8 BOM."""

from __future__ import annotations

import io
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


def read_source(path: str) -> Source:
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except IsADirectoryError:
        raise SourceError("is a directory, not a file") from None
    except OSError as exc:
        raise SourceError(f"cannot read: {exc.strerror or exc}") from None
    return decode(raw)
