"""astack-lint: finds request-lifecycle bugs in FastAPI and Starlette apps."""

from typing import Any

__version__ = "0.1.0"

__all__ = ["Finding", "LintError", "LintResult", "Settings", "__version__", "lint_paths"]

# the names below are imported on first use: the command line (snapshot.py) starts with nothing
# but this package's version
_HOMES = {"Finding": "results", "LintError": "results", "LintResult": "results", "Settings": "options", "lint_paths": "engine"}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'astack_lint' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value
