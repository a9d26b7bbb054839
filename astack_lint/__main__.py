"""``python -m astack_lint``: the console entry point.

``-m`` puts the working directory first on ``sys.path``, so a repository being linted could shadow
the standard library with its own ``hashlib.py`` or ``json.py`` and have it run. That entry is
dropped before anything else is imported (``sys`` is built in; ``os`` is loaded at start-up)."""

import os
import sys

if __name__ == "__main__" and sys.path:
    try:
        _cwd = os.getcwd()
    except OSError:
        _cwd = None
    if sys.path[0] in ("", ".") or (_cwd is not None and os.path.abspath(sys.path[0]) == _cwd):
        del sys.path[0]

from .cli.main import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
