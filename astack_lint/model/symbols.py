"""The framework names astack-lint knows, under every public path that reaches them.

A rule never compares raw source text with a name: it asks the project model to resolve an
expression to a qualified name, then looks the qualified name up here. A user's own class that
happens to be called ``Middleware`` resolves to the user's module and so never matches.
"""

from __future__ import annotations

from typing import Dict, FrozenSet

# symbol id -> every qualified name under which FastAPI / Starlette / typing expose it
_PATHS: Dict[str, tuple] = {
    "FastAPI": ("fastapi.FastAPI", "fastapi.applications.FastAPI"),
    "Starlette": ("starlette.applications.Starlette", "starlette.Starlette"),
    "APIRouter": ("fastapi.APIRouter", "fastapi.routing.APIRouter"),
    "Router": ("starlette.routing.Router",),
    "Mount": ("starlette.routing.Mount", "fastapi.routing.Mount"),
    "Route": ("starlette.routing.Route", "starlette.routing.WebSocketRoute"),
    "Host": ("starlette.routing.Host",),
    "Middleware": ("starlette.middleware.Middleware", "fastapi.middleware.Middleware"),
    "AsyncExitStackMiddleware": ("fastapi.middleware.asyncexitstack.AsyncExitStackMiddleware",),
    "asyncexitstack_module": ("fastapi.middleware.asyncexitstack",),
    "BaseHTTPMiddleware": (
        "starlette.middleware.base.BaseHTTPMiddleware",
        # third-party subclasses (read in their sources: slowapi 0.1.4 and 0.1.10, starlette-context
        # 0.3.6 and 0.5.1, starlette-prometheus 0.9.0 and 0.10.0, fastapi-guard 6.0.0 and 8.1.2)
        "slowapi.middleware.SlowAPIMiddleware",
        "guard.SecurityMiddleware",
        "guard.middleware.SecurityMiddleware",
        "starlette_context.middleware.ContextMiddleware",
        "starlette_context.middleware.context_middleware.ContextMiddleware",
        "starlette_prometheus.PrometheusMiddleware",
        "starlette_prometheus.middleware.PrometheusMiddleware",
    ),
    "Depends": (
        "fastapi.Depends",
        "fastapi.param_functions.Depends",
        "fastapi.params.Depends",
    ),
    "Security": (
        "fastapi.Security",
        "fastapi.param_functions.Security",
        "fastapi.params.Security",
    ),
    "Annotated": ("typing.Annotated", "typing_extensions.Annotated"),
    "BackgroundTasks": (
        "fastapi.BackgroundTasks",
        "fastapi.background.BackgroundTasks",
        "starlette.background.BackgroundTasks",
    ),
    "BackgroundTask": ("starlette.background.BackgroundTask",),
    "UploadFile": (
        "fastapi.UploadFile",
        "fastapi.datastructures.UploadFile",
        "starlette.datastructures.UploadFile",
    ),
    "HTTPException": (
        "fastapi.HTTPException",
        "fastapi.exceptions.HTTPException",
        "starlette.exceptions.HTTPException",
    ),
    "Request": ("fastapi.Request", "fastapi.requests.Request", "starlette.requests.Request"),
    "StreamingResponse": (
        "fastapi.responses.StreamingResponse",
        "starlette.responses.StreamingResponse",
    ),
}

# Response classes: any of them takes ``background=``.
_RESPONSES = (
    "Response",
    "JSONResponse",
    "HTMLResponse",
    "PlainTextResponse",
    "RedirectResponse",
    "StreamingResponse",
    "FileResponse",
    "ORJSONResponse",
    "UJSONResponse",
    "EventSourceResponse",
)
_PATHS["Response"] = tuple(
    [f"fastapi.responses.{n}" for n in _RESPONSES]
    + [f"starlette.responses.{n}" for n in _RESPONSES]
    + ["fastapi.Response", "fastapi.sse.EventSourceResponse", "sse_starlette.EventSourceResponse",
       "sse_starlette.sse.EventSourceResponse"]
)

SYMBOLS: Dict[str, FrozenSet[str]] = {k: frozenset(v) for k, v in _PATHS.items()}
_BY_PATH: Dict[str, str] = {}
for _sid, _paths in _PATHS.items():
    for _p in _paths:
        _BY_PATH.setdefault(_p, _sid)

# The exit-stack names FastAPI's own AsyncExitStackMiddleware has used by default.
DEFAULT_STACK_NAMES = ("fastapi_middleware_astack", "fastapi_astack")
# Scope keys that belong to FastAPI's internals.
INTERNAL_SCOPE_KEYS = (
    "fastapi_astack",
    "fastapi_middleware_astack",
    "fastapi_inner_astack",
    "fastapi_function_astack",
)


def symbol_of(qualified_name: "str | None") -> "str | None":
    """The symbol id a fully qualified name denotes, or None."""
    if not qualified_name:
        return None
    return _BY_PATH.get(qualified_name)


def is_symbol(qualified_name: "str | None", *symbol_ids: str) -> bool:
    return symbol_of(qualified_name) in symbol_ids
