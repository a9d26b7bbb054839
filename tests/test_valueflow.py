"""model/valueflow.py: what the project-wide value flow keeps exact, and what it bounds."""

from __future__ import annotations

from astack_lint.api import Settings
from astack_lint.engine.run import build_project
from astack_lint.engine.store import Store
from astack_lint.model.facts import Expr
from astack_lint.model.valueflow import MAX_LITERALS


def _flow(root):
    project = build_project(str(root), Settings(base_dir=str(root)), Store(), [])
    flow = project.flow()
    return project, flow


def _objects(project, flow, path_end, scope, name):
    facts = next(f for p, f in project.files.items() if p.endswith(path_end))
    return [flow.objs[o] for o in flow.members(flow.objects(facts, scope, Expr("name", name, (), (), 1, 0)))]


def test_payload_dicts_through_one_helper_stay_bounded_and_keep_their_items(project):
    """Hundreds of payload dicts handed through the same helpers (as large apps do): one node
    holds at most a few of them plus a container standing for the rest, and reading what the
    helper returns still gives every item they hold."""
    handlers = "\n".join(
        f"def handler_{i}():\n    return {i}\n\n\ndef send_{i}():\n    return relay({{'kind': {i}, 'run': handler_{i}, "
        f"'meta': {{'n': {i}}}}})\n"
        for i in range(300)
    )
    root = project(
        {
            "svc/__init__.py": "",
            "svc/payloads.py": "from fastapi import FastAPI\n\n\ndef relay(payload):\n    return normalize(payload)\n\n\n"
            "def normalize(payload):\n    out = dict(payload)\n    return payload\n\n\n" + handlers
            + "\n\nresult = relay({'kind': 0})\nfirst = result['run']\n",
        }
    )
    project_, flow = _flow(root)
    assert not flow.truncated
    assert flow.steps < 20_000, flow.steps  # without the bound, several times as many
    for node, objs in flow.pts.items():
        assert sum(1 for o in objs if flow.objs[o].kind == "seq") <= MAX_LITERALS + 1
    got = {o.key[0] for o in _objects(project_, flow, "payloads.py", "", "first") if o.kind == "func"}
    assert {f"svc.payloads.handler_{i}" for i in range(300)} <= got


def test_literals_of_plain_data_are_not_followed(project):
    root = project(
        {
            "app.py": """
                from fastapi import APIRouter, FastAPI

                app = FastAPI()
                router = APIRouter()
                numbers = [1, 2, {"a": 3}]
                routers = [router]
                pending = []
                pending.append(router)
            """,
        }
    )
    project_, flow = _flow(root)
    assert _objects(project_, flow, "app.py", "", "numbers") == []
    assert [o.key[0] for o in _objects(project_, flow, "app.py", "", "routers")] == ["fastapi.APIRouter"]
    assert [o.key[0] for o in _objects(project_, flow, "app.py", "", "pending")] == ["fastapi.APIRouter"]


def test_keywords_spread_from_dicts(project):
    """``f(**{"router": r})`` passes ``router=r``; a spread of anything else (another object, a
    dict the flow cannot read) passes nothing and breaks nothing."""
    root = project(
        {
            "app.py": """
                from fastapi import APIRouter, FastAPI

                class Holder:
                    def __init__(self, router=None, other=None):
                        self.router = router
                        self.other = other

                def make(**options):
                    return Holder(**options)

                first = APIRouter()
                second = APIRouter()
                held = Holder(**{"router": first, "unknown": second})
                also = Holder(**held.__dict__)
                maybe = make(router=second)
                spread_list = Holder(**[first])
                got = held.router
                none = held.other
            """,
        }
    )
    project_, flow = _flow(root)
    assert not flow.truncated
    assert [o.key for o in _objects(project_, flow, "app.py", "", "got")] == [(
        "fastapi.APIRouter", str(root / "app.py"), 11, 8)]
    assert _objects(project_, flow, "app.py", "", "none") == []


def test_comprehensions_hold_their_items_and_bind_their_targets(project):
    """A comprehension is a container of what its item expression holds in its own scope, where
    each ``for`` target holds each item of its iterable; a same-named variable outside keeps only
    its own value; ``list()`` / ``sorted()`` hold the same items."""
    root = project(
        {
            "svc/__init__.py": "",
            "svc/routers.py": """
                from fastapi import APIRouter


                def make(name):
                    return APIRouter(prefix=name)


                NAMES = ["a", "b"]
                built = [make(n) for n in NAMES]
                by_name = {n: make(n) for n in NAMES}
            """,
            "svc/app.py": """
                from fastapi import APIRouter, FastAPI

                from .routers import built, by_name

                app = FastAPI()
                other = APIRouter()
                r = other
                mounted = [app.include_router(r) for r in built]
                copies = list(x for x in by_name.values())
                ordered = sorted(built)
            """,
        }
    )
    project_, flow = _flow(root)
    assert not flow.truncated

    def held(path_end, name):
        return sorted((o.kind, o.key[0]) for o in _objects(project_, flow, path_end, "", name))

    router = [("alloc", "fastapi.APIRouter")]
    assert held("routers.py", "built") == router
    assert held("routers.py", "by_name") == router  # one allocation site, in make()
    assert held("app.py", "copies") == router and held("app.py", "ordered") == router
    # the comprehension's ``r`` is its own: the module's ``r`` is still only ``other``
    (r,) = _objects(project_, flow, "app.py", "", "r")
    assert r.key[0] == "fastapi.APIRouter" and r.key[1].endswith("app.py")
    (event,) = [e for e in flow.events if e.method == "include_router"]
    included = [flow.objs[o] for o in flow.members(flow.node_objects(event.args[0]))]
    assert [(o.key[0], o.key[1].endswith("routers.py")) for o in included] == [("fastapi.APIRouter", True)]
