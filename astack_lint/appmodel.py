"""Derived views of the project model about apps: middleware registrations, what an app serves.

Built from the generic facts (calls, bindings) through the project's name resolution; memoized on
the project.
"""

from __future__ import annotations

from typing import List, NamedTuple, Optional, Set, Tuple

from .facts import CallFact, Expr, FileFacts
from .project import ObjRef, Project


class MiddlewareReg(NamedTuple):
    facts: FileFacts
    scope: str
    how: str  # "add_middleware" | "Middleware" | "wrap" (the class called on an app)
    call: Expr  # the call that registers it
    cls: Optional[Expr]  # the middleware class expression
    args: tuple  # positional arguments after the class (for "wrap": after the app)
    kwargs: tuple
    targets: Set[ObjRef]  # the apps it is registered on (empty when unknown)

    def arg(self, name: str, index: int) -> Optional[Expr]:
        """A middleware constructor argument by keyword, or by its position after ``app``."""
        value = None
        for k, v in self.kwargs:
            if k == name:
                value = v
        if value is None and 0 <= index < len(self.args) and self.args[index].kind != "star":
            value = self.args[index]
        return value


def _first(call: Expr, keyword: str) -> Tuple[Optional[Expr], tuple, tuple]:
    """The first argument (positional or by ``keyword``) and the rest of the arguments."""
    kwargs = tuple((k, v) for k, v in call.kwargs if k != keyword)
    if call.args and call.args[0].kind != "star":
        return call.args[0], call.args[1:], kwargs
    return call.kwarg(keyword), call.args, kwargs


def middleware_registrations(project: Project) -> List[MiddlewareReg]:
    key = ("appmodel", "middleware")
    if key in project._memo:
        return project._memo[key]  # type: ignore[return-value]
    regs: List[MiddlewareReg] = []
    for facts, c in project.calls_named("add_middleware"):
        callee = c.call.value
        if callee is None or callee.kind not in ("name", "attr"):
            continue
        receiver = _receiver(callee)
        cls, rest, kwargs = _first(c.call, "middleware_class")
        targets = project.objects(facts, c.scope, receiver) if receiver is not None else set()
        regs.append(MiddlewareReg(facts, c.scope, "add_middleware", c.call, cls, rest, kwargs, targets))
    for facts, c in project.calls_named("Middleware"):
        if project.callee_symbol(facts, c.scope, c.call) != "Middleware":
            continue
        cls, rest, kwargs = _first(c.call, "cls")
        regs.append(MiddlewareReg(facts, c.scope, "Middleware", c.call, cls, rest, kwargs, _list_owner(project, facts, c)))
    project._memo[key] = regs
    return regs


def _receiver(callee: Expr) -> Optional[Expr]:
    if callee.kind == "name" and "." in callee.value:
        return Expr("name", callee.value.rsplit(".", 1)[0], line=callee.line, col=callee.col)
    if callee.kind == "attr":
        return callee.value
    return None


def _list_owner(project: Project, facts: FileFacts, c: CallFact) -> Set[ObjRef]:
    """The app whose ``middleware=[...]`` list holds this ``Middleware(...)`` call."""
    out: Set[ObjRef] = set()
    for f, call in _constructor_calls(project):
        if f is not facts:
            continue
        mw = call.call.kwarg("middleware")
        if mw is not None and _contains(project, f, call.scope, mw, c.call):
            out |= project.objects(f, call.scope, call.call)
    return out


def _constructor_calls(project: Project) -> List[Tuple[FileFacts, CallFact]]:
    key = ("appmodel", "ctors")
    if key not in project._memo:
        found = []
        for f, c in project.iter_calls():
            if c.call.kwarg("middleware") is not None or c.call.kwarg("routes") is not None:
                if project.objects(f, c.scope, c.call):
                    found.append((f, c))
        project._memo[key] = found
    return project._memo[key]  # type: ignore[return-value]


def _contains(project: Project, facts: FileFacts, scope: str, container: Expr, needle: Expr, depth: int = 0) -> bool:
    if depth > 6:
        return False
    if container == needle:
        return True
    if container.kind == "seq":
        return any(_contains(project, facts, scope, item, needle, depth + 1) for item in container.args)
    if container.kind == "star":
        return _contains(project, facts, scope, container.value, needle, depth + 1)
    if container.kind == "name":
        for f, b in project.bindings(project.resolve_name(facts, scope, container.value)):
            if _contains(project, f, b.scope, b.value, needle, depth + 1):
                return True
    return False


def seq_items(project: Project, facts: FileFacts, scope: str, expr: Optional[Expr], depth: int = 0):
    """The items of a list/tuple expression, following names bound to lists and ``*spread``.

    Yields (facts, scope, item)."""
    if expr is None or depth > 6:
        return
    if expr.kind == "seq":
        for item in expr.args:
            if item.kind == "star":
                yield from seq_items(project, facts, scope, item.value, depth + 1)
            else:
                yield facts, scope, item
    elif expr.kind == "name":
        for f, b in project.bindings(project.resolve_name(facts, scope, expr.value)):
            yield from seq_items(project, f, b.scope, b.value, depth + 1)
