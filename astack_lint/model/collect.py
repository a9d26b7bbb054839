"""The core facts of one file (``facts.py``'s records), collected from CPython's ``ast``.

Every parsed file feeds the project model with these facts: imports, functions, classes, bindings,
subscript assignments and calls. CPython's parser builds the tree in C at a fraction of LibCST's
cost, and gives positions for free, so the model of a large project costs little. LibCST is used
only where a rule needs a concrete tree (its collector, its fixes: see ``engine.rule_data_for``).

Positions are LibCST's (``PositionProvider``): 1-based lines, 0-based columns in characters, so
that a rule can join its collector's records with these facts by position. ``ast`` gives columns
in UTF-8 bytes and counts a parenthesized tuple's parentheses; both are converted.
tests/test_core_facts.py checks these facts against a LibCST collector over every fixture.
"""

from __future__ import annotations

import ast
import re
from typing import Any, Dict, List, Optional, Tuple

from .facts import (
    MAX_EXPR_DEPTH,
    Binding,
    CallFact,
    ClassFact,
    Expr,
    FileFacts,
    FunctionFact,
    ImportFact,
    Param,
    SubscriptAssign,
    comp_scope,
    receiver_of,
)

# nodes with nothing the facts need below them
_COMPS = (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)
_LEAVES = (ast.Name, ast.Constant, ast.expr_context, ast.operator, ast.boolop, ast.cmpop, ast.unaryop, ast.alias)
_NEWLINE = re.compile(r"\r\n|\r|\n")


class _Text:
    """Character columns from ``ast``'s byte offsets, and a look at the source around a node."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.ascii = text.isascii()
        self._lines: Optional[List[str]] = None
        self._encoded: Dict[int, bytes] = {}

    def line(self, lineno: int) -> str:
        if self._lines is None:
            self._lines = _NEWLINE.split(self.text)
        lines = self._lines
        return lines[lineno - 1] if 0 < lineno <= len(lines) else ""

    def lines_count(self) -> int:
        self.line(1)
        return len(self._lines)  # type: ignore[arg-type]

    def col(self, lineno: int, byte_col: int) -> int:
        if self.ascii or byte_col <= 0:
            return byte_col
        raw = self._encoded.get(lineno)
        if raw is None:
            raw = self._encoded[lineno] = self.line(lineno).encode("utf-8", "surrogatepass")
        if raw.isascii():
            return byte_col
        return len(raw[:byte_col].decode("utf-8", "surrogatepass"))

    def char(self, lineno: int, col: int) -> str:
        line = self.line(lineno)
        return line[col] if 0 <= col < len(line) else ""


def collect(path: str, text: str, tree: ast.Module) -> FileFacts:
    """The core facts of a file whose text parsed into ``tree``."""
    facts = FileFacts(path)
    _Collector(facts, _Text(text)).module(tree)
    facts.calls.sort(key=_call_order)
    facts.index()
    return facts


def _call_order(c: CallFact) -> Tuple[int, int, int, int]:
    # LibCST's traversal order (source order; an outer call before the call it starts with)
    return (c.call.line, c.call.col, -c.end_line, -c.end_col)


def _dotted(node: ast.AST) -> Optional[str]:
    parts: List[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


class _Collector:
    def __init__(self, facts: FileFacts, text: _Text) -> None:
        self.facts = facts
        self.text = text
        self.scopes: List[Tuple[str, str]] = []  # (qualname, "function" | "class")
        # per open function: [qualname, is_generator, returns, self_name, class qualname]; None: a lambda
        self.fns: List[Optional[list]] = []

    # positions ------------------------------------------------------------------------------
    def pos(self, node: Any) -> Tuple[int, int]:
        line = node.lineno
        col = self.text.col(line, node.col_offset)
        # LibCST's position of a tuple or a generator expression leaves out its own parentheses and
        # the blanks after them (a sole argument's parentheses are the call's)
        if isinstance(node, ast.Tuple):
            if self._parenthesized(node, line, col):
                return self._after_paren(line, col)
        elif isinstance(node, ast.GeneratorExp) and self.text.char(line, col) == "(":
            return self._after_paren(line, col)
        return line, col

    def _after_paren(self, line: int, col: int) -> Tuple[int, int]:
        """The first token after the ``(`` at (line, col): blanks, comments and line breaks skipped."""
        col += 1
        last = len(self.text.text)  # an upper bound on the number of lines
        while line <= last:
            text = self.text.line(line)
            while col < len(text) and text[col] in " \t\f":
                col += 1
            if col < len(text) and text[col] != "#" and not (text[col] == "\\" and col == len(text) - 1):
                return line, col
            line, col = line + 1, 0
        return line, col

    def end(self, node: Any) -> Tuple[int, int]:
        line = node.end_lineno
        return line, self.text.col(line, node.end_col_offset)

    def _parenthesized(self, node: ast.Tuple, line: int, col: int) -> bool:
        if self.text.char(line, col) != "(":
            return False
        if not node.elts:
            return True
        first = node.elts[0]
        # ``(a), b`` starts with the first item's own parentheses: count them on both sides
        opened = self._count(line, col, first.lineno, self.text.col(first.lineno, first.col_offset), "(")
        el, ec = self.end(first)
        closed = 0
        line_text = self.text.line(el)
        while closed < opened:
            if ec >= len(line_text) or line_text[ec] == "#":  # on to the next line
                if el >= self.text.lines_count():
                    break
                el, ec = el + 1, 0
                line_text = self.text.line(el)
            elif line_text[ec] in ") \t\f\\":
                closed += line_text[ec] == ")"
                ec += 1
            else:
                break
        return opened > closed

    def _count(self, l1: int, c1: int, l2: int, c2: int, ch: str) -> int:
        if l1 == l2:
            return self.text.line(l1)[c1:c2].count(ch)
        n = self.text.line(l1)[c1:].count(ch)
        for ln in range(l1 + 1, l2):
            n += self.text.line(ln).count(ch)
        return n + self.text.line(l2)[:c2].count(ch)

    # scopes ---------------------------------------------------------------------------------
    @property
    def scope(self) -> str:
        return self.scopes[-1][0] if self.scopes else ""

    def qualname_for(self, name: str) -> str:
        return f"{self.scope}.{name}" if self.scope else name

    # expression summaries (facts.Summarizer's, from ast) ------------------------------------
    def summarize(self, node: Optional[ast.AST], depth: int = 0) -> Optional[Expr]:
        if node is None:
            return None
        try:
            line, col = self.pos(node)
        except Exception:
            line, col = 0, 0
        if depth > MAX_EXPR_DEPTH:
            return Expr("other", line=line, col=col)
        d = depth + 1
        if isinstance(node, (ast.Name, ast.Attribute)):
            dotted = _dotted(node)
            if dotted is not None:
                return Expr("name", dotted, line=line, col=col)
            return Expr("attr", self.summarize(node.value, d), (node.attr,), line=line, col=col)  # type: ignore[union-attr]
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, str):
                return Expr("str", value, line=line, col=col)
            if value is None or isinstance(value, bool):
                return Expr("const", value, line=line, col=col)
            if isinstance(value, int):
                return Expr("const", value, line=line, col=col)
            return Expr("other", line=line, col=col)
        if isinstance(node, ast.Call):
            args, kwargs = self.call_args(node, d)
            return Expr("call", self.summarize(node.func, d), args, kwargs, line=line, col=col)
        if isinstance(node, ast.Subscript):
            index = node.slice
            if isinstance(index, ast.Tuple) and not self._parenthesized(index, *self._raw_pos(index)):
                items = index.elts
            else:
                items = [index]
            idx = []
            for el in items:
                if isinstance(el, ast.Slice):
                    idx.append(Expr("other"))
                elif isinstance(el, ast.Starred):  # x[*a] (PEP 646): LibCST keeps the value
                    idx.append(self.summarize(el.value, d))
                else:
                    idx.append(self.summarize(el, d))
            return Expr("sub", self.summarize(node.value, d), tuple(idx), line=line, col=col)
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            items = []
            for el in node.elts:
                if isinstance(el, ast.Starred):
                    items.append(Expr("star", self.summarize(el.value, d), ("*",), line=line, col=col))
                else:
                    items.append(self.summarize(el, d))
            return Expr("seq", None, tuple(items), line=line, col=col)
        if isinstance(node, ast.Dict):
            pairs = []
            for key, value in zip(node.keys, node.values):
                if key is not None:  # ``**other`` is left out
                    pairs.append((self.summarize(key, d), self.summarize(value, d)))
            return Expr("dict", None, (), tuple(pairs), line=line, col=col)
        if isinstance(node, ast.Await):
            return Expr("await", self.summarize(node.value, d), line=line, col=col)
        if isinstance(node, _COMPS):
            item = node.value if isinstance(node, ast.DictComp) else node.elt
            return Expr("comp", self.summarize(item, d), line=line, col=col)
        if isinstance(node, ast.IfExp):
            return Expr("either", None, (self.summarize(node.body, d), self.summarize(node.orelse, d)), line=line, col=col)
        if isinstance(node, ast.BoolOp):
            return Expr("either", None, tuple(self.summarize(v, d) for v in node.values), line=line, col=col)
        return Expr("other", line=line, col=col)

    def _raw_pos(self, node: Any) -> Tuple[int, int]:
        return node.lineno, self.text.col(node.lineno, node.col_offset)

    def call_args(self, node: ast.Call, depth: int) -> Tuple[tuple, tuple]:
        pos: List[Expr] = []
        kw: List[Tuple[str, Expr]] = []
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                value = self.summarize(arg.value, depth)
                pos.append(Expr("star", value, ("*",), line=value.line, col=value.col))  # type: ignore[union-attr]
            else:
                pos.append(self.summarize(arg, depth))  # type: ignore[arg-type]
        for k in node.keywords:
            value = self.summarize(k.value, depth)
            kw.append((k.arg if k.arg is not None else "**", value))  # type: ignore[arg-type]
        return tuple(pos), tuple(kw)

    # traversal ------------------------------------------------------------------------------
    def module(self, tree: ast.Module) -> None:
        for stmt in tree.body:
            self.stmt(stmt)

    def stmts(self, body: List[ast.stmt]) -> None:
        for stmt in body:
            self.stmt(stmt)

    def stmt(self, node: ast.stmt) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self.function(node)
        elif isinstance(node, ast.ClassDef):
            self.klass(node)
        elif isinstance(node, ast.Import):
            self.import_(node)
        elif isinstance(node, ast.ImportFrom):
            self.import_from(node)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                self.bind(target, node.value)
            self.walk_children(node)
        elif isinstance(node, ast.AnnAssign):
            self.bind(node.target, node.value, node.annotation)
            self.walk_children(node)
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            if isinstance(node.target, ast.Name):
                line, col = self.pos(node.target)
                each = Expr("each", self.summarize(node.iter), line=line, col=col)
                self.facts.bindings.append(Binding(self.scope, node.target.id, each, None, line, col))
            self.walk_children(node)
        elif isinstance(node, ast.Return):
            fn = self.fns[-1] if self.fns else None
            if fn is not None and node.value is not None and len(fn[2]) < 8:
                fn[2].append(self.summarize(node.value))
            self.walk_children(node)
        else:
            self.walk_children(node)

    def walk_children(self, node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.stmt):
                self.stmt(child)
            else:
                self.expr(child)

    def expr(self, node: ast.AST, decorates: Optional[Tuple[str, str]] = None) -> None:
        """Calls, yields, awaits and lambdas anywhere below ``node``."""
        if isinstance(node, _LEAVES):
            return
        if isinstance(node, ast.Call):
            self.call(node, decorates)
            return
        if isinstance(node, (ast.Yield, ast.YieldFrom)):
            if self.fns and self.fns[-1] is not None:
                self.fns[-1][1] = True
        elif isinstance(node, ast.Lambda):
            self.fns.append(None)  # a yield in a lambda is not the enclosing function's
            try:
                self.walk_children(node)
            finally:
                self.fns.pop()
            return
        elif isinstance(node, ast.Await) and isinstance(node.value, ast.Call):
            self.call(node.value, None, awaited=True)
            return
        elif isinstance(node, _COMPS):
            self.comprehension(node)
            return
        self.walk_children(node)

    def comprehension(self, node: Any) -> None:
        """A comprehension's code runs in a scope of its own (``comp_scope``): each ``for`` target
        is bound there to each item of its iterable (in the order LibCST visits them: the items,
        then each ``for``)."""
        line, col = self.pos(node)
        self.scopes.append((comp_scope(self.scope, line, col), "comp"))
        try:
            for item in ((node.key, node.value) if isinstance(node, ast.DictComp) else (node.elt,)):
                self.expr(item)
            for gen in node.generators:
                if isinstance(gen.target, ast.Name):
                    tl, tc = self.pos(gen.target)
                    each = Expr("each", self.summarize(gen.iter), line=tl, col=tc)
                    self.facts.bindings.append(Binding(self.scope, gen.target.id, each, None, tl, tc))
                else:
                    self.expr(gen.target)
                self.expr(gen.iter)
                for cond in gen.ifs:
                    self.expr(cond)
        finally:
            self.scopes.pop()

    def call(self, node: ast.Call, decorates: Optional[Tuple[str, str]], awaited: bool = False) -> None:
        qualname, scope = decorates if decorates is not None else (None, self.scope)
        end_line, end_col = self.end(node)
        self.facts.calls.append(CallFact(scope, self.summarize(node), awaited, qualname, end_line, end_col))
        self.walk_children(node)

    def decorators(self, node: Any, qualname: str, outer: str) -> None:
        for dec in node.decorator_list:
            self.expr(dec, (qualname, outer) if isinstance(dec, ast.Call) else None)

    def function(self, node: Any) -> None:
        outer = self.scope
        qualname = self.qualname_for(node.name)
        cls = self.scopes[-1][0] if self.scopes and self.scopes[-1][1] == "class" else None
        a = node.args
        positional = [arg.arg for arg in list(a.posonlyargs) + list(a.args)]
        self_name = receiver_of(cls is not None, positional, (_dotted(d) for d in node.decorator_list))
        frame = [qualname, False, [], self_name, cls]
        self.fns.append(frame)
        self.scopes.append((qualname, "function"))
        try:
            # LibCST's order: decorators, parameters, return annotation, body (all in the function's scope)
            self.decorators(node, qualname, outer)
            for tp in getattr(node, "type_params", ()):  # def f[T: bound]() (3.12)
                self.expr(tp)
            for arg, default in self._params(a):
                if arg.annotation is not None:
                    self.expr(arg.annotation)
                if default is not None:
                    self.expr(default)
            if node.returns is not None:
                self.expr(node.returns)
            self.stmts(node.body)
        finally:
            self.scopes.pop()
            self.fns.pop()
        s = self.summarize
        params: List[Param] = []
        for arg, default, kind in self._param_kinds(a):
            params.append(Param(arg.arg, s(arg.annotation), s(default) if kind not in ("star", "starstar") else None, kind))
        line, col = self.pos(node)
        self.facts.functions[qualname] = FunctionFact(
            qualname=qualname,
            scope=outer,
            name=node.name,
            is_async=isinstance(node, ast.AsyncFunctionDef),
            is_generator=frame[1],
            params=tuple(params),
            decorators=tuple(s(d) for d in node.decorator_list),
            returns=tuple(frame[2]),
            class_qualname=cls,
            line=line,
            col=col,
            end_line=node.end_lineno,
        )

    @staticmethod
    def _param_kinds(a: ast.arguments) -> List[Tuple[ast.arg, Optional[ast.expr], str]]:
        positional = list(a.posonlyargs) + list(a.args)
        defaults: List[Optional[ast.expr]] = [None] * (len(positional) - len(a.defaults)) + list(a.defaults)
        out: List[Tuple[ast.arg, Optional[ast.expr], str]] = []
        for i, arg in enumerate(positional):
            out.append((arg, defaults[i], "posonly" if i < len(a.posonlyargs) else "pos"))
        for arg, default in zip(a.kwonlyargs, a.kw_defaults):
            out.append((arg, default, "kwonly"))
        if a.vararg is not None:
            out.append((a.vararg, None, "star"))
        if a.kwarg is not None:
            out.append((a.kwarg, None, "starstar"))
        return out

    def _params(self, a: ast.arguments) -> List[Tuple[ast.arg, Optional[ast.expr]]]:
        # in source order: positional, *args, keyword-only, **kwargs
        kinds = self._param_kinds(a)
        order = {"posonly": 0, "pos": 0, "star": 1, "kwonly": 2, "starstar": 3}
        return [(arg, default) for arg, default, kind in sorted(kinds, key=lambda k: order[k[2]])]

    def klass(self, node: ast.ClassDef) -> None:
        outer = self.scope
        qualname = self.qualname_for(node.name)
        line, col = self.pos(node)
        bases = tuple(self.summarize(b.value if isinstance(b, ast.Starred) else b) for b in node.bases)
        self.facts.classes[qualname] = ClassFact(qualname, outer, node.name, bases, line, col)  # type: ignore[arg-type]
        self.scopes.append((qualname, "class"))
        try:
            self.decorators(node, qualname, outer)
            for tp in getattr(node, "type_params", ()):
                self.expr(tp)
            for b in node.bases:
                self.expr(b)
            for k in node.keywords:
                self.expr(k.value)
            self.stmts(node.body)
        finally:
            self.scopes.pop()

    # imports --------------------------------------------------------------------------------
    def import_(self, node: ast.Import) -> None:
        line = node.lineno
        scope = self.scope
        for alias in node.names:
            full = alias.name
            if alias.asname is not None:
                self.facts.imports.append(ImportFact(scope, alias.asname, full, None, 0, line))
            else:
                head = full.split(".")[0]
                self.facts.imports.append(ImportFact(scope, head, head, None, 0, line))
                if "." in full:
                    # ``import a.b`` binds ``a`` but also makes ``a.b`` reachable
                    self.facts.imports.append(ImportFact(scope, full, full, None, 0, line))

    def import_from(self, node: ast.ImportFrom) -> None:
        line = node.lineno
        module = node.module or ""
        level = node.level or 0
        scope = self.scope
        if len(node.names) == 1 and node.names[0].name == "*":
            self.facts.imports.append(ImportFact(scope, "*", module, None, level, line))
            return
        for alias in node.names:
            local = alias.asname if alias.asname is not None else alias.name
            self.facts.imports.append(ImportFact(scope, local, module, alias.name, level, line))

    # bindings -------------------------------------------------------------------------------
    def bind(self, target: ast.expr, value: Optional[ast.expr], annotation: Optional[ast.expr] = None) -> None:
        if value is None:
            return
        scope = self.scope
        if isinstance(target, ast.Name):
            line, col = self.pos(target)
            self.facts.bindings.append(
                Binding(scope, target.id, self.summarize(value), self.summarize(annotation), line, col)  # type: ignore[arg-type]
            )
        elif isinstance(target, ast.Attribute):
            dotted = _dotted(target)
            if dotted is None:
                return
            line, col = self.pos(target)
            fn = self.fns[-1] if self.fns else None
            if fn is not None and fn[3] and dotted.split(".", 1)[0] == fn[3] and fn[4] is not None:
                # self.x = ... in a method: an attribute of the class's instances
                dotted = "self." + dotted.split(".", 1)[1]
                scope = fn[4]
            self.facts.bindings.append(
                Binding(scope, dotted, self.summarize(value), self.summarize(annotation), line, col)  # type: ignore[arg-type]
            )
        elif isinstance(target, ast.Subscript):
            line, col = self.pos(target)
            self.facts.subscript_assigns.append(
                SubscriptAssign(scope, self.summarize(target), self.summarize(value), line, col)  # type: ignore[arg-type]
            )
