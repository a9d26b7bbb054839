"""Per-file facts: what one traversal of one file records for the project model.

Everything here is plain, picklable data (tuples and small classes), so that facts can be
cached and sent between processes. Nothing here knows about any rule, nor about LibCST: the facts
are collected from CPython's ``ast`` (``collect.py``).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple

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
      ``either`` args = the values it may be (``a if c else b``, ``a or b``)
      ``each``  value = an iterable Expr: the value of a ``for`` loop's target is each of its items
      ``comp``  value = the item Expr of a comprehension (``[f(x) for x in xs]``, a set, a dict's
                value, a generator expression), read in the comprehension's own scope
                (``comp_scope``), where each ``for`` target is bound to each item of its iterable
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


def comp_scope(scope: str, line: int, col: int) -> str:
    """The scope of the comprehension at (line, col) inside ``scope``: its ``for`` targets are
    bound there, and the calls in it are made there (names not bound in it are the enclosing
    scope's)."""
    return f"{scope}.<comp{line}:{col}>" if scope else f"<comp{line}:{col}>"


def real_scope(scope: str) -> str:
    """The function, class or module scope a comprehension scope is in (``scope`` itself when it
    is not one)."""
    parts = scope.split(".")
    while parts and parts[-1].startswith("<comp"):
        parts.pop()
    return ".".join(parts)


class Param(NamedTuple):
    name: str
    annotation: Optional[Expr]
    default: Optional[Expr]
    kind: str  # "pos", "posonly", "kwonly", "star", "starstar"


def receiver_of(is_method: bool, positional: Sequence[str], decorators: Iterable[Optional[str]]) -> Optional[str]:
    """The parameter that receives the instance (``self``) or the class (``cls``): the first
    positional parameter of a method that is not a ``@staticmethod``. ``decorators``: their dotted
    names (None for one that is not a name). The one place that knows which parameter a call of a
    method does not pass."""
    if not is_method or not positional or any(d == "staticmethod" for d in decorators):
        return None
    return positional[0]


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

    @property
    def receiver(self) -> Optional[str]:
        """``self`` / ``cls`` of a method (see ``receiver_of``); None for functions and static methods."""
        positional = [p.name for p in self.params if p.kind in ("posonly", "pos")]
        return receiver_of(self.class_qualname is not None, positional, (d.dotted for d in self.decorators))

    @property
    def passed_positional(self) -> List[str]:
        """The names of the parameters a call passes by position (the receiver is not passed)."""
        positional = [p.name for p in self.params if p.kind in ("posonly", "pos")]
        return positional[1:] if self.receiver is not None else positional

    def passed_index(self, name: str) -> Optional[int]:
        """The position of parameter ``name`` among the positional arguments a call passes (the
        receiver is not passed); None when it cannot be passed by position."""
        positional = self.passed_positional
        return positional.index(name) if name in positional else None


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

    def function_at(self, scope: str) -> Optional[FunctionFact]:
        """The function whose code runs in ``scope`` (a comprehension's code is its function's)."""
        fn = self.functions.get(scope)
        if fn is None and scope.endswith(">"):
            fn = self.functions.get(real_scope(scope))
        return fn

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
