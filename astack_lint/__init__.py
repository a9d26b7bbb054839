"""astack-lint: finds request-lifecycle bugs in FastAPI and Starlette apps."""

__version__ = "0.1.0"

from .engine import LintError, LintResult, lint_paths  # noqa: E402
from .options import Settings  # noqa: E402
from .results import Finding  # noqa: E402

__all__ = ["Finding", "LintError", "LintResult", "Settings", "__version__", "lint_paths"]
