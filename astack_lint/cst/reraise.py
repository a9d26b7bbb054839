"""The fix of AXS301 / AXS302: re-raise at the end of every path of a handler that can finish
without raising (an unsafe fix: it changes what the program does, on purpose).

For a handler around a dependency's ``yield`` that swallows the thrown exception:

- every ``return`` of the handler (outside nested functions) becomes a bare ``raise``: in a
  generator, returning from the handler ends the generator without the exception, which is the
  very swallowing the rules report. ``return None`` / ``return name`` / ``return <literal>`` become
  ``raise``; ``return <expression>`` becomes ``<expression>; raise`` (the value of a dependency's
  ``return`` is discarded anyway, its side effects are kept);
- if the end of the handler's body can still be reached, a bare ``raise`` is added as its last
  statement, at the indentation of its first statement (tabs stay tabs; the file's line ending is
  used); a handler whose last statement is ``pass`` gets ``raise`` in its place; a one-line
  handler (``except E: log()``) gets ``; raise``.
- no fix when a ``return`` sits in a handler or ``finally`` nested in the handler: a bare
  ``raise`` there would not re-raise the exception thrown at ``yield``.

The collector computes the edits while the tree is there and checks them: it applies them to the
function's text, parses it again and runs the same flow analysis; a fix after which the handler
would still finish without raising on some path (``continue`` / ``break`` out of the handler in a
loop, for instance) is not offered.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from ..results import Edit, Fix
from ..source import Pos, apply_edits, spans_conflict
from .edits import NodeText
from .flow import FlowCollector, analyse, own_nodes

_SIMPLE_VALUES = (cst.Name, cst.Integer, cst.Float, cst.Imaginary, cst.SimpleString, cst.Ellipsis)
HANDLERS = (cst.ExceptHandler, cst.ExceptStarHandler)
MESSAGE = "re-raise at the end of the handler (a bare `raise`)"


class ReraiseFixCollector(FlowCollector):
    """A ``FlowCollector`` that also keeps, per function, the fix of each handler that swallows the
    thrown exception: ``data["functions"][qualname]["fixes"] = {(line, col): edits}``."""

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        super().leave_FunctionDef(node)
        qualname = self.ctx.qualnames.get(id(node))
        rec = self.data["functions"].get(qualname) if qualname is not None else None
        if not rec or not rec.get("swallows"):
            return
        cache = self.ctx.__dict__.setdefault("_reraise_cache", {})
        if id(node) not in cache:
            try:
                cache[id(node)] = handler_fixes(NodeText(self), node, rec)
            except Exception:  # never let a fix stop the analysis
                cache[id(node)] = {}
        if cache[id(node)]:
            rec["fixes"] = cache[id(node)]


def reraise_fix(record: dict, line: int, col: int) -> Optional[Fix]:
    """The fix the collector kept for the handler at (line, col) of a dependency's record."""
    edits = (record.get("fixes") or {}).get((line, col))
    return Fix(tuple(edits), "unsafe", MESSAGE) if edits else None


def handler_fixes(nt: NodeText, fn: cst.FunctionDef, rec: dict) -> Dict[Pos, Tuple[Edit, ...]]:
    nodes = {nt.start(n): n for n in own_nodes(fn.body) if isinstance(n, HANDLERS)}
    out: Dict[Pos, Tuple[Edit, ...]] = {}
    for idx in sorted(rec["swallows"]):
        line, col = rec["handlers"][idx][:2]
        handler = nodes.get((line, col))
        if handler is None:
            continue
        returns = _return_edits(nt, handler)
        if returns is None:
            continue
        candidates = []
        if returns:
            candidates.append(returns)
        end = _end_edits(nt, handler)
        if end is not None:
            candidates.append(returns + end)
        for edits in candidates:
            if _well_formed(nt, edits) and _verified(nt, fn, edits, (line, col)):
                out[(line, col)] = edits
                break
    return out


def _return_edits(nt: NodeText, handler: cst.CSTNode) -> Optional[Tuple[Edit, ...]]:
    """``return`` -> ``raise``; None when a ``return`` sits in a nested handler or ``finally``
    (a bare ``raise`` there would raise another exception than the one thrown at ``yield``)."""
    nested = set()
    for n in own_nodes(handler.body):
        if isinstance(n, HANDLERS + (cst.Finally,)):
            nested.update(id(m) for m in own_nodes(n))
    edits: List[Edit] = []
    for n in own_nodes(handler.body):
        if not isinstance(n, cst.Return):
            continue
        if id(n) in nested:
            return None
        v = n.value
        if v is None or (isinstance(v, _SIMPLE_VALUES) and not v.lpar):
            edits.append(Edit(nt.start(n), nt.end(n), "raise"))
        else:
            edits.append(Edit(nt.start(n), nt.start(v), ""))
            edits.append(Edit(nt.end(v), nt.end(v), "; raise"))
    return tuple(edits)


def _end_edits(nt: NodeText, handler: cst.CSTNode) -> Optional[Tuple[Edit, ...]]:
    body = handler.body
    if isinstance(body, cst.SimpleStatementSuite):
        last = body.body[-1]
        if isinstance(last, (cst.Return, cst.Raise)):
            return ()
        if isinstance(last, cst.Pass):
            return (Edit(nt.start(last), nt.end(last), "raise"),)
        return (Edit(nt.end(last), nt.end(last), "; raise"),)
    if not isinstance(body, cst.IndentedBlock) or not body.body:
        return None
    last_stmt = body.body[-1]
    if isinstance(last_stmt, cst.SimpleStatementLine):
        last = last_stmt.body[-1]
        if isinstance(last, (cst.Return, cst.Raise)):
            return ()
        if isinstance(last, cst.Pass):
            return (Edit(nt.start(last), nt.end(last), "raise"),)
    indent = nt.before(nt.start(body.body[0]))
    if indent.strip():
        return None
    line = nt.end(last_stmt)[0]
    # comment lines indented deeper belong to the last (compound) statement: go past them
    while line < len(nt.lines):
        following = nt.lines.content(line + 1)
        stripped = following.lstrip()
        if stripped.startswith("#") and following.startswith(indent) and len(following) - len(stripped) > len(indent):
            line += 1
        else:
            break
    ending = nt.lines.ending(line) or nt.newline
    at = nt.next_line(line)
    if at is None:  # the last line of the file, without a line ending
        at = (line, len(nt.lines.content(line)))
        return (Edit(at, at, nt.newline + indent + "raise"),)
    return (Edit(at, at, indent + "raise" + ending),)


def _well_formed(nt: NodeText, edits: Tuple[Edit, ...]) -> bool:
    try:
        spans = [(nt.lines.offset(e.start), nt.lines.offset(e.end)) for e in edits]
    except ValueError:
        return False
    return not spans_conflict(spans)


def _verified(nt: NodeText, fn: cst.FunctionDef, edits: Tuple[Edit, ...], handler: Pos) -> bool:
    """Apply the edits to the function's own lines, parse them, and check with the flow analysis
    that the handler no longer finishes without raising."""
    lines = nt.lines
    first = nt.start(fn)[0]
    last = max([nt.end(fn)[0]] + [e.end[0] for e in edits])  # a raise may go after trailing comments
    prefix = lines.content(first)[: nt.start(fn)[1]]
    if prefix.strip():
        return False
    end_off = lines.starts[last] if last < len(lines.starts) else len(lines.text)
    text = lines.text[lines.starts[first - 1] : end_off]
    shifted = tuple(Edit((e.start[0] - first + 1, e.start[1]), (e.end[0] - first + 1, e.end[1]), e.text) for e in edits)
    try:
        text = apply_edits(text, shifted)
    except ValueError:
        return False
    shift = 0
    if prefix:  # a method or nested function: give it a block to be indented in
        text = "if True:" + nt.newline + text
        shift = 1
    try:
        module = cst.parse_module(text)
    except Exception:
        return False
    fn2 = next((n for n in _walk(module) if isinstance(n, cst.FunctionDef)), None)
    if fn2 is None:
        return False
    positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)

    def pos(n: cst.CSTNode) -> Pos:
        p = positions[n].start
        return p.line, p.column

    r = analyse(fn2, pos)
    target = (handler[0] - first + 1 + shift, handler[1])
    found = [i for i, h in enumerate(r.handlers) if (h.line, h.col) == target]
    return len(found) == 1 and found[0] not in r.swallows


def _walk(node: cst.CSTNode):
    stack = [node]
    while stack:
        n = stack.pop(0)
        yield n
        stack[:0] = list(n.children)
