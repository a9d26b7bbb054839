"""AXS404 against real FastAPI (0.165 / Starlette 1.10; docs/framework-facts.md part E: Starlette >= 0.24): adding
middleware once the app has started raises ``RuntimeError: Cannot add middleware after an
application has started``, in the lifespan (the app never starts) and in an endpoint (the request
fails). Registering the middleware where the app is created works and is not flagged. On Starlette
>= 1.0 (docs/framework-facts.md part J) a handler registered through a removed form fails at the registration itself, and
the message says so; FastAPI's own ``on_event`` still registers, and there the middleware fails."""

from __future__ import annotations

import pytest
import starlette
from fastapi.testclient import TestClient
from packaging.version import Version

from .harness import codes, load, write_project

IN_LIFESPAN = """
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.middleware.gzip import GZipMiddleware


@asynccontextmanager
async def lifespan(app: FastAPI):
    app.add_middleware(GZipMiddleware)
    yield


app = FastAPI(lifespan=lifespan)


@app.get("/")
async def index():
    return {"ok": True}
"""

IN_ENDPOINT = """
from fastapi import FastAPI, Request
from starlette.middleware.gzip import GZipMiddleware

app = FastAPI()


@app.get("/enable")
async def enable(request: Request):
    request.app.add_middleware(GZipMiddleware)
    return {"ok": True}
"""

FIXED = """
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.middleware.gzip import GZipMiddleware


@asynccontextmanager
async def lifespan(app: FastAPI):
    yield


app = FastAPI(lifespan=lifespan)
app.add_middleware(GZipMiddleware, minimum_size=10)


@app.get("/")
async def index():
    return {"text": "x" * 100}
"""

MESSAGE = "Cannot add middleware after an application has started"


def test_in_lifespan_the_app_never_starts(tmp_path):
    root = write_project(tmp_path, {"app.py": IN_LIFESPAN})
    assert codes(root) == ["AXS404"]
    app = load(root).app
    with pytest.raises(RuntimeError, match=MESSAGE):
        with TestClient(app):
            pass


def test_in_an_endpoint_the_request_fails(tmp_path):
    root = write_project(tmp_path, {"app.py": IN_ENDPOINT})
    assert codes(root) == ["AXS404"]
    app = load(root).app
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/enable").status_code == 500
    with TestClient(app) as client:
        with pytest.raises(RuntimeError, match=MESSAGE):
            client.get("/enable")


def test_registered_at_creation_works(tmp_path):
    root = write_project(tmp_path, {"app.py": FIXED})
    assert codes(root) == []
    app = load(root).app
    with TestClient(app) as client:
        response = client.get("/", headers={"accept-encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"


# gradio's shape: an endpoint calls the app factory again to build a sub-app; the factory's
# add_middleware then runs on that new app, which has not started.
FACTORY_AGAIN = """
from typing import Optional

from fastapi import FastAPI
from starlette.middleware.gzip import GZipMiddleware


class App(FastAPI):
    @staticmethod
    def create_app(app: Optional["App"] = None) -> "App":
        if app is None:
            app = App()
        app.add_middleware(GZipMiddleware, minimum_size=10)

        @app.get("/monitoring")
        async def dashboard():
            if not getattr(app.state, "mounted", False):
                app.mount("/monitoring/dashboard", App.create_app())
                app.state.mounted = True
            return {"mounted": True}

        return app


app = App.create_app()
"""

FACTORY_HANDED_THE_RUNNING_APP = FACTORY_AGAIN.replace("App.create_app())", "App.create_app(app))")


def test_a_factory_called_again_builds_a_new_app(tmp_path):
    root = write_project(tmp_path, {"app.py": FACTORY_AGAIN})
    assert codes(root) == []
    app = load(root).app
    with TestClient(app) as client:
        assert client.get("/monitoring").status_code == 200
        # the sub-app built during the request serves, with its own middleware
        response = client.get("/monitoring/dashboard/monitoring", headers={"accept-encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"


def test_a_factory_handed_the_running_app_fails(tmp_path):
    root = write_project(tmp_path, {"app.py": FACTORY_HANDED_THE_RUNNING_APP})
    assert codes(root) == ["AXS404"]
    app = load(root).app
    with TestClient(app) as client:
        with pytest.raises(RuntimeError, match=MESSAGE):
            client.get("/monitoring")


REMOVED = {
    "starlette_on_startup": ("""
        from starlette.applications import Starlette
        from starlette.middleware.gzip import GZipMiddleware


        def install():
            app.add_middleware(GZipMiddleware)


        app = Starlette(on_startup=[install])
    """, TypeError, "on_startup= itself already raises TypeError"),
    "starlette_add_event_handler": ("""
        from starlette.applications import Starlette
        from starlette.middleware.gzip import GZipMiddleware

        app = Starlette()


        def install():
            app.add_middleware(GZipMiddleware)


        app.add_event_handler("startup", install)
    """, AttributeError, "add_event_handler() itself already raises AttributeError"),
    "fastapi_add_event_handler": ("""
        from fastapi import FastAPI
        from starlette.middleware.gzip import GZipMiddleware

        app = FastAPI()


        def install():
            app.add_middleware(GZipMiddleware)


        app.add_event_handler("startup", install)
    """, AttributeError, "add_event_handler() itself already raises AttributeError"),
}


@pytest.mark.skipif(Version(starlette.__version__) < Version("1.0"), reason="Starlette 1.0 removals")
@pytest.mark.parametrize("name", sorted(REMOVED))
def test_on_starlette_1_a_removed_form_fails_itself(tmp_path, name):
    from astack_lint.api import Settings, lint_paths

    source, error, said = REMOVED[name]
    root = write_project(tmp_path, {"app.py": source})
    with pytest.raises(error):
        load(root)
    found = lint_paths([str(root)], Settings(base_dir=str(root))).findings
    assert [f.code for f in found] == ["AXS404"] and said in found[0].message, found


@pytest.mark.skipif(Version(starlette.__version__) < Version("1.0"), reason="Starlette 1.0 removals")
def test_on_starlette_1_fastapi_on_event_still_registers(tmp_path):
    from astack_lint.api import Settings, lint_paths

    root = write_project(tmp_path, {"app.py": """
        import warnings

        from fastapi import FastAPI
        from starlette.middleware.gzip import GZipMiddleware

        app = FastAPI()

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)

            @app.on_event("startup")
            async def install():
                app.add_middleware(GZipMiddleware)
    """})
    app = load(root).app
    with pytest.raises(RuntimeError, match=MESSAGE):
        with TestClient(app):
            pass
    found = lint_paths([str(root)], Settings(base_dir=str(root))).findings
    assert [f.code for f in found] == ["AXS404"] and "already raises" not in found[0].message
