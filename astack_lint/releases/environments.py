"""The project's own environment, found from the project root whatever interpreter runs the linter
(the command line in the project's venv, flake8 in another, pre-commit's isolated one): the FastAPI
and Starlette releases installed there, read from their ``*.dist-info/METADATA``, never imported.

Where an environment may be, in this order (the first that holds fastapi or starlette answers):

- ``VIRTUAL_ENV``, when it lies under the project root;
- ``UV_PROJECT_ENVIRONMENT`` (uv), relative to the project root;
- Hatch's default environment when its config gives it a path under the project
  (``[tool.hatch.envs.default] path`` in pyproject.toml, ``[envs.default] path`` in hatch.toml);
- the interpreter PDM records in ``.pdm-python``, when it lies under the project;
- ``.venv`` (uv's, Poetry's ``virtualenvs.in-project``, PDM's and ``python -m venv .venv``),
  ``venv`` and ``env``, each only with a ``pyvenv.cfg``.
"""

from __future__ import annotations

import glob
import os
import re
from typing import Dict, List, Optional, Tuple

from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from .. import tomlfile
from ..layout import CONFIG_FILE, VENV_MARKER
from ..results import ReadLog
from .versions import Answer, Source

# directories at the project root that hold a virtual environment when they have a pyvenv.cfg
ENV_DIRS = (".venv", "venv", "env")
_DISTS = {"fastapi": "fastapi", "fastapi-slim": "fastapi", "starlette": "starlette"}


def _under(path: str, root: str) -> bool:
    path = os.path.normcase(os.path.realpath(path))
    root = os.path.normcase(os.path.realpath(root))
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _hatch_path(root: str, log: Optional[ReadLog]) -> Optional[str]:
    for name, keys in (("hatch.toml", ("envs",)), (CONFIG_FILE, ("tool", "hatch", "envs"))):
        path = os.path.join(root, name)
        if log is not None:
            log.file(path)
        if not os.path.isfile(path):
            continue
        try:
            data = tomlfile.load(path)
        except tomlfile.ERRORS:
            continue
        for key in keys + ("default",):
            data = data.get(key) if isinstance(data, dict) else None
        if isinstance(data, dict) and isinstance(data.get("path"), str):
            return os.path.join(root, data["path"])
    return None


def _pdm_env(root: str, log: Optional[ReadLog]) -> Optional[str]:
    path = os.path.join(root, ".pdm-python")
    if log is not None:
        log.file(path)
    try:
        with open(path, encoding="utf-8") as fh:
            interpreter = fh.read().strip()
    except OSError:
        return None
    if not interpreter:
        return None
    # <env>/bin/python or <env>\Scripts\python.exe
    return os.path.dirname(os.path.dirname(os.path.join(root, interpreter)))


def candidates(root: str, log: Optional[ReadLog] = None) -> List[str]:
    """The environments under the project root that may be the project's, in the order they are tried."""
    out: List[str] = []
    venv = os.environ.get("VIRTUAL_ENV")
    if venv:
        out.append(venv)
    uv = os.environ.get("UV_PROJECT_ENVIRONMENT")
    if uv:
        out.append(os.path.join(root, uv))
    for found in (_hatch_path(root, log), _pdm_env(root, log)):
        if found:
            out.append(found)
    for name in ENV_DIRS:
        env = os.path.join(root, name)
        marker = os.path.join(env, VENV_MARKER)
        if log is not None:
            log.file(marker)
        if os.path.isfile(marker):
            out.append(env)
    seen = set()
    kept = []
    for env in out:
        key = os.path.normcase(os.path.realpath(env))
        if key not in seen and os.path.isdir(env) and _under(env, root):
            seen.add(key)
            kept.append(env)
    return kept


def site_packages(env: str) -> List[str]:
    esc = glob.escape(env)
    found = sorted(glob.glob(os.path.join(esc, "lib", "python*", "site-packages")))
    found += sorted(glob.glob(os.path.join(esc, "lib64", "python*", "site-packages")))
    found += glob.glob(os.path.join(esc, "Lib", "site-packages"))
    return [p for p in found if os.path.isdir(p)]


_HEADER = re.compile(r"^(Name|Version):\s*(.*?)\s*$", re.M | re.I)


def _metadata(path: str) -> Tuple[str, str]:
    """Name and Version from a METADATA file's header."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            head = fh.read(64 * 1024)
    except OSError:
        return "", ""
    head = re.split(r"\r?\n\r?\n", head, maxsplit=1)[0]
    fields: Dict[str, str] = {}
    for m in _HEADER.finditer(head):
        fields.setdefault(m.group(1).lower(), m.group(2))
    return fields.get("name", ""), fields.get("version", "")


def installed_versions(paths: List[str]) -> Dict[str, List[str]]:
    """package -> the versions installed in these site-packages directories."""
    versions: Dict[str, List[str]] = {}
    for site in paths:
        try:
            names = os.listdir(site)
        except OSError:
            continue
        for entry in sorted(names):
            if not entry.endswith(".dist-info"):
                continue
            dist = canonicalize_name(entry[: -len(".dist-info")].split("-")[0])
            if dist not in _DISTS:
                continue
            name, version = _metadata(os.path.join(site, entry, "METADATA"))
            pkg = _DISTS.get(canonicalize_name(name)) if name else None
            if pkg is None or not version:
                continue
            try:
                Version(version)
            except InvalidVersion:
                continue
            if version not in versions.setdefault(pkg, []):
                versions[pkg].append(version)
    return versions


def environment_answer(root: str, log: Optional[ReadLog] = None) -> Optional[Answer]:
    """The releases installed in the project's own environment under ``root`` (None: no such
    environment, or none of its distributions is fastapi or starlette)."""
    for env in candidates(root, log):
        paths = site_packages(env)
        if log is not None:
            for p in paths:
                log.file(p)  # an install or removal changes the directory (cache/replay.py)
        ans = installed_answer(env, installed_versions(paths))
        if ans is not None:
            return ans
    return None


def installed_answer(where: str, versions: Dict[str, List[str]]) -> Optional[Answer]:
    """What an environment's installed versions say (None: neither package is installed)."""
    if not versions:
        return None
    constraints = {p: tuple(SpecifierSet(f"=={v}") for v in vs) for p, vs in versions.items()}
    texts = {p: f"{p}==" + " or ==".join(vs) for p, vs in versions.items()}
    return Answer(Source("installed", where, "installed distributions"), constraints, texts, {p: True for p in constraints})
