"""A script for pinned-release venvs (old Starlette's TestClient does not work with today's httpx):
it calls an app through raw ASGI and prints, per path, the response status and the name of the
exception the app raised to the server (which a server would log), as JSON.

Usage in a proof: write ``RUNNER`` as ``run.py`` next to ``bad.py``, then
``run_script(python, root, "run.py", "bad", "GET", "/a", "/b")`` -> ``{"/a": [404, null], ...}``.
"""

RUNNER = """
import asyncio, importlib, json, sys
sys.path.insert(0, ".")
module, method, paths = sys.argv[1], sys.argv[2], sys.argv[3:]
app = importlib.import_module(module).app


async def call(path):
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
             "root_path": "", "headers": [(b"host", b"testserver")], "client": ("127.0.0.1", 1),
             "server": ("testserver", 80)}
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    raised = None
    try:
        await app(scope, receive, send)
    except BaseException as exc:
        raised = type(exc).__name__
    status = next((m["status"] for m in sent if m["type"] == "http.response.start"), None)
    return [status, raised]


async def main():
    print(json.dumps({p: await call(p) for p in paths}))


asyncio.run(main())
"""


def result(proc) -> dict:
    import json

    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])
