"""LibCST visitors: the base of every rule's collector, and the one batched traversal that runs all
the collectors of a file.

A rule that needs the concrete tree (exact token positions, text for a fix) declares a
``RuleCollector``; ``RuleCollector.collect_all`` parses a file once and runs every collector in one
batched traversal, after a ``ScopeTracker`` that keeps the current scope's qualified name (the
names the core facts use). The engine reaches LibCST only through the collector classes of the
rules it loads, so a run that loads no rule (a replayed result) never imports LibCST.
"""

from __future__ import annotations

from _ast import PyCF_ONLY_AST
from typing import Any, Dict, List, Mapping, Optional, Set, Tuple

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from ..model.facts import MAX_EXPR_DEPTH, Expr, FileFacts
from ..results import AnalysisError

# ---------------------------------------------------------------------------------------------
# expression summaries


def dotted_name(node: cst.BaseExpression) -> Optional[str]:
    parts: List[str] = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if isinstance(node, cst.Name):
        parts.append(node.value)
        return ".".join(reversed(parts))
    return None


def string_value(node: cst.BaseExpression) -> Optional[str]:
    if isinstance(node, (cst.SimpleString, cst.ConcatenatedString)):
        try:
            value = node.evaluated_value
        except Exception:  # f-strings inside a concatenation, odd prefixes
            return None
        return value if isinstance(value, str) else None
    return None


class Summarizer:
    def __init__(self, pos) -> None:
        self._pos = pos  # node -> (line, col)

    def __call__(self, node: Optional[cst.CSTNode], depth: int = 0) -> Optional[Expr]:
        if node is None:
            return None
        try:
            line, col = self._pos(node)
        except Exception:
            line, col = 0, 0
        if depth > MAX_EXPR_DEPTH:
            return Expr("other", line=line, col=col)
        d = depth + 1
        dotted = dotted_name(node) if isinstance(node, (cst.Name, cst.Attribute)) else None
        if dotted is not None:
            if dotted in ("True", "False", "None"):
                return Expr("const", {"True": True, "False": False, "None": None}[dotted], line=line, col=col)
            return Expr("name", dotted, line=line, col=col)
        if isinstance(node, cst.Attribute):
            return Expr("attr", self(node.value, d), (node.attr.value,), line=line, col=col)
        s = string_value(node)
        if s is not None:
            return Expr("str", s, line=line, col=col)
        if isinstance(node, cst.Call):
            args, kwargs = self.call_args(node.args, d)
            return Expr("call", self(node.func, d), args, kwargs, line=line, col=col)
        if isinstance(node, cst.Subscript):
            idx = []
            for el in node.slice:
                if isinstance(el.slice, cst.Index):
                    idx.append(self(el.slice.value, d))
                else:
                    idx.append(Expr("other"))
            return Expr("sub", self(node.value, d), tuple(idx), line=line, col=col)
        if isinstance(node, (cst.List, cst.Tuple, cst.Set)):
            items = []
            for el in node.elements:
                if isinstance(el, cst.StarredElement):
                    items.append(Expr("star", self(el.value, d), ("*",), line=line, col=col))
                else:
                    items.append(self(el.value, d))
            return Expr("seq", None, tuple(items), line=line, col=col)
        if isinstance(node, cst.Dict):
            pairs = []
            for el in node.elements:
                if isinstance(el, cst.DictElement):
                    pairs.append((self(el.key, d), self(el.value, d)))
            return Expr("dict", None, (), tuple(pairs), line=line, col=col)
        if isinstance(node, cst.Await):
            return Expr("await", self(node.expression, d), line=line, col=col)
        if isinstance(node, (cst.ListComp, cst.SetComp, cst.GeneratorExp)):
            return Expr("comp", self(node.elt, d), line=line, col=col)
        if isinstance(node, cst.DictComp):
            return Expr("comp", self(node.value, d), line=line, col=col)
        if isinstance(node, cst.IfExp):
            return Expr("either", None, (self(node.body, d), self(node.orelse, d)), line=line, col=col)
        if isinstance(node, cst.BooleanOperation):
            # ``a or b or c`` is one operation of three values, as CPython's ast has it
            values: List[cst.BaseExpression] = []
            cur: cst.BaseExpression = node
            while (isinstance(cur, cst.BooleanOperation) and type(cur.operator) is type(node.operator)
                   and (cur is node or not cur.lpar)):
                values.insert(0, cur.right)
                cur = cur.left
            values.insert(0, cur)
            return Expr("either", None, tuple(self(v, d) for v in values), line=line, col=col)
        if isinstance(node, cst.Integer):
            try:
                return Expr("const", int(node.value, 0), line=line, col=col)
            except ValueError:
                return Expr("other", line=line, col=col)
        return Expr("other", line=line, col=col)

    def call_args(self, args, depth: int) -> Tuple[tuple, tuple]:
        pos: List[Expr] = []
        kw: List[Tuple[str, Expr]] = []
        for arg in args:
            value = self(arg.value, depth)
            if arg.keyword is not None:
                kw.append((arg.keyword.value, value))
            elif arg.star:
                if arg.star == "**":
                    kw.append(("**", value))
                else:
                    pos.append(Expr("star", value, ("*",), line=value.line, col=value.col))
            else:
                pos.append(value)
        return tuple(pos), tuple(kw)


# ---------------------------------------------------------------------------------------------
# the core collector


class FileContext:
    """Shared state of one file's traversal: rule collectors read the current scope from here."""

    def __init__(self, facts: FileFacts, wrapper_module: cst.Module) -> None:
        self.facts = facts
        self.module = wrapper_module
        self.scope_stack: List[Tuple[str, str]] = []  # (qualname, "function" | "class")
        self.qualnames: Dict[int, str] = {}  # id(FunctionDef/ClassDef) -> qualname

    @property
    def scope(self) -> str:
        return self.scope_stack[-1][0] if self.scope_stack else ""

    def qualname_for(self, name: str) -> str:
        return f"{self.scope}.{name}" if self.scope else name

    def enclosing_class(self) -> Optional[str]:
        """The class whose method we are directly in, if any."""
        if len(self.scope_stack) >= 2 and self.scope_stack[-1][1] == "function" and self.scope_stack[-2][1] == "class":
            return self.scope_stack[-2][0]
        return None


_VISITOR_NAMES: Dict[type, Tuple[str, ...]] = {}


class FastBatchable:
    """LibCST's ``get_visitors`` inspects every member of the visitor on every file; the method
    names only depend on the class, so look them up once per class."""

    def get_visitors(self) -> Dict[str, Any]:
        cls = type(self)
        names = _VISITOR_NAMES.get(cls)
        if names is None:
            found = []
            for name in dir(cls):
                if name.startswith(("visit_", "leave_")):
                    attr = getattr(cls, name, None)
                    if callable(attr) and not getattr(attr, "_is_no_op", False):
                        found.append(name)
            names = _VISITOR_NAMES[cls] = tuple(found)
        return {name: getattr(self, name) for name in names}


class ScopeTracker(FastBatchable, cst.BatchableCSTVisitor):
    """Keeps ``FileContext``'s scope for the rule collectors in a LibCST traversal. It runs first in
    the batch, so a collector's ``visit_FunctionDef`` already sees the function's own scope, and its
    ``leave_FunctionDef`` the enclosing one. Qualnames are the core facts' (``model/collect.py``)."""

    def __init__(self, ctx: FileContext) -> None:
        super().__init__()
        self.ctx = ctx

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        ctx = self.ctx
        qualname = ctx.qualname_for(node.name.value)
        ctx.qualnames[id(node)] = qualname
        ctx.scope_stack.append((qualname, "function"))

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.ctx.scope_stack.pop()

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        ctx = self.ctx
        qualname = ctx.qualname_for(node.name.value)
        ctx.qualnames[id(node)] = qualname
        ctx.scope_stack.append((qualname, "class"))

    def leave_ClassDef(self, node: cst.ClassDef) -> None:
        self.ctx.scope_stack.pop()


class RuleCollector(FastBatchable, cst.BatchableCSTVisitor):
    """Base for a rule's per-file visitor. Put what the rule needs later into ``self.data``."""

    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, ctx: FileContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.data: Any = []

    def pos(self, node: cst.CSTNode) -> Tuple[int, int]:
        start = self.get_metadata(PositionProvider, node).start
        return start.line, start.column

    def range(self, node: cst.CSTNode) -> Tuple[int, int, int, int]:
        r = self.get_metadata(PositionProvider, node)
        return r.start.line, r.start.column, r.end.line, r.end.column

    def code_for(self, node: cst.CSTNode) -> str:
        return self.ctx.module.code_for_node(node)

    @staticmethod
    def collect_all(path: str, text: str, collectors: Mapping[str, type]) -> Dict[str, Any]:
        """Parse ``text`` once with LibCST and run every collector (rule code -> collector class) in
        one batched traversal: what each recorded, by rule code. Raises AnalysisError when LibCST
        cannot parse or traverse the file. Run it under a high recursion limit, in a thread with a
        large stack (the engine does: ``engine/parse.py``)."""
        try:
            module = cst.parse_module(text)
        except (cst.ParserSyntaxError, cst.CSTValidationError) as exc:  # the latter: two bare excepts
            raise _syntax_error(path, text, exc) from None
        except RecursionError:
            raise AnalysisError("too deeply nested to parse") from None
        ctx = FileContext(FileFacts(path), module)
        visitors: List[Any] = [ScopeTracker(ctx)]
        by_code = []
        for code, collector in collectors.items():
            v = collector(ctx)
            by_code.append((code, v))
            visitors.append(v)
        try:
            MetadataWrapper(module, unsafe_skip_copy=True).visit_batched(visitors)
        except RecursionError:
            raise AnalysisError("too deeply nested to analyse") from None
        except Exception as exc:
            # LibCST's position metadata turns a RecursionError into a KeyError (whose str() is the
            # repr of a node: the whole deep tree)
            if _from_recursion(exc):
                raise AnalysisError("too deeply nested to analyse") from None
            raise
        return {code: v.data for code, v in by_code}


def _from_recursion(exc: BaseException) -> bool:
    """Whether a RecursionError is somewhere in the chain (one KeyError per level unwound)."""
    seen: Set[int] = set()
    cur: Optional[BaseException] = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, RecursionError):
            return True
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return False


def _syntax_error(path: str, text: str, exc: Exception) -> AnalysisError:
    """Why LibCST refused a file: CPython's verdict when CPython refuses it too, else LibCST's."""
    try:
        compile(text, path, "exec", PyCF_ONLY_AST, dont_inherit=True)
    except SyntaxError as py_exc:
        msg = py_exc.msg or "invalid syntax"
        return AnalysisError(f"syntax error: {msg}", py_exc.lineno or 1, py_exc.offset or 1)
    except (ValueError, RecursionError, MemoryError) as py_exc:  # NUL bytes, too deep
        return AnalysisError(f"syntax error: {py_exc}")
    try:  # some errors only the compiler reports (a bare except: before another handler)
        compile(text, path, "exec", dont_inherit=True)
    except SyntaxError as py_exc:
        return AnalysisError(f"syntax error: {py_exc.msg or 'invalid syntax'}", py_exc.lineno or 1, py_exc.offset or 1)
    except (ValueError, RecursionError, MemoryError):
        pass
    line = getattr(exc, "raw_line", None) or getattr(exc, "editor_line", None)
    col = getattr(exc, "raw_column", None)
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else "parse error"
    return AnalysisError(
        f"LibCST cannot parse this file, though Python accepts it ({first}); it was not linted",
        line,
        (col + 1) if isinstance(col, int) else None,
    )
