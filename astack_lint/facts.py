"""Per-file facts: what one traversal of one file records for the project model.

Everything here is plain, picklable data (tuples and small classes), so that facts can be
cached and sent between processes. Nothing here knows about any rule.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple

import libcst as cst

MAX_EXPR_DEPTH = 24


class Expr(NamedTuple):
    """A compact summary of an expression.

    kind:
      ``name``  value = dotted name ("app.add_middleware")
      ``attr``  value = base Expr, args = (attribute,)   (attribute of a non-name, e.g. ``f().x``)
      ``str``   value = the string
      ``const`` value = int/float/bool/None literal
      ``call``  value = callee Expr, args = positional Exprs, kwargs = ((name, Expr), ...)
      ``sub``   value = subscripted Expr, args = index Exprs
      ``seq``   args = items (list, tuple, set)
      ``dict``  kwargs = ((key Expr, value Expr), ...)
      ``star``  value = the starred Expr (``*x`` in a call or list), args = ("*" or "**",)
      ``await`` value = awaited Expr
      ``each``  value = an iterable Expr: the value of a ``for`` loop's target is each of its items
      ``other`` anything else
    """

    kind: str
    value: Any = None
    args: tuple = ()
    kwargs: tuple = ()
    line: int = 0
    col: int = 0

    def kwarg(self, name: str) -> Optional["Expr"]:
        for key, value in self.kwargs:
            if key == name:
                return value
        return None

    @property
    def dotted(self) -> Optional[str]:
        return self.value if self.kind == "name" else None


OTHER = Expr("other")


class Param(NamedTuple):
    name: str
    annotation: Optional[Expr]
    default: Optional[Expr]
    kind: str  # "pos", "posonly", "kwonly", "star", "starstar"


class FunctionFact(NamedTuple):
    qualname: str  # "create_app", "Service.__call__", "outer.inner"
    scope: str  # the enclosing scope's qualname ("" for the module)
    name: str
    is_async: bool
    is_generator: bool
    params: Tuple[Param, ...]
    decorators: Tuple[Expr, ...]
    returns: Tuple[Expr, ...]  # the values of its return statements
    class_qualname: Optional[str]  # set for methods
    line: int
    col: int
    end_line: int


class ClassFact(NamedTuple):
    qualname: str
    scope: str
    name: str
    bases: Tuple[Expr, ...]
    line: int
    col: int


class ImportFact(NamedTuple):
    scope: str
    local: str  # the bound name ("m", "Y", or "a" for ``import a.b``); "*" for star imports
    module: str  # the module named in the statement (without the leading dots)
    name: Optional[str]  # the imported attribute for ``from m import name``; None for ``import m``
    level: int  # leading dots of a relative import
    line: int


class Binding(NamedTuple):
    """``name = value`` (or ``name: T = value``); ``self.x = v`` in a method is bound in the class scope
    under the name ``self.x``."""

    scope: str
    name: str
    value: Expr
    annotation: Optional[Expr]
    line: int
    col: int


class SubscriptAssign(NamedTuple):
    scope: str
    target: Expr  # a ``sub`` Expr
    value: Expr
    line: int
    col: int


class CallFact(NamedTuple):
    scope: str
    call: Expr  # a ``call`` Expr (carries the position)
    awaited: bool
    decorates: Optional[str]  # qualname of the function or class this call decorates
    end_line: int
    end_col: int


class FileFacts:
    """What the project model knows about one file."""

    def __init__(self, path: str, lines_hint: int = 0) -> None:
        self.path = path  # absolute path
        self.imports: List[ImportFact] = []
        self.functions: Dict[str, FunctionFact] = {}
        self.classes: Dict[str, ClassFact] = {}
        self.bindings: List[Binding] = []
        self.subscript_assigns: List[SubscriptAssign] = []
        self.calls: List[CallFact] = []
        # what rule collectors recorded (a LibCST traversal): None until collected, on first use
        # through ``rule_loader`` (set by the engine's store), since most files never need it
        self._rule_data: Optional[Dict[str, Any]] = None
        self.rule_loader: Optional[Callable[["FileFacts"], Dict[str, Any]]] = None
        # set when the rule collectors could not run (LibCST refused the file): (message, line, col)
        self.rule_error: Optional[Tuple[str, Optional[int], Optional[int]]] = None
        self.is_package_init = path.endswith("__init__.py")
        # derived lookup tables (rebuilt by index())
        self._scope_names: Dict[Tuple[str, str], List[Any]] = {}

    @property
    def rule_data(self) -> Dict[str, Any]:
        data = self._rule_data
        if data is None:
            loader = self.rule_loader
            data = self._rule_data = loader(self) if loader is not None else {}
        return data

    @rule_data.setter
    def rule_data(self, value: Dict[str, Any]) -> None:
        self._rule_data = value

    @property
    def has_rule_data(self) -> bool:
        return self._rule_data is not None

    def index(self) -> None:
        table: Dict[Tuple[str, str], List[Any]] = {}
        for imp in self.imports:
            table.setdefault((imp.scope, imp.local), []).append(imp)
        for fn in self.functions.values():
            table.setdefault((fn.scope, fn.name), []).append(fn)
            for p in fn.params:
                table.setdefault((fn.qualname, p.name), []).append(p)
        for cls in self.classes.values():
            table.setdefault((cls.scope, cls.name), []).append(cls)
        for b in self.bindings:
            table.setdefault((b.scope, b.name), []).append(b)
        self._scope_names = table

    def lookup(self, scope: str, name: str) -> List[Any]:
        return self._scope_names.get((scope, name), [])

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_scope_names"] = {}
        state["rule_loader"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.index()


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
    ``leave_FunctionDef`` the enclosing one. Qualnames are the core facts' (``core.py``)."""

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
