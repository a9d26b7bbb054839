"""AXS203 against real FastAPI: behind BaseHTTPMiddleware, ``request.is_disconnected()`` never
returns True (current release, FastAPI 0.165 / Starlette 1.10; docs/framework-facts.md part C: Starlette >= 0.21).

The client disconnects right after sending its request (a raw ASGI harness: ``receive`` yields
``http.request`` and then ``http.disconnect``). Without middleware, and behind the suggested pure
ASGI middleware, the endpoint notices; behind ``@app.middleware("http")`` it never does.
"""

from __future__ import annotations

import asyncio

from .harness import codes, load, write_project

ENDPOINT = """

@app.get("/poll")
async def poll(request: Request):
    for _ in range(50):
        if await request.is_disconnected():
            return {"noticed": True}
        await asyncio.sleep(0.01)
    return {"noticed": False}
"""

BAD = """
import asyncio

from fastapi import FastAPI, Request

app = FastAPI()


@app.middleware("http")
async def timing(request, call_next):
    return await call_next(request)
""" + ENDPOINT

FIXED = """
import asyncio

from fastapi import FastAPI, Request


class Timing:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        await self.app(scope, receive, send)


app = FastAPI()
app.add_middleware(Timing)
""" + ENDPOINT


async def _call_and_disconnect(app) -> bytes:
    messages = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive():
        if messages:
            return messages.pop(0)
        return {"type": "http.disconnect"}  # the client is gone

    body = []

    async def send(message):
        if message["type"] == "http.response.body":
            body.append(message.get("body", b""))

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": "/poll", "raw_path": b"/poll", "root_path": "", "query_string": b"",
        "headers": [(b"host", b"testserver")], "client": ("127.0.0.1", 5000), "server": ("testserver", 80),
    }
    await app(scope, receive, send)
    return b"".join(body)


def test_never_true_behind_base_http_middleware(tmp_path):
    root = write_project(tmp_path, {"app.py": BAD})
    assert codes(root) == ["AXS203"]
    app = load(root).app
    assert asyncio.run(_call_and_disconnect(app)) == b'{"noticed":false}'


def test_pure_asgi_middleware_passes_the_disconnect(tmp_path):
    root = write_project(tmp_path, {"app.py": FIXED})
    assert codes(root) == []
    app = load(root).app
    assert asyncio.run(_call_and_disconnect(app)) == b'{"noticed":true}'


STREAMING = """
import asyncio

from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse

app = FastAPI()
log = []


@app.middleware("http")
async def timing(request, call_next):
    return await call_next(request)


@app.get("/poll")
async def stream(request: Request):
    async def events():
        try:
            for _ in range(200):
                if await request.is_disconnected():
                    log.append("noticed")
                    return
                yield b"x"
                await asyncio.sleep(0.01)
            log.append("ran to the end")
        finally:
            log.append("stopped")

    return StreamingResponse(events())
"""


async def _stream_then_disconnect(app) -> None:
    gone = asyncio.Event()
    messages = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive():
        if messages:
            return messages.pop(0)
        await gone.wait()
        return {"type": "http.disconnect"}

    chunks = []

    async def send(message):
        if message["type"] == "http.response.body" and message.get("body"):
            chunks.append(message["body"])
            if len(chunks) >= 3:
                gone.set()  # the client leaves; later sends are dropped, as uvicorn does

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": "/poll", "raw_path": b"/poll", "root_path": "", "query_string": b"",
        "headers": [(b"host", b"testserver")], "client": ("127.0.0.1", 5000), "server": ("testserver", 80),
    }
    await app(scope, receive, send)


def test_streaming_generator_is_cancelled_anyway_and_not_flagged(tmp_path):
    """Why checks inside a streaming body are not reported: behind the middleware too, Starlette
    cancels the generator when the client leaves (it neither notices nor runs to the end)."""
    root = write_project(tmp_path, {"app.py": STREAMING})
    assert codes(root) == []
    mod = load(root)
    asyncio.run(_stream_then_disconnect(mod.app))
    assert mod.log == ["stopped"]
