"""The names of the files and directories astack-lint looks for, in one place.

Discovery (project-root markers, directories it never walks into), the configuration
(``pyproject.toml``), release resolution (lock and requirements files) and the whole-command replay
(which watches exactly these names to know that nothing changed) all take them from here.
"""

from __future__ import annotations

import os

# the nearest directory holding one of these is a file's project root (``marks_root``)
ROOT_MARKERS = ("pyproject.toml", "setup.cfg", "setup.py", ".git")
# a ``setup.py`` beside this is a module of a package (``onyx/setup.py``), not a packaging script
PACKAGE_MARKER = "__init__.py"
# where the options live ([tool.astack-lint]), and where release constraints may be declared
CONFIG_FILE = "pyproject.toml"
# lock files, in the order they are read (``pylock.*.toml`` too: see ``is_lock_file``)
LOCK_FILES = ("uv.lock", "poetry.lock", "pdm.lock", "Pipfile.lock", "pylock.toml")
# ``requirements*.txt`` in a directory, and every ``*.txt`` of a ``requirements/`` directory
REQUIREMENTS_DIR = "requirements"
# a directory holding this is a virtual environment: never walked
VENV_MARKER = "pyvenv.cfg"
# directories never walked (plus ``*.egg-info``, virtual environments and the user's excludes)
DEFAULT_EXCLUDE_DIRS = (
    ".git",
    ".hg",
    ".svn",
    ".venv",
    "venv",
    "__pycache__",
    "build",
    "dist",
    ".tox",
    ".nox",
    "node_modules",
    "site-packages",
    ".eggs",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
)
# above a project root only these are looked for (root markers, the config, a workspace's lock)
ABOVE_NAMES = frozenset(ROOT_MARKERS + (CONFIG_FILE, PACKAGE_MARKER) + LOCK_FILES)


def marks_root(directory: str, exists=None) -> bool:
    """Does ``directory`` hold a root marker? A ``setup.py`` counts only outside a package: one
    beside an ``__init__.py`` is the package's own module. ``exists``: ``os.path.exists``."""
    exists = exists or os.path.exists
    for m in ROOT_MARKERS:
        if exists(os.path.join(directory, m)):
            if m == "setup.py" and exists(os.path.join(directory, PACKAGE_MARKER)):
                continue
            return True
    return False


def is_lock_file(name: str) -> bool:
    return name in LOCK_FILES or (name.startswith("pylock.") and name.endswith(".toml"))


def is_requirements_file(name: str) -> bool:
    return name.startswith("requirements") and name.endswith(".txt")
