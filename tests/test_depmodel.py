"""model/dependencies.py: which functions are FastAPI dependencies, with which scope, and the option
``dependency-functions`` for libraries whose dependencies are used in another repository."""

from __future__ import annotations

from astack_lint.api import Settings
from astack_lint.engine.run import build_project
from astack_lint.engine.store import Store
from astack_lint.model.dependencies import dependency_of_param, dependency_uses, is_dependency

from .conftest import codes_in

LIB = {
    "mylib/__init__.py": "",
    "mylib/deps.py": """
        def get_session():
            try:
                yield 1
            except Exception:
                pass
    """,
}


def _project(root):
    return build_project(str(root), Settings(base_dir=str(root)), Store(), [])


def test_uses_across_files_aliases_and_scopes(project):
    root = project(
        {
            "core/__init__.py": "from .deps import get_session as get_db, SessionDep\n",
            "core/deps.py": """
                from typing import Annotated
                from fastapi import Depends as D

                def get_session():
                    yield 1

                def fn_scoped():
                    yield 2

                class Checker:
                    def __call__(self):
                        yield 3

                def override():
                    yield 4

                SessionDep = Annotated[int, D(get_session)]
            """,
            "api.py": """
                from fastapi import Depends, FastAPI, Security
                from core import SessionDep
                from core.deps import Checker, fn_scoped, override

                app = FastAPI(dependencies=[Security(Checker())])

                @app.get("/")
                def index(s: SessionDep, f=Depends(fn_scoped, scope="function")):
                    return {}

                app.dependency_overrides[fn_scoped] = override
            """,
        }
    )
    p = _project(root)
    uses = dependency_uses(p)
    scopes = {k: sorted({u.scope for u in v}) for k, v in uses.items()}
    assert scopes == {
        "core.deps.get_session": ["request"],
        "core.deps.fn_scoped": ["function"],
        "core.deps.Checker.__call__": ["request"],
        "core.deps.override": ["function"],  # an override runs with the scope of what it replaces
    }
    api = next(f for f in p.files.values() if f.path.endswith("api.py"))
    fn = api.functions["index"]
    got = {prm.name: dependency_of_param(p, api, fn, prm) for prm in fn.params}
    assert (got["s"][1].qualname, got["s"][2]) == ("get_session", "request")
    assert (got["f"][1].qualname, got["f"][2]) == ("fn_scoped", "function")


def test_user_class_named_depends_is_not_fastapis(project):
    root = project(
        {
            "local.py": "class Depends:\n    def __init__(self, dependency=None):\n        pass\n",
            "app.py": """
                from local import Depends

                def gen():
                    yield 1

                x = Depends(gen)
            """,
        }
    )
    assert dependency_uses(_project(root)) == {}


def test_dependency_functions_option_marks_library_dependencies(project):
    root = project(LIB)
    assert codes_in(root) == []
    # both the path-based id and the package-based import name match
    for pattern in ("mylib.deps.*", "mylib.deps.get_session", "*.get_session"):
        assert codes_in(root, dependency_functions=[pattern]) == [("mylib/deps.py", 4, "AXS302")]
    p = _project(root)
    facts = p.facts_for(str(root / "mylib" / "deps.py"))  # it does not mention FastAPI: loaded on demand
    assert is_dependency(p, Settings.from_values({"dependency_functions": ["mylib.*"]}), facts, facts.functions["get_session"])
    assert not is_dependency(p, Settings(), facts, facts.functions["get_session"])


def test_src_layout_package_name_matches(project):
    root = project({f"src/{k}": v for k, v in LIB.items()})
    assert codes_in(root, dependency_functions=["mylib.deps.get_session"]) == [("src/mylib/deps.py", 4, "AXS302")]


def test_a_subpackage_named_fastapi_does_not_shadow_fastapi(project):
    """zenml ships zenml/deployers/server/fastapi/: inside a package it is not ``fastapi``."""
    root = project(
        {
            "pkg/__init__.py": "",
            "pkg/server/__init__.py": "",
            "pkg/server/fastapi/__init__.py": "",
            "pkg/api.py": """
                from fastapi import Depends

                def get_db():
                    yield 1

                def index(db=Depends(get_db)):
                    return db
            """,
        }
    )
    assert list(dependency_uses(_project(root))) == ["pkg.api.get_db"]


def test_which_decorators_fastapi_sees_through(project):
    """A generator behind decorators is a dependency with yield on every release when they hand it
    back, from FastAPI 0.123.5 when they wrap it with functools.wraps in a plain function, and is
    left alone (None) behind anything else."""
    from astack_lint.model.dependencies import seen_as_generator_from

    root = project(
        {
            "svc/__init__.py": "",
            "svc/decorators.py": """
                import functools
                from contextlib import contextmanager
                from functools import wraps as keep

                def traced(func):
                    @functools.wraps(func)
                    def wrapper(*args, **kwargs):
                        return func(*args, **kwargs)
                    return wrapper

                def labelled(label):
                    def decorate(func):
                        @keep(func)
                        def inner(*a, **k):
                            return func(*a, **k)
                        return inner
                    return decorate

                def register(func):
                    return func

                def plain(func):
                    def inner(*a, **k):
                        return func(*a, **k)
                    return inner

                def other(func):
                    @functools.wraps(print)
                    def inner(*a, **k):
                        return func(*a, **k)
                    return inner

                def relay(func):
                    @functools.wraps(func)
                    def inner(*a, **k):
                        yield from func(*a, **k)
                    return inner

                def either(func):
                    if func:
                        return func
                    @functools.wraps(func)
                    def inner(*a, **k):
                        return func(*a, **k)
                    return inner
            """,
            "svc/deps.py": """
                from contextlib import contextmanager
                from fastapi import Depends
                from .decorators import either, labelled, other, plain, register, relay, traced

                def bare():
                    yield 1

                @traced
                def a():
                    yield 1

                @labelled("x")
                @register
                def b():
                    yield 1

                @register
                def c():
                    yield 1

                @plain
                def d():
                    yield 1

                @other
                def e():
                    yield 1

                @relay
                def f():
                    yield 1

                @contextmanager
                def g():
                    yield 1

                @either
                def h():
                    yield 1

                @unknown_name
                def i():
                    yield 1

                class Holder:
                    @staticmethod
                    @traced
                    def j():
                        yield 1
            """,
        }
    )
    proj = _project(root)
    facts = next(f for p, f in proj.files.items() if p.endswith("deps.py"))
    got = {q: seen_as_generator_from(proj, facts, fn) for q, fn in facts.functions.items()}
    assert got == {
        "bare": "", "a": ">=0.123.5", "b": ">=0.123.5", "c": "", "d": None, "e": None, "f": None, "g": None,
        "h": None, "i": None, "Holder.j": ">=0.123.5",
    }


def test_affected_rows_narrowed_to_releases():
    from astack_lint.releases.affected import Affected, narrowed

    rows = (
        Affected(fastapi="<0.74.0", symptom="a"),
        Affected(fastapi=">=0.110.0,<0.118.0", symptom="b"),
        Affected(fastapi=">=0.118.0", symptom="c"),
        (">=0.106.0,<=0.117.1", None, "d"),
        (None, "<1.0", "e"),
    )
    assert narrowed(rows, ">=0.123.5") == (
        Affected(fastapi=">=0.123.5", symptom="c"),
        Affected(fastapi=">=0.123.5", starlette="<1.0", symptom="e"),
    )
    assert narrowed(rows[:1], "") == rows[:1]
    assert narrowed(rows[3:4], "") == (Affected(fastapi=">=0.106.0,<=0.117.1", symptom="d"),)
