"""astack-lint: finds request-lifecycle bugs in FastAPI and Starlette apps.

The library's entry points are in ``astack_lint.api`` (``lint_paths``, ``fix_paths``, ``Settings``).
This module holds only the version: the command line's replay imports it and nothing heavy.
"""

__version__ = "0.1.0"
