"""What the generator-dependency rules (AXS301-AXS305) ask of the project model, on top of the path
analysis ``cst/flow.py`` records per function: is a path real (does every statement-call on it
return?), which generators of a file are dependencies and with which scopes, what a handler's type
catches, and what swallowing the endpoint's exception does, release by release.
"""

from __future__ import annotations

from typing import Callable, Dict, Iterable, List, Optional, Set, Tuple

from ..model.dependencies import dependency_scopes, seen_as_generator_from
from ..model.facts import Expr, FileFacts, FunctionFact
from ..model.memo import false, memoized
from ..model.project import Project
from ..releases.affected import Affected, narrowed
from .api import CheckContext

_NORETURN_SYMBOLS = frozenset(
    {
        "typing.NoReturn",
        "typing.Never",
        "typing_extensions.NoReturn",
        "typing_extensions.Never",
    }
)
_NORETURN_CALLS = frozenset(
    {
        "sys.exit",
        "os._exit",
        "os.abort",
        "typing.assert_never",
        "typing_extensions.assert_never",
        "pytest.fail",
        "pytest.skip",
        "pytest.exit",
    }
)


def never_returns(project: Project, code: str, facts: FileFacts, scope: str, callee: str, _depth: int = 0) -> bool:
    """Does the call ``callee(...)`` made in ``scope`` never return (it always raises, exits, or is
    annotated ``NoReturn``)? Unknown callees return."""
    if _depth > 4:
        return False
    return _never_returns(project, code, facts, scope, callee, _depth)


@memoized(key=lambda code, facts, scope, callee, depth: (code, facts.path, scope, callee), guard=false)
def _never_returns(project: Project, code: str, facts: FileFacts, scope: str, callee: str, _depth: int) -> bool:
    target = None
    fn = facts.function_at(scope)
    if callee.startswith("self.") and fn is not None and fn.class_qualname and callee.count(".") == 1:
        target = project.function(project.qualify(facts, f"{fn.class_qualname}.{callee[5:]}"))
        qname = None
    else:
        qname = project.resolve_name(facts, scope, callee)
        target = project.function(qname)
    result = False
    if qname in _NORETURN_CALLS:
        result = True
    elif target is not None:
        tf, tfn = target
        data = tf.rule_data.get(code)
        info = data.get("noreturn", {}).get(tfn.qualname) if isinstance(data, dict) else None
        if info is not None:
            annotation, ends = info
            if annotation is not None and project.resolve(tf, tfn.scope, annotation) in _NORETURN_SYMBOLS:
                result = True
            else:
                result = all(
                    any(never_returns(project, code, tf, tfn.qualname, g, _depth + 1) for g in guards) for guards in ends
                )
    return result


def live(project: Project, code: str, facts: FileFacts, scope: str, guard_sets: Iterable[Tuple[str, ...]]) -> bool:
    """Is one of these paths real, i.e. does every statement-call on it return?"""
    return any(not any(never_returns(project, code, facts, scope, g) for g in guards) for guards in guard_sets)


class GeneratorDependency:
    """A generator function of the linted file that the project uses as a dependency."""

    def __init__(self, fn: FunctionFact, record: dict, scopes: set, since: str = "") -> None:
        self.fn = fn
        self.record = record
        self.scopes = scopes  # {"request", "function"}
        # "": FastAPI sees a generator on every release; ">=0.123.5": only from there on, through
        # the functools.wraps decorators in front of it (model/dependencies.py)
        self.since = since

    @property
    def kind(self) -> str:
        return "async generator" if self.record["is_async"] else "generator"

    def rows(self, rows: Iterable[Affected]) -> Tuple[Affected, ...]:
        """Affected rows limited to the releases where FastAPI sees this generator as one."""
        return narrowed(tuple(rows), self.since)

    @property
    def behind(self) -> str:
        """`` (behind a functools.wraps decorator, which FastAPI >= 0.123.5 sees through)`` or ""."""
        if not self.since:
            return ""
        return f" (behind a functools.wraps decorator, which FastAPI {self.since[2:]} and later sees through)"


def generator_dependencies(ctx: CheckContext, http_only: bool = False) -> List[GeneratorDependency]:
    """The linted file's generators that the project uses as dependencies; ``http_only``: only as
    dependencies of HTTP routes (docs/framework-facts.md part B is about HTTP responses), with those uses' scopes.
    A generator behind decorators counts only where FastAPI sees through them to it (on a release
    the project admits); any other decorator may turn it into anything: those are left alone."""
    data = ctx.data
    if not isinstance(data, dict):
        return []
    out = []
    for qualname, record in sorted(data.get("functions", {}).items()):
        fn = ctx.facts.functions.get(qualname)
        if fn is None:
            continue
        since = seen_as_generator_from(ctx.project, ctx.facts, fn)
        if since is None or (since and not ctx.affected_hits([Affected(fastapi=since)])):
            continue
        scopes = dependency_scopes(ctx.project, ctx.settings, ctx.facts, fn, http_only)
        if scopes:
            out.append(GeneratorDependency(fn, record, scopes, since))
    return out


def swallowing_handlers(ctx: CheckContext, wanted: Callable[[Set[str]], bool]):
    """The handlers around a dependency's yield that swallow the thrown exception on a real path,
    whose type tags (see ``handler_catches``) satisfy ``wanted``: (dependency, line, col, type, star, tags)."""
    for dep in generator_dependencies(ctx, http_only=True):
        rec = dep.record
        for idx, guard_sets in sorted(rec["swallows"].items()):
            line, col, typ, star = rec["handlers"][idx]
            tags = handler_catches(ctx.project, ctx.facts, dep.fn.qualname, typ)
            if wanted(tags) and live(ctx.project, ctx.rule.code, ctx.facts, dep.fn.qualname, guard_sets):
                yield dep, line, col, typ, star, tags


def by_position(records: Iterable[tuple]) -> List[Tuple[Tuple[int, int], List[tuple]]]:
    """Group event records ``(line, col, guards, *more)`` by position: [((line, col), [(guards, *more)])]."""
    out: Dict[Tuple[int, int], List[tuple]] = {}
    for rec in records:
        out.setdefault((rec[0], rec[1]), []).append(tuple(rec[2:]))
    return sorted(out.items())


def handler_catches(project: Project, facts: FileFacts, scope: str, type_expr: Optional[Expr]) -> Set[str]:
    """What a handler's type names, as a set of tags: "bare", "BaseException", "GeneratorExit",
    "other" (anything else, or unknown)."""
    if type_expr is None:
        return {"bare"}
    items = type_expr.args if type_expr.kind == "seq" else (type_expr,)
    out: Set[str] = set()
    for item in items:
        q = project.resolve(facts, scope, item)
        if q == "builtins.BaseException":
            out.add("BaseException")
        elif q == "builtins.GeneratorExit":
            out.add("GeneratorExit")
        else:
            out.add("other")
    return out


# docs/framework-facts.md part B: what swallowing the endpoint's exception does, release by release
SWALLOW_REQUEST = (
    Affected(fastapi="<0.74.0", tag="request", symptom="the client gets a 500 and the endpoint's error is never logged"),
    Affected(
        fastapi=">=0.110.0,<0.118.0",
        tag="request",
        symptom="the client gets a 500 (an HTTPException such as 404 too) and the endpoint's error is never logged, "
        "only 'FastAPIError: No response object was returned'",
    ),
    Affected(
        fastapi=">=0.118.0",
        tag="request",
        symptom="the client gets a 500 (an HTTPException such as 404 too) and the endpoint's error is never logged, "
        "only 'FastAPIError: Response not awaited'",
    ),
)
SWALLOW_FUNCTION = (
    Affected(
        fastapi=">=0.121.0",
        tag="function",
        symptom="with scope='function' the client gets a 500 (UnboundLocalError) and the endpoint's error is lost",
    ),
)
CANCEL_ASYNC = (
    Affected(fastapi="<0.106.0", tag="cancel", symptom="an async dependency silently loses the request's cancellation"),
    Affected(fastapi=">=0.106.0", tag="cancel", symptom="a cancelled request ends in a 500 (async dependency)"),
)


def swallow_rows(dep: "GeneratorDependency", cancellation: bool = False) -> Tuple[Affected, ...]:
    """The affected rows for a dependency whose handler swallows the thrown exception."""
    rows: Tuple[Affected, ...] = ()
    if "request" in dep.scopes:
        rows += SWALLOW_REQUEST
    if "function" in dep.scopes:
        rows += SWALLOW_FUNCTION
    if cancellation and dep.record["is_async"]:
        rows += CANCEL_ASYNC
    return dep.rows(rows)
