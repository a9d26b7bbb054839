"""Per-file facts: what one traversal of one file records for the project model.

Everything here is plain, picklable data (tuples and small classes), so that facts can be
cached and sent between processes. Nothing here knows about any rule.
"""

from __future__ import annotations

from typing import Any, Dict, List, NamedTuple, Optional, Tuple

import libcst as cst
from libcst.metadata import PositionProvider

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
        self.rule_data: Dict[str, Any] = {}
        self.is_package_init = path.endswith("__init__.py")
        # derived lookup tables (rebuilt by index())
        self._scope_names: Dict[Tuple[str, str], List[Any]] = {}

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


class CoreCollector(FastBatchable, cst.BatchableCSTVisitor):
    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, ctx: FileContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.facts = ctx.facts
        self.summarize = Summarizer(self.pos)
        # per open function: [qualname, is_generator, returns, self_name]
        self._fn_stack: List[list] = []
        self._awaited_calls: set = set()
        self._decorator_calls: Dict[int, Tuple[str, str]] = {}

    def pos(self, node: cst.CSTNode) -> Tuple[int, int]:
        start = self.get_metadata(PositionProvider, node).start
        return start.line, start.column

    # scopes ---------------------------------------------------------------------------------
    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        ctx = self.ctx
        qualname = ctx.qualname_for(node.name.value)
        ctx.qualnames[id(node)] = qualname
        for dec in node.decorators:
            if isinstance(dec.decorator, cst.Call):
                self._decorator_calls[id(dec.decorator)] = (qualname, ctx.scope)
        self_name = None
        cls = ctx.scope_stack[-1][0] if ctx.scope_stack and ctx.scope_stack[-1][1] == "class" else None
        if cls is not None:
            ps = list(node.params.posonly_params) + list(node.params.params)
            is_static = any(dotted_name(d.decorator) == "staticmethod" for d in node.decorators)
            if ps and not is_static:
                self_name = ps[0].name.value
        self._fn_stack.append([qualname, False, [], self_name, cls, ctx.scope, node])
        ctx.scope_stack.append((qualname, "function"))

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        qualname, is_gen, returns, _self_name, cls, scope, _ = self._fn_stack.pop()
        self.ctx.scope_stack.pop()
        s = self.summarize
        params: List[Param] = []
        p = node.params
        for kind, seq in (("posonly", p.posonly_params), ("pos", p.params), ("kwonly", p.kwonly_params)):
            for prm in seq:
                params.append(
                    Param(prm.name.value, s(prm.annotation.annotation) if prm.annotation else None, s(prm.default), kind)
                )
        if isinstance(p.star_arg, cst.Param):
            prm = p.star_arg
            params.append(Param(prm.name.value, s(prm.annotation.annotation) if prm.annotation else None, None, "star"))
        if p.star_kwarg is not None:
            prm = p.star_kwarg
            params.append(Param(prm.name.value, s(prm.annotation.annotation) if prm.annotation else None, None, "starstar"))
        line, col = self.pos(node)
        end = self.get_metadata(PositionProvider, node).end.line
        self.facts.functions[qualname] = FunctionFact(
            qualname=qualname,
            scope=scope,
            name=node.name.value,
            is_async=node.asynchronous is not None,
            is_generator=is_gen,
            params=tuple(params),
            decorators=tuple(s(d.decorator) for d in node.decorators),
            returns=tuple(returns),
            class_qualname=cls,
            line=line,
            col=col,
            end_line=end,
        )

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        ctx = self.ctx
        qualname = ctx.qualname_for(node.name.value)
        ctx.qualnames[id(node)] = qualname
        for dec in node.decorators:
            if isinstance(dec.decorator, cst.Call):
                self._decorator_calls[id(dec.decorator)] = (qualname, ctx.scope)
        line, col = self.pos(node)
        self.facts.classes[qualname] = ClassFact(
            qualname, ctx.scope, node.name.value, tuple(self.summarize(a.value) for a in node.bases if not a.keyword), line, col
        )
        ctx.scope_stack.append((qualname, "class"))

    def leave_ClassDef(self, node: cst.ClassDef) -> None:
        self.ctx.scope_stack.pop()

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self._fn_stack.append(None)  # a yield in a lambda is not the enclosing function's

    def leave_Lambda(self, node: cst.Lambda) -> None:
        self._fn_stack.pop()

    # generator / return ---------------------------------------------------------------------
    def visit_Yield(self, node: cst.Yield) -> None:
        if self._fn_stack and self._fn_stack[-1] is not None:
            self._fn_stack[-1][1] = True

    def visit_Return(self, node: cst.Return) -> None:
        if self._fn_stack and self._fn_stack[-1] is not None and node.value is not None:
            if len(self._fn_stack[-1][2]) < 8:
                self._fn_stack[-1][2].append(self.summarize(node.value))

    # imports --------------------------------------------------------------------------------
    def visit_Import(self, node: cst.Import) -> None:
        line, _ = self.pos(node)
        for alias in node.names:
            full = dotted_name(alias.name) or ""
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                self.facts.imports.append(ImportFact(self.ctx.scope, alias.asname.name.value, full, None, 0, line))
            else:
                head = full.split(".")[0]
                self.facts.imports.append(ImportFact(self.ctx.scope, head, head, None, 0, line))
                if "." in full:
                    # ``import a.b`` binds ``a`` but also makes ``a.b`` reachable
                    self.facts.imports.append(ImportFact(self.ctx.scope, full, full, None, 0, line))

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        line, _ = self.pos(node)
        module = dotted_name(node.module) if node.module is not None else ""
        level = len(node.relative)
        if isinstance(node.names, cst.ImportStar):
            self.facts.imports.append(ImportFact(self.ctx.scope, "*", module or "", None, level, line))
            return
        for alias in node.names:
            name = dotted_name(alias.name) or ""
            local = name
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                local = alias.asname.name.value
            self.facts.imports.append(ImportFact(self.ctx.scope, local, module or "", name, level, line))

    # bindings -------------------------------------------------------------------------------
    def _bind_target(self, target: cst.BaseExpression, value: Optional[cst.BaseExpression], annotation=None) -> None:
        if value is None:
            return
        ctx = self.ctx
        if isinstance(target, cst.Name):
            line, col = self.pos(target)
            self.facts.bindings.append(
                Binding(ctx.scope, target.value, self.summarize(value), self.summarize(annotation), line, col)
            )
        elif isinstance(target, cst.Attribute):
            dotted = dotted_name(target)
            if dotted is None:
                return
            line, col = self.pos(target)
            scope = ctx.scope
            fn = self._fn_stack[-1] if self._fn_stack else None
            if fn is not None and fn[3] and dotted.split(".", 1)[0] == fn[3] and fn[4] is not None:
                # self.x = ... in a method: an attribute of the class's instances
                dotted = "self." + dotted.split(".", 1)[1]
                scope = fn[4]
            self.facts.bindings.append(Binding(scope, dotted, self.summarize(value), self.summarize(annotation), line, col))
        elif isinstance(target, cst.Subscript):
            line, col = self.pos(target)
            self.facts.subscript_assigns.append(
                SubscriptAssign(ctx.scope, self.summarize(target), self.summarize(value), line, col)
            )

    def visit_Assign(self, node: cst.Assign) -> None:
        for t in node.targets:
            self._bind_target(t.target, node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._bind_target(node.target, node.value, node.annotation.annotation)

    def visit_For(self, node: cst.For) -> None:
        # ``for router in routers:`` binds ``router`` to each item of ``routers``
        if isinstance(node.target, cst.Name):
            line, col = self.pos(node.target)
            each = Expr("each", self.summarize(node.iter), line=line, col=col)
            self.facts.bindings.append(Binding(self.ctx.scope, node.target.value, each, None, line, col))

    # calls ----------------------------------------------------------------------------------
    def visit_Await(self, node: cst.Await) -> None:
        if isinstance(node.expression, cst.Call):
            self._awaited_calls.add(id(node.expression))

    def visit_Call(self, node: cst.Call) -> None:
        rng = self.get_metadata(PositionProvider, node)
        decorates, scope = self._decorator_calls.get(id(node), (None, self.ctx.scope))
        self.facts.calls.append(
            CallFact(
                scope,
                self.summarize(node),
                id(node) in self._awaited_calls,
                decorates,
                rng.end.line,
                rng.end.column,
            )
        )
