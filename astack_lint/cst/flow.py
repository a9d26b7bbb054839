"""Path-sensitive control flow of one function body, for the rules about generators.

``analyse(fn_node, pos)`` runs a small abstract interpreter over a LibCST ``FunctionDef`` (never
entering nested functions, lambdas or classes). A *state* follows one family of paths:

- ``yields``: how many ``yield`` the path executed (0, 1, 2 = two or more, ``UNKNOWN`` after
  ``yield from``, which may yield any number of times);
- ``modes``: the stack of exceptions in flight, innermost last: ``"normal"`` at the bottom,
  ``"thrown"`` for the exception thrown into the generator at a ``yield`` (what FastAPI does with the
  endpoint's error), ``"error"`` for one raised by the function's own code (explicitly, or implicitly
  by any statement inside a ``try`` body);
- ``catcher``: the handler (index into ``FlowResult.handlers``) that caught the thrown exception
  and completed without re-raising, or -1;
- ``exc``: the path went through a handled error of the function's own code;
- ``guards``: the dotted names of the calls made as statements on the path. A path is real only if
  every one of them returns; the rule's ``check`` decides that with the project model (a helper that
  always raises, ``sys.exit``, a ``NoReturn`` function), so that ``except E as e: fail(e)`` is not
  mistaken for a handler that falls through.

The events the generator rules need are recorded with the guards of their path: a handler around a
``yield`` that swallows the thrown exception (the generator then ends without raising), a ``yield``
reached a second time, a ``return`` (or the end of the body) reached before any ``yield``, a
``raise X`` executed after a ``yield`` on the path where the endpoint succeeded.

For functions that do not yield, ``end_guards`` tells whether the function can return at all: a
function whose every path raises has no end state.

Everything returned is plain picklable data.
"""

from __future__ import annotations

from typing import Callable, Dict, FrozenSet, Iterable, List, NamedTuple, Optional, Set, Tuple

import libcst as cst

from .visitors import RuleCollector, Summarizer, dotted_name

NORMAL, RETURN, RAISE, BREAK, CONTINUE = "normal", "return", "raise", "break", "continue"
UNKNOWN = 3  # yields after ``yield from``
MAX_STATES = 48  # per outcome; beyond it, states that differ only in guards are merged
MAX_LOOP_ROUNDS = 4
MAX_MODES = 5
_SCOPES = (cst.FunctionDef, cst.ClassDef, cst.Lambda)
# raises nothing worth modelling as an implicit error
_QUIET = (cst.Pass, cst.Break, cst.Continue, cst.Global, cst.Nonlocal, cst.Import, cst.ImportFrom)


class State(NamedTuple):
    yields: int
    modes: Tuple[str, ...]
    catcher: int
    exc: bool
    guards: FrozenSet[str]

    @property
    def clean(self) -> bool:
        """On the path where nothing went wrong (no exception in flight or handled before)."""
        return self.modes == ("normal",) and self.catcher < 0 and not self.exc


START = State(0, ("normal",), -1, False, frozenset())
Out = Dict[str, Set[State]]


class Handler(NamedTuple):
    line: int
    col: int
    type: Optional[cst.BaseExpression]  # None for a bare ``except:`` (a CST node; the collector summarizes it)
    star: bool


class FlowResult:
    def __init__(self) -> None:
        self.has_yield = False
        self.has_raise = False
        self.handlers: List[Handler] = []  # handlers of try statements whose body holds a yield
        self.swallows: Dict[int, Set[FrozenSet[str]]] = {}  # handler index -> guards of swallowing paths
        self.second_yields: Set[Tuple[int, int, FrozenSet[str]]] = set()
        self.early_returns: Set[Tuple[int, int, FrozenSet[str]]] = set()
        self.fall_off: Set[FrozenSet[str]] = set()  # the body ends before any yield
        self.raises_after: Set[Tuple[int, int, FrozenSet[str], str]] = set()  # (line, col, guards, "normal"|"error")
        self.end_guards: Set[FrozenSet[str]] = set()  # guards of every path that returns


# ---------------------------------------------------------------------------------------------
# own nodes (not those of nested scopes)


def own_nodes(node: cst.CSTNode) -> Iterable[cst.CSTNode]:
    stack = list(node.children)
    while stack:
        n = stack.pop()
        if isinstance(n, _SCOPES):
            continue
        yield n
        stack.extend(n.children)


def own_yields(node: cst.CSTNode) -> List[cst.Yield]:
    if isinstance(node, cst.Yield):
        return [node] + [n for n in own_nodes(node) if isinstance(n, cst.Yield)]
    return [n for n in own_nodes(node) if isinstance(n, cst.Yield)]


_RAISING = (
    cst.Call,
    cst.Await,
    cst.Subscript,
    cst.Attribute,
    cst.BinaryOperation,
    cst.Assert,
    cst.Del,
    cst.AugAssign,
)


def call_guard(expr: cst.BaseExpression) -> Optional[str]:
    """The dotted callee of a call made as a statement (``fail(e)``, ``await fail(e)``)."""
    if isinstance(expr, cst.Await):
        expr = expr.expression
    if isinstance(expr, cst.Call):
        return dotted_name(expr.func)
    return None


def _is_catch_all(handler: cst.CSTNode) -> bool:
    t = getattr(handler, "type", None)
    return t is None or (isinstance(t, cst.Name) and t.value == "BaseException")


def _always_true(test: cst.BaseExpression) -> bool:
    if isinstance(test, cst.Name):
        return test.value == "True"
    if isinstance(test, cst.Integer):
        return test.value not in ("0", "0x0", "0o0", "0b0")
    return False


# ---------------------------------------------------------------------------------------------
# the interpreter


def _merge(states: Set[State]) -> Set[State]:
    if len(states) <= MAX_STATES:
        return states
    by_key: Dict[tuple, FrozenSet[str]] = {}
    for s in states:
        k = (s.yields, s.modes, s.catcher, s.exc)
        by_key[k] = by_key.get(k, frozenset()) | s.guards
    return {State(k[0], k[1], k[2], k[3], g) for k, g in by_key.items()}


def _add(out: Out, outcome: str, states: Iterable[State]) -> None:
    out.setdefault(outcome, set()).update(states)


def _push(s: State, mode: str) -> State:
    modes = s.modes + (mode,) if len(s.modes) < MAX_MODES else s.modes[:-1] + (mode,)
    return s._replace(modes=modes, exc=s.exc or mode == "error")


def _pop(s: State) -> State:
    return s._replace(modes=s.modes[:-1] if len(s.modes) > 1 else s.modes)


_YIELD, _RAISES = 1, 2


def _flags(body: cst.CSTNode) -> Dict[int, int]:
    """For every own node under ``body`` (and ``body``): does its subtree hold a ``yield``
    (``_YIELD``), a node that may raise (``_RAISES``: calls, awaits, subscripts, attributes,
    arithmetic, assert, del; names, literals and plain assignments of them do not)? One post-order
    pass."""
    flags: Dict[int, int] = {}
    stack: List[Tuple[cst.CSTNode, bool]] = [(body, False)]
    while stack:
        node, done = stack.pop()
        if done:
            f = (_YIELD if isinstance(node, cst.Yield) else 0) | (_RAISES if isinstance(node, _RAISING) else 0)
            for child in node.children:
                f |= flags.get(id(child), 0)
            flags[id(node)] = f
            continue
        stack.append((node, True))
        for child in node.children:
            if not isinstance(child, _SCOPES):
                stack.append((child, False))
    return flags


class _Interpreter:
    def __init__(self, pos: Callable[[cst.CSTNode], Tuple[int, int]], result: FlowResult, flags: Dict[int, int]) -> None:
        self.pos = pos
        self.r = result
        self.flags = flags
        # implicit errors (any statement in a try body may raise) matter only for generators
        self.implicit = result.has_yield
        self._yield_handlers = 0  # depth of handlers of try statements whose body yields
        self._delegating: Set[int] = set()  # yields that re-yield what another generator yields
        self._handler_index: Dict[int, int] = {}  # id(handler node) -> index in result.handlers

    # helpers ---------------------------------------------------------------------------------
    def contains_yield(self, node: cst.CSTNode) -> bool:
        return bool(self.flags.get(id(node), 0) & _YIELD)

    def block(self, body: cst.BaseSuite, states: Set[State], sink: Optional[Set[State]]) -> Out:
        if isinstance(body, cst.IndentedBlock):
            return self.stmts(body.body, states, sink)
        if isinstance(body, cst.SimpleStatementSuite):
            return self.smalls(body.body, states, sink)
        return {NORMAL: set(states)}

    def stmts(self, stmts: Iterable[cst.CSTNode], states: Set[State], sink: Optional[Set[State]]) -> Out:
        out: Out = {}
        cur = set(states)
        for stmt in stmts:
            if not cur:
                break
            r = self.stmt(stmt, cur, sink)
            for outcome, st in r.items():
                if outcome != NORMAL:
                    _add(out, outcome, st)
            cur = _merge(r.get(NORMAL, set()))
        out[NORMAL] = cur
        return {k: _merge(v) for k, v in out.items() if v}

    def smalls(self, smalls: Iterable[cst.CSTNode], states: Set[State], sink: Optional[Set[State]]) -> Out:
        return self.stmts(smalls, states, sink)

    def events(self, node: Optional[cst.CSTNode], states: Set[State], sink: Optional[Set[State]]) -> Set[State]:
        """The yields inside an expression or header, in order; also the implicit error (the
        expression may raise before its yields)."""
        if node is None:
            return states
        f = self.flags.get(id(node), 0)
        if sink is not None and self.implicit and f & _RAISES:
            sink.update(_push(s, "error") for s in states)
        if f & _YIELD:
            for y in sorted(own_yields(node), key=lambda n: self.pos(n)):
                states = self.yield_(y, states, sink)
        return states

    def yield_(self, node: cst.Yield, states: Set[State], sink: Optional[Set[State]]) -> Set[State]:
        self.r.has_yield = True
        is_from = isinstance(node.value, cst.From) or id(node) in self._delegating
        line, col = self.pos(node)
        out = set()
        for s in states:
            if s.modes[-1] == "thrown":
                continue  # a yield while the thrown exception is in flight: "didn't stop after throw()"
            if is_from:
                n = UNKNOWN
            elif s.yields == UNKNOWN:
                n = UNKNOWN
            else:
                if s.yields >= 1 and s.clean:
                    self.r.second_yields.add((line, col, s.guards))
                n = min(s.yields + 1, 2)
            after = s._replace(yields=n)
            out.add(after)
            if sink is not None and s.modes == ("normal",):
                sink.add(after._replace(modes=("normal", "thrown")))
        return out

    # statements -------------------------------------------------------------------------------
    def stmt(self, node: cst.CSTNode, states: Set[State], sink: Optional[Set[State]]) -> Out:
        if isinstance(node, cst.SimpleStatementLine):
            return self.smalls(node.body, states, sink)
        if isinstance(node, cst.If):
            states = self.events(node.test, states, sink)
            out = self.block(node.body, states, sink)
            if node.orelse is None:
                _add(out, NORMAL, states)
            elif isinstance(node.orelse, cst.If):
                for k, v in self.stmt(node.orelse, states, sink).items():
                    _add(out, k, v)
            else:
                for k, v in self.block(node.orelse.body, states, sink).items():
                    _add(out, k, v)
            return out
        if isinstance(node, (cst.While, cst.For)):
            return self.loop(node, states, sink)
        if isinstance(node, (cst.Try, cst.TryStar)):
            return self.try_(node, states, sink)
        if isinstance(node, cst.With):
            for item in node.items:
                states = self.events(item.item, states, sink)
            return self.block(node.body, states, sink)
        if isinstance(node, cst.Match):
            states = self.events(node.subject, states, sink)
            out: Out = {NORMAL: set(states)}  # no case may match
            for case in node.cases:
                entry = self.events(case.guard, states, sink) if case.guard is not None else states
                for k, v in self.block(case.body, entry, sink).items():
                    _add(out, k, v)
            return out
        if isinstance(node, _SCOPES):
            for dec in getattr(node, "decorators", ()):
                states = self.events(dec.decorator, states, None)
            return {NORMAL: set(states)}
        return self.small(node, states, sink)

    def small(self, node: cst.CSTNode, states: Set[State], sink: Optional[Set[State]]) -> Out:
        if isinstance(node, cst.Pass) or isinstance(node, (cst.Global, cst.Nonlocal)):
            return {NORMAL: set(states)}
        if isinstance(node, cst.Break):
            return {BREAK: set(states)}
        if isinstance(node, cst.Continue):
            return {CONTINUE: set(states)}
        if isinstance(node, cst.Return):
            if node.value is not None:
                states = self.events(node.value, states, sink)
            line, col = self.pos(node)
            for s in states:
                # also from a handler of an error before the yield (the return is deliberate), but not
                # from a handler around the yield (AXS301/AXS302 are about those)
                if s.yields == 0 and s.catcher < 0 and "thrown" not in s.modes and not self._yield_handlers:
                    self.r.early_returns.add((line, col, s.guards))
            return {RETURN: set(states)}
        if isinstance(node, cst.Raise):
            self.r.has_raise = True
            if node.exc is not None:
                states = self.events(node.exc, states, sink)
            line, col = self.pos(node)
            out = set()
            for s in states:
                top = s.modes[-1]
                if node.exc is not None and s.yields in (1, 2) and s.catcher < 0 and "thrown" not in s.modes:
                    self.r.raises_after.add((line, col, s.guards, "normal" if top == "normal" else "error"))
                out.add(_push(s, "error") if top == "normal" else s)
            return {RAISE: out}
        if isinstance(node, _QUIET):
            return {NORMAL: set(states)}
        # expression statements, assignments, assert, del, ...
        states = self.events(node, states, sink)
        if isinstance(node, cst.Expr):
            guard = call_guard(node.value)
            if guard:
                states = {s._replace(guards=s.guards | {guard}) for s in states}
        return {NORMAL: set(states)}

    def _mark_delegation(self, node: cst.For) -> None:
        """``for x in source(): yield x`` (``async for`` too) re-yields what another iterator yields,
        the async spelling of ``yield from``: how often is unknown, as for ``yield from``."""
        it = node.iter.expression if isinstance(node.iter, cst.Await) else node.iter
        if not isinstance(it, cst.Call) or not isinstance(node.target, cst.Name):
            return
        if not self.contains_yield(node.body):
            return
        for y in own_yields(node.body):
            if isinstance(y.value, cst.Name) and y.value.value == node.target.value:
                self._delegating.add(id(y))

    def loop(self, node, states: Set[State], sink: Optional[Set[State]]) -> Out:
        out: Out = {}
        header = node.test if isinstance(node, cst.While) else node.iter
        forever = isinstance(node, cst.While) and _always_true(node.test)
        if isinstance(node, cst.For):
            states = self.events(header, states, sink)  # the iterable is evaluated once
            self._mark_delegation(node)
        exits: Set[State] = set()
        broke: Set[State] = set()
        seen: Set[State] = set()
        cur = set(states)
        # skipping a loop whose body yields is not taken for a path without yield (the author
        # expects it to run): mark those states as uncertain
        skip_uncertain = self.contains_yield(node.body)
        for round_ in range(MAX_LOOP_ROUNDS):
            if isinstance(node, cst.While):
                cur = self.events(header, cur, sink)
            if not forever:
                exits |= {s._replace(exc=True) for s in cur} if round_ == 0 and skip_uncertain else cur
            r = self.block(node.body, cur, sink)
            for k in (RETURN, RAISE):
                _add(out, k, r.get(k, ()))
            broke |= r.get(BREAK, set())
            nxt = _merge(r.get(NORMAL, set()) | r.get(CONTINUE, set())) - seen
            if not nxt:
                break
            seen |= nxt
            cur = nxt
        if node.orelse is not None:
            r = self.block(node.orelse.body, _merge(exits), sink)
            for k, v in r.items():
                _add(out, k, v)
        else:
            _add(out, NORMAL, exits)
        _add(out, NORMAL, broke)
        return {k: _merge(v) for k, v in out.items() if v}

    def try_(self, node, states: Set[State], sink: Optional[Set[State]]) -> Out:
        inner: Set[State] = set()
        body = self.block(node.body, states, inner)
        exc = _merge(inner | body.get(RAISE, set()))
        holds_yield = self.contains_yield(node.body)
        out: Out = {}
        for k in (RETURN, BREAK, CONTINUE):
            _add(out, k, body.get(k, ()))
        normal = body.get(NORMAL, set())
        if node.orelse is not None:
            for k, v in self.block(node.orelse.body, normal, sink).items():
                _add(out, k, v)
        else:
            _add(out, NORMAL, normal)
        caught_all = False
        for h in node.handlers:
            idx = -1
            if holds_yield:
                # a try statement in a loop is interpreted once per round: one index per handler
                idx = self._handler_index.get(id(h), -1)
                if idx < 0:
                    line, col = self.pos(h)
                    idx = self._handler_index[id(h)] = len(self.r.handlers)
                    self.r.handlers.append(Handler(line, col, h.type, isinstance(h, cst.ExceptStarHandler)))
            entry = {s._replace(catcher=idx) if idx >= 0 and s.modes[-1] == "thrown" else s for s in exc}
            self._yield_handlers += holds_yield
            try:
                r = self.block(h.body, entry, sink)
            finally:
                self._yield_handlers -= holds_yield
            for k, v in r.items():
                if k == RAISE:
                    _add(out, RAISE, {s._replace(catcher=-1) if idx >= 0 and s.catcher == idx else s for s in v})
                else:
                    _add(out, k, {_pop(s) for s in v})
            caught_all = caught_all or _is_catch_all(h)
        if not caught_all:
            _add(out, RAISE, exc)
        if node.finalbody is not None:
            out = self.finally_(node.finalbody.body, out, sink)
        return {k: _merge(v) for k, v in out.items() if v}

    def finally_(self, body: cst.BaseSuite, incoming: Out, sink: Optional[Set[State]]) -> Out:
        out: Out = {}
        for outcome, states in incoming.items():
            for s in states:
                r = self.block(body, {s}, sink)
                for k, v in r.items():
                    if k == NORMAL:
                        _add(out, outcome, {t._replace(modes=s.modes, catcher=s.catcher) for t in v})
                    else:
                        _add(out, k, v)
        return out


def analyse(
    fn: cst.FunctionDef,
    pos: Callable[[cst.CSTNode], Tuple[int, int]],
    has_yield: Optional[bool] = None,
    has_raise: Optional[bool] = None,
) -> FlowResult:
    """Run the interpreter over a function's body (see the module docstring). A caller that already
    knows whether the body (not nested scopes) holds a ``yield`` / a ``raise`` passes it: walking a
    LibCST tree is costly, and a function without ``yield`` needs no per-node walk at all."""
    result = FlowResult()
    if has_yield is None or has_raise is None:
        own = list(own_nodes(fn.body))
        has_yield = any(isinstance(n, cst.Yield) for n in own)
        has_raise = any(isinstance(n, cst.Raise) for n in own)
    result.has_yield, result.has_raise = has_yield, has_raise
    if not (has_yield or has_raise):
        result.end_guards.add(frozenset())
        return result
    interp = _Interpreter(pos, result, _flags(fn.body) if has_yield else {})
    out = interp.block(fn.body, {START}, None)
    ends = out.get(NORMAL, set()) | out.get(RETURN, set())
    for s in ends:
        result.end_guards.add(s.guards)
        if s.catcher >= 0:
            result.swallows.setdefault(s.catcher, set()).add(s.guards)
    for s in out.get(NORMAL, set()):
        if s.yields == 0 and s.clean:
            result.fall_off.add(s.guards)
    return result


# ---------------------------------------------------------------------------------------------
# the collector the generator rules share (what their checks then ask of the project model is
# rules/generators.py)


PARTS = ("handlers", "swallows", "second_yields", "early_returns", "fall_off", "raises_after")
_NORETURN_NAMES = ("NoReturn", "Never")


def _guards(gs: Iterable[FrozenSet[str]]) -> List[Tuple[str, ...]]:
    return sorted(tuple(sorted(g)) for g in gs)


class FlowCollector(RuleCollector):
    """Runs ``analyse`` once per function per file (shared by every rule that subclasses this) and
    keeps, per function qualname, the parts named in ``parts`` for generators; and, for functions
    that raise or are annotated ``NoReturn``, what ``never_returns`` needs.

    ``self.data = {"functions": {qualname: {part: ...}}, "noreturn": {qualname: (annotation, end guards)}}``
    """

    parts: Tuple[str, ...] = PARTS

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.data = {"functions": {}, "noreturn": {}}
        self.summarize = Summarizer(self.pos)
        # per open scope: [has yield, has raise] for functions, None for lambdas and classes
        self._frames: List[Optional[List[bool]]] = []

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._frames.append([False, False])

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self._frames.append(None)

    def leave_Lambda(self, node: cst.Lambda) -> None:
        self._frames.pop()

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._frames.append(None)

    def leave_ClassDef(self, node: cst.ClassDef) -> None:
        self._frames.pop()

    def visit_Yield(self, node: cst.Yield) -> None:
        if self._frames and self._frames[-1] is not None:
            self._frames[-1][0] = True

    def visit_Raise(self, node: cst.Raise) -> None:
        if self._frames and self._frames[-1] is not None:
            self._frames[-1][1] = True

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        has_yield, has_raise = self._frames.pop() or (False, False)
        qualname = self.ctx.qualnames.get(id(node))
        if qualname is None:
            return
        cache = self.ctx.__dict__.setdefault("_flow_cache", {})
        key = id(node)
        if key not in cache:
            cache[key] = self._analyse(node, has_yield, has_raise)
        generator, noreturn = cache[key]
        if generator is not None:
            self.data["functions"][qualname] = {p: generator[p] for p in ("line", "col", "is_async") + self.parts}
        if noreturn is not None:
            self.data["noreturn"][qualname] = noreturn

    def _analyse(self, node: cst.FunctionDef, has_yield: bool, has_raise: bool):
        returns = self.summarize(node.returns.annotation) if node.returns is not None else None
        annotated = returns is not None and returns.kind == "name" and returns.value.rsplit(".", 1)[-1] in _NORETURN_NAMES
        if not (has_yield or has_raise or annotated):
            return None, None
        r = analyse(node, self.pos, has_yield, has_raise)
        noreturn = None
        if r.has_raise or annotated:
            noreturn = (returns if annotated else None, _guards(r.end_guards))
        generator = None
        if r.has_yield:
            line, col = self.pos(node.name)
            generator = {
                "line": line,
                "col": col,
                "is_async": node.asynchronous is not None,
                "handlers": [(h.line, h.col, self.summarize(h.type), h.star) for h in r.handlers],
                "swallows": {i: _guards(g) for i, g in r.swallows.items()},
                "second_yields": sorted((ln, c, tuple(sorted(g))) for ln, c, g in r.second_yields),
                "early_returns": sorted((ln, c, tuple(sorted(g))) for ln, c, g in r.early_returns),
                "fall_off": _guards(r.fall_off),
                "raises_after": sorted((ln, c, tuple(sorted(g)), m) for ln, c, g, m in r.raises_after),
            }
        return generator, noreturn
