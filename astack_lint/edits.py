"""Building a fix's edits from LibCST nodes.

A rule computes its fix in its Collector, while the tree is there (``check`` only sees facts), and
keeps the edits with its candidates; ``check`` attaches the ``Fix`` when it reports. Edits are
``rule.Edit(start=(line, col), end=(line, col), text)``: 1-based lines, 0-based columns, counted in
the decoded text the way LibCST counts them (``\\r\\n``, ``\\r`` and ``\\n`` end a line).

The helpers here only ever touch the text of the construct being fixed: every other byte of the
file, comments and formatting included, stays as it is (``fixes.py`` applies the edits, re-parses
the result and refuses to write a file that does not parse).
"""

from __future__ import annotations

import re
from typing import Dict, List, Optional, Tuple

import libcst as cst
from libcst.metadata import PositionProvider

from .rule import Edit, RuleCollector
from .source import SourceError, read_source

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
        import bisect

        i = bisect.bisect_right(self.starts, offset) - 1
        return i + 1, offset - self.starts[i]

    def slice(self, start: Pos, end: Pos) -> str:
        return self.text[self.offset(start) : self.offset(end)]


# ---------------------------------------------------------------------------------------------
# texts a fix run holds in memory (fixes.py): rules that look at other files' text see those


_TEXT_OVERRIDES: Dict[str, str] = {}


def project_text(path: str) -> Optional[str]:
    """A project file's current text: the one a running ``--fix`` holds in memory, else the file's."""
    text = _TEXT_OVERRIDES.get(path)
    if text is not None:
        return text
    try:
        return read_source(path).text
    except SourceError:
        return None


# ---------------------------------------------------------------------------------------------
# in a collector


class NodeText:
    """Positions and text around nodes, for one collector's file."""

    def __init__(self, collector: RuleCollector) -> None:
        self.c = collector
        ctx = collector.ctx
        lines = ctx.__dict__.get("_source_lines")
        if lines is None:
            lines = ctx.__dict__["_source_lines"] = SourceLines(ctx.module.code)
        self.lines: SourceLines = lines
        self.newline: str = ctx.module.default_newline

    def start(self, node: cst.CSTNode) -> Pos:
        p = self.c.get_metadata(PositionProvider, node).start
        return p.line, p.column

    def end(self, node: cst.CSTNode) -> Pos:
        p = self.c.get_metadata(PositionProvider, node).end
        return p.line, p.column

    def before(self, pos: Pos) -> str:
        """The text of pos's line before it."""
        return self.lines.content(pos[0])[: pos[1]]

    def after(self, pos: Pos) -> str:
        """The text of pos's line from it on (without the line ending)."""
        return self.lines.content(pos[0])[pos[1] :]

    def next_line(self, line: int) -> Optional[Pos]:
        """The start of the line after ``line``; None when ``line`` is the last and has no ending."""
        if self.lines.ending(line):
            return line + 1, 0
        return None


def _blank_or_comment(text: str) -> bool:
    s = text.strip()
    return not s or s.startswith("#")


def remove_arg(nt: NodeText, call: cst.Call, index: int) -> Optional[Tuple[Edit, ...]]:
    """Edits that drop ``call.args[index]`` with its comma, leaving every other argument, comment
    and line of the call as it is. An argument alone on its line(s) goes with its line (and a
    comment on that line, which is about it)."""
    args = call.args
    if not 0 <= index < len(args):
        return None
    a = args[index]
    s, e = nt.start(a), nt.end(a)
    comma = a.comma if isinstance(a.comma, cst.Comma) else None
    c = nt.end(comma) if comma is not None else e
    nxt = args[index + 1] if index + 1 < len(args) else None
    prev = args[index - 1] if index > 0 else None
    prev_comma = prev.comma if prev is not None and isinstance(prev.comma, cst.Comma) else None
    # alone on its line(s): drop the lines
    if not nt.before(s).strip() and _blank_or_comment(nt.after(c)):
        nl = nt.next_line(c[0])
        if nl is not None:
            return (Edit((s[0], 0), nl, ""),)
    if nxt is not None:
        ns = nt.start(nxt)
        if ns[0] == c[0]:  # the next argument follows on the same line
            return (Edit(s, ns, ""),)
        # the next argument is on a later line: drop from the previous comma (same line) to our comma
        if prev_comma is not None and nt.end(prev_comma)[0] == s[0]:
            return (Edit(nt.end(prev_comma), c, ""),)
        return (Edit(s, c, ""),)
    if comma is not None:  # last, with a trailing comma
        if prev_comma is not None and nt.end(prev_comma)[0] == s[0]:
            return (Edit(nt.end(prev_comma), c, ""),)
        return (Edit(s, c, ""),)
    # last, without a comma: drop the previous comma too when it is on our line
    if prev_comma is not None:
        ps = nt.start(prev_comma)
        if ps[0] == s[0] and "#" not in nt.lines.slice(ps, s):
            return (Edit(ps, e, ""),)
    return (Edit(s, e, ""),)


def unwrap_call(nt: NodeText, outer_arg: cst.Arg, inner: cst.Call) -> Optional[Tuple[Edit, ...]]:
    """Edits that replace the argument ``Wrapper(X, a, k=v)`` (``inner``, the value of
    ``outer_arg``) by its own arguments ``X, a, k=v``: the head ``Wrapper(`` and the closing
    parenthesis go, the arguments and any comment among them stay. None when that cannot be done
    cleanly (no arguments, parenthesized)."""
    if not inner.args or inner.lpar or inner.rpar:
        return None
    first, last = inner.args[0], inner.args[-1]
    m_start, m_end = nt.start(inner), nt.end(inner)
    f_start = nt.start(first)
    edits: List[Edit] = []
    # head: "Wrapper(" and what follows it up to the first argument
    head = nt.lines.slice(m_start, f_start)
    paren = nt.end(inner.func)
    paren_text = nt.lines.slice(paren, f_start)
    k = paren_text.find("(")
    if k < 0 or paren_text[:k].strip():
        return None
    after_paren = nt.lines.position(nt.lines.offset(paren) + k + 1)
    if "#" in head:
        edits.append(Edit(m_start, after_paren, ""))
    elif NEWLINE.search(head):
        if not nt.before(m_start).strip():
            edits.append(Edit((m_start[0], 0), (f_start[0], 0), ""))
        else:
            edits.append(Edit(m_start, after_paren, ""))
    else:
        edits.append(Edit(m_start, f_start, ""))
    # tail: from the last argument (with its comma) to the closing parenthesis
    inner_comma = last.comma if isinstance(last.comma, cst.Comma) else None
    t0 = nt.end(inner_comma) if inner_comma is not None else nt.end(last)
    tail = nt.lines.slice(t0, m_end)
    if "#" in tail:
        # keep the comment: drop from the last line ending before the parenthesis
        off0 = nt.lines.offset(t0)
        endings = list(NEWLINE.finditer(tail))
        if not endings:
            return None
        edits.append(Edit(nt.lines.position(off0 + endings[-1].start()), m_end, ""))
    else:
        edits.append(Edit(t0, m_end, ""))
    # one trailing comma is enough
    outer_comma = outer_arg.comma if isinstance(outer_arg.comma, cst.Comma) else None
    if inner_comma is not None and outer_comma is not None:
        edits.append(Edit(nt.start(outer_comma), nt.end(outer_comma), ""))
    return tuple(edits)


def _conflict(a: Tuple[int, int], b: Tuple[int, int]) -> bool:
    """Two spans (start, end) conflict when they overlap or start at the same place (then the
    order of the two edits would be arbitrary)."""
    return a[0] == b[0] or (a[0] < b[1] and b[0] < a[1])


def spans_conflict(spans: List[Tuple[int, int]]) -> bool:
    spans = sorted(spans)
    return any(_conflict(spans[i], spans[i + 1]) for i in range(len(spans) - 1))


def apply_edits(text: str, edits: Tuple[Edit, ...]) -> str:
    """The text with the edits applied (ValueError if one is outside the text or two conflict)."""
    lines = SourceLines(text)
    spans = [(lines.offset(e.start), lines.offset(e.end), e.text) for e in edits]
    if any(s > e for s, e, _t in spans) or spans_conflict([(s, e) for s, e, _t in spans]):
        raise ValueError("edits conflict")
    for s, e, t in sorted(spans, reverse=True):
        text = text[:s] + t + text[e:]
    return text
