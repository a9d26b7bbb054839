"""Building a fix's edits from LibCST nodes.

A rule computes its fix in its Collector, while the tree is there (``check`` only sees facts), and
keeps the edits with its candidates; ``check`` attaches the ``Fix`` when it reports. Edits are
``results.Edit(start=(line, col), end=(line, col), text)``: 1-based lines, 0-based columns, counted in
the decoded text the way LibCST counts them (``\\r\\n``, ``\\r`` and ``\\n`` end a line).

The helpers here only ever touch the text of the construct being fixed: every other byte of the
file, comments and formatting included, stays as it is (``engine/fix.py`` applies the edits, re-parses
the result and refuses to write a file that does not parse).
"""

from __future__ import annotations

from typing import List, Optional, Tuple

import libcst as cst
from libcst.metadata import PositionProvider

from ..results import Edit
from ..source import NEWLINE, Pos, SourceLines
from .visitors import RuleCollector

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
