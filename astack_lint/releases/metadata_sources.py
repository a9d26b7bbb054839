"""What a project's packaging metadata says about the FastAPI and Starlette releases it runs, when
it has no lock file, requirements file or pyproject.toml table that says it: ``setup.cfg``,
``setup.py`` (read statically, never run), and the metadata a build leaves at the project root
(``PKG-INFO`` of a source distribution, ``*.dist-info/METADATA``, ``*.egg-info/requires.txt``).

Within one directory they are read in that order, after the sources of ``sources.py``; the first
that answers wins. As everywhere, what every installation has (``install_requires``, a
``Requires-Dist`` without an ``extra`` marker) holds for all installations; otherwise the extras
are alternatives, any of which may be the one installed.
"""

from __future__ import annotations

import ast
import configparser
import glob
import os
import re
from typing import Dict, List, Optional, Tuple

from ..results import ReadLog
from .sources import _answer, _cached, _combine, _read_requirements, _Req, _req, _warn, alternatives_answer
from .versions import Answer

SETUP_CFG = "setup.cfg"
SETUP_PY = "setup.py"
PKG_INFO = "PKG-INFO"

Parts = List[Tuple[str, List[_Req]]]  # (where in the file, its requirements)


def _answer_from(kind: str, path: str, base: Parts, extras: Parts) -> Optional[Answer]:
    """Base requirements when they answer, else the extras as alternatives."""
    found = _combine([r for _w, reqs in base for r in reqs])
    if found:
        return _answer(kind, path, ", ".join(dict.fromkeys(w for w, reqs in base if reqs)), found)
    return alternatives_answer(kind, path, extras)


def _lines_reqs(text: str) -> List[_Req]:
    out = []
    for line in text.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", line).strip()
        if line:
            r = _req(line)
            if r is not None:
                out.append(r)
    return out


# -- setup.cfg ----------------------------------------------------------------------------------


def _parse_setup_cfg(path: str) -> Optional[Tuple[Parts, Parts]]:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            parser.read_file(fh)
    except (OSError, configparser.Error) as exc:
        _warn(path, "setup.cfg", exc)
        return None
    base: Parts = []
    extras: Parts = []
    if parser.has_option("options", "install_requires"):
        base.append(("[options] install_requires", _lines_reqs(parser.get("options", "install_requires"))))
    if parser.has_section("options.extras_require"):
        for name, value in parser.items("options.extras_require"):
            extras.append((f"[options.extras_require] {name}", _lines_reqs(value)))
    return base, extras


def setup_cfg_answer(directory: str, log: Optional[ReadLog] = None) -> Optional[Answer]:
    path = os.path.join(directory, SETUP_CFG)
    if not os.path.isfile(path):
        return None
    parsed = _cached("setup.cfg", path, _parse_setup_cfg, log)
    return _answer_from("setup", path, *parsed) if parsed else None


# -- setup.py, read from its syntax tree --------------------------------------------------------


class _SetupPy:
    """The literal values ``setup(install_requires=..., extras_require=...)`` is given: a list or
    tuple of strings, a module-level name bound once to one, or a requirements file read with
    ``open(FILE).read().splitlines()`` (or ``.readlines()``, also through ``with open(FILE) as f``).
    Anything else is unknown: never guessed, never run."""

    def __init__(self, path: str, tree: ast.Module) -> None:
        self.path = path
        self.dir = os.path.dirname(path)
        self.bindings: Dict[str, List[ast.expr]] = {}
        self.handles: Dict[str, ast.expr] = {}  # with open(...) as f: the file expression of f
        self.included: List[str] = []
        for node in tree.body:
            self._bind(node)

    def _bind(self, node: ast.stmt) -> None:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    self.bindings.setdefault(target.id, []).append(node.value)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            self.bindings.setdefault(node.target.id, []).append(node.value)
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            self.bindings.setdefault(node.target.id, []).append(node)  # type: ignore[arg-type]  # not one value
        elif isinstance(node, ast.With):
            for item in node.items:
                if isinstance(item.optional_vars, ast.Name) and _is_open(item.context_expr):
                    self.handles[item.optional_vars.id] = item.context_expr
            for inner in node.body:
                self._bind(inner)

    def value(self, node: Optional[ast.expr], depth: int = 0) -> Optional[List[_Req]]:
        """The requirements an expression certainly holds (None: not known statically)."""
        if node is None or depth > 5:
            return None
        if isinstance(node, (ast.List, ast.Tuple)):
            out = []
            for elt in node.elts:
                if not (isinstance(elt, ast.Constant) and isinstance(elt.value, str)):
                    return None
                r = _req(elt.value)
                if r is not None:
                    out.append(r)
            return out
        if isinstance(node, ast.Name):
            bound = self.bindings.get(node.id)
            if bound is None or len(bound) != 1:
                return None  # unbound, or rebound / extended: not one constant list
            return self.value(bound[0], depth + 1)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and not node.args and not node.keywords:
            method = node.func.attr
            inner = node.func.value
            if method == "splitlines" and isinstance(inner, ast.Call) and isinstance(inner.func, ast.Attribute) \
                    and inner.func.attr == "read" and not inner.args:
                return self._file_lines(inner.func.value)
            if method == "readlines":
                return self._file_lines(inner)
        return None

    def _file_lines(self, handle: ast.expr) -> Optional[List[_Req]]:
        if isinstance(handle, ast.Name):
            handle = self.handles.get(handle.id)  # type: ignore[assignment]
        if handle is None or not _is_open(handle):
            return None
        name = _file_name(handle.args[0])  # type: ignore[attr-defined]
        if name is None:
            return None
        full = os.path.normpath(os.path.join(self.dir, name))
        self.included.append(full)
        reqs, included = _read_requirements(full)
        self.included.extend(included)
        return reqs


def _is_open(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ("open", "io.open")
        and bool(node.args)
    ) or (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "open"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id in ("io", "codecs")
        and bool(node.args)
    )


def _file_name(node: ast.expr) -> Optional[str]:
    """``"requirements.txt"``, or the literal parts of ``os.path.join(HERE, "requirements.txt")``
    (HERE: the directory of setup.py, as such scripts compute it)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Call) and len(node.args) >= 2 and not node.keywords:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        rest = node.args[1:]
        if name == "join" and all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in rest):
            return os.path.join(*(a.value for a in rest))  # type: ignore[attr-defined]
    return None


def _setup_calls(tree: ast.Module) -> List[ast.Call]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name == "setup":
                out.append(node)
    return out


def _parse_setup_py(path: str) -> Optional[Tuple[Parts, Parts, List[str]]]:
    try:
        with open(path, "rb") as fh:
            tree = ast.parse(fh.read(), filename=path)
    except (OSError, SyntaxError, ValueError, RecursionError) as exc:
        _warn(path, "setup.py", exc)
        return None
    reader = _SetupPy(path, tree)
    base: Parts = []
    extras: Parts = []
    for call in _setup_calls(tree):
        kwargs = {k.arg: k.value for k in call.keywords if k.arg}
        reqs = reader.value(kwargs.get("install_requires"))
        if reqs is not None:
            base.append(("setup(install_requires=...)", reqs))
        table = kwargs.get("extras_require")
        if isinstance(table, ast.Name) and len(reader.bindings.get(table.id, ())) == 1:
            table = reader.bindings[table.id][0]
        if isinstance(table, ast.Dict):
            for key, value in zip(table.keys, table.values):
                reqs = reader.value(value)
                if isinstance(key, ast.Constant) and isinstance(key.value, str) and reqs is not None:
                    extras.append((f"setup(extras_require={{{key.value!r}: ...}})", reqs))
    return base, extras, reader.included


def setup_py_answer(directory: str, log: Optional[ReadLog] = None) -> Optional[Answer]:
    path = os.path.join(directory, SETUP_PY)
    if not os.path.isfile(path):
        return None
    parsed = _cached("setup.py", path, _parse_setup_py, log)
    if not parsed:
        return None
    base, extras, included = parsed
    if log is not None:
        for p in included:
            log.file(p)
    return _answer_from("setup", path, base, extras)


# -- metadata a build leaves: PKG-INFO, *.dist-info/METADATA, *.egg-info/requires.txt -----------

_EXTRA = re.compile(r"""\bextra\s*==\s*['"]([^'"]*)['"]""")


def _parse_metadata(path: str) -> Optional[Tuple[Parts, Parts]]:
    """``Requires-Dist`` headers (core metadata, PEP 566): one ``extra == "x"`` marker makes a
    requirement part of that extra."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    except OSError:
        return None
    header = re.split(r"\r?\n\r?\n", text, maxsplit=1)[0]
    base: List[_Req] = []
    extras: Dict[str, List[_Req]] = {}
    for line in header.splitlines():
        name, sep, value = line.partition(":")
        if not sep or name.strip().lower() != "requires-dist":
            continue
        value = value.strip()
        r = _req(value)
        if r is None:
            continue
        m = _EXTRA.search(value.partition(";")[2])
        if m:
            extras.setdefault(m.group(1), []).append(r)
        else:
            base.append(r)
    return [("Requires-Dist", base)], [(f"Requires-Dist extra {k!r}", v) for k, v in extras.items()]


def _parse_requires_txt(path: str) -> Optional[Tuple[Parts, Parts]]:
    """setuptools' ``requires.txt``: unmarked lines, then ``[extra]``, ``[:marker]`` or
    ``[extra:marker]`` sections."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    except OSError:
        return None
    base: List[_Req] = []
    extras: Dict[str, List[_Req]] = {}
    section: Optional[Tuple[str, bool]] = None  # (extra, has a marker)
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            extra, _, marker = line[1:-1].partition(":")
            section = (extra.strip(), bool(marker.strip()))
            continue
        r = _req(line)
        if r is None:
            continue
        if section is None:
            base.append(r)
        elif section[0]:
            extras.setdefault(section[0], []).append(r._replace(marked=r.marked or section[1]))
        else:
            base.append(r._replace(marked=True))  # [:python_version < "3.8"]
    return [("requires.txt", base)], [(f"requires.txt [{k}]", v) for k, v in extras.items()]


def metadata_files(directory: str) -> List[Tuple[str, str]]:
    """(kind, path) of the built metadata at a project root, in the order they are read."""
    out = []
    pkg_info = os.path.join(directory, PKG_INFO)
    if os.path.isfile(pkg_info):
        out.append(("PKG-INFO", pkg_info))
    esc = glob.escape(directory)
    out += [("METADATA", p) for p in sorted(glob.glob(os.path.join(esc, "*.dist-info", "METADATA"))) if os.path.isfile(p)]
    out += [("requires.txt", p) for p in sorted(glob.glob(os.path.join(esc, "*.egg-info", "requires.txt"))) if os.path.isfile(p)]
    return out


def metadata_answer(directory: str, log: Optional[ReadLog] = None) -> Optional[Answer]:
    for kind, path in metadata_files(directory):
        parse = _parse_requires_txt if kind == "requires.txt" else _parse_metadata
        parsed = _cached(kind, path, parse, log)
        if parsed:
            ans = _answer_from("metadata", path, *parsed)
            if ans is not None:
                return ans
    return None


# -- one directory ------------------------------------------------------------------------------

READERS = (setup_cfg_answer, setup_py_answer, metadata_answer)


def _may_answer(directory: str) -> bool:
    try:
        names = os.listdir(directory)
    except OSError:
        return True
    return any(n in (SETUP_CFG, SETUP_PY, PKG_INFO) or n.endswith((".dist-info", ".egg-info")) for n in names)


def packaging_answer(directory: str, log: Optional[ReadLog] = None, at_root: bool = True) -> Optional[Answer]:
    """What a directory's setup.cfg, setup.py or built metadata says (the first that answers). The
    built metadata only at the project root (``at_root``): a ``src/NAME.egg-info`` left by an
    editable install is not the project's declaration."""
    if not _may_answer(directory):
        return None
    for read in READERS if at_root else READERS[:-1]:
        ans = read(directory, log)
        if ans is not None:
            return ans
    return None
