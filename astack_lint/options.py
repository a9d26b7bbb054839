"""Options, declared once: the CLI, pyproject.toml and the flake8 plugin all read this table."""

from __future__ import annotations

import fnmatch
import os
import re
import sys
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple

from .snapshot import note

CODE_SELECTOR = re.compile(r"^[A-Z]{1,3}[0-9]{0,3}$", re.ASCII)

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


class ConfigError(Exception):
    """A bad option value or config key: exit 2 with this message."""


class OptionSpec(NamedTuple):
    name: str  # kebab-case, as in pyproject.toml and on the command line
    kind: str  # "codes", "globs", "strs", "bool", "str", "version", "per-file-ignores"
    default: Any
    help: str
    plugin: bool  # also registered with flake8 (flake8 has its own select/ignore/exclude/...)
    metavar: str = ""
    choices: Tuple[str, ...] = ()  # for kind "str": the values allowed

    @property
    def dest(self) -> str:
        return self.name.replace("-", "_")


OPTIONS: Tuple[OptionSpec, ...] = (
    OptionSpec("select", "codes", None, "codes or prefixes to report (default: all AXS rules)", False, "CODES"),
    OptionSpec("ignore", "codes", None, "codes or prefixes not to report", False, "CODES"),
    OptionSpec("extend-select", "codes", None, "add to the selected codes", False, "CODES"),
    OptionSpec("extend-ignore", "codes", None, "add to the ignored codes", False, "CODES"),
    OptionSpec("exclude", "globs", None, "file or directory patterns to skip (replaces the user list)", False, "PATTERNS"),
    OptionSpec("extend-exclude", "globs", None, "more patterns to skip", False, "PATTERNS"),
    OptionSpec(
        "per-file-ignores",
        "per-file-ignores",
        None,
        'codes to ignore per file pattern, flake8 style: "tests/*:AXS104 app/legacy.py:AXS1"',
        False,
        "MAPPING",
    ),
    OptionSpec("exit-zero", "bool", False, "exit 0 even when there are findings", False),
    OptionSpec("disable-noqa", "bool", False, "report findings even on lines with # noqa", False),
    OptionSpec(
        "output-format",
        "str",
        "text",
        "how to print findings: text, json, sarif (SARIF 2.1.0, for code scanning) or github "
        "(GitHub Actions annotations)",
        False,
        "{text,json,sarif,github}",
        ("text", "json", "sarif", "github"),
    ),
    OptionSpec("statistics", "bool", False, "print a count per code instead of the findings", False),
    OptionSpec("show-source", "bool", False, "print the offending line, with a caret under the column", False),
    OptionSpec(
        "dependency-functions",
        "strs",
        None,
        "glob patterns of qualified function names to treat as FastAPI dependencies "
        "(for libraries whose dependencies are used in another repository), e.g. 'mylib.deps.*'",
        True,
        "PATTERNS",
    ),
    OptionSpec(
        "fastapi-version",
        "version",
        None,
        "the FastAPI release(s) the project runs: a version or a PEP 440 specifier, e.g. 0.110.0 or "
        "'>=0.100,<0.120' (default: read from lock files, requirements, pyproject.toml)",
        True,
        "SPEC",
    ),
    OptionSpec(
        "starlette-version",
        "version",
        None,
        "the Starlette release(s) the project runs, like --fastapi-version",
        True,
        "SPEC",
    ),
)
OPTIONS = OPTIONS + (
    OptionSpec(
        "jobs",
        "int",
        None,
        "files parsed in parallel by this many processes (default: the cores available; 1: no parallelism)",
        False,
        "N",
    ),
    OptionSpec(
        "cache-dir",
        "str",
        None,
        "where to keep the per-file cache (default: $ASTACK_LINT_CACHE_DIR, else the user cache directory)",
        True,
        "DIR",
    ),
    OptionSpec("no-cache", "bool", False, "neither read nor write the cache", True),
)
# fixes: on the command line only (a config file cannot turn them on), never under flake8
CLI_ONLY = ("fix", "unsafe-fixes", "diff")
OPTIONS = OPTIONS + (
    OptionSpec(
        "fix",
        "bool",
        False,
        "apply the safe fixes, then report the findings that remain (standard error counts what was fixed)",
        False,
    ),
    OptionSpec(
        "unsafe-fixes",
        "bool",
        False,
        "with --fix or --diff: apply the unsafe fixes too (they change what the program does at run time)",
        False,
    ),
    OptionSpec(
        "diff",
        "bool",
        False,
        "print the unified diff of what --fix would change, write nothing (exit 1 when there is a diff)",
        False,
    ),
)
OPTIONS_BY_NAME: Dict[str, OptionSpec] = {o.name: o for o in OPTIONS}


def split_list(value: str) -> List[str]:
    """flake8's comma/whitespace-separated list."""
    return [item.strip() for item in re.split(r"[,\s]", value) if item.strip()]


def parse_per_file_ignores(value: Any, where: str) -> List[Tuple[str, List[str]]]:
    """Accepts flake8's string form ("a.py:AXS1,AXS2 b/*:AXS3") or a TOML table {glob = [codes]}."""
    out: List[Tuple[str, List[str]]] = []
    if isinstance(value, dict):
        for pattern, codes in value.items():
            if isinstance(codes, str):
                codes = split_list(codes)
            if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
                raise ConfigError(f"{where}: per-file-ignores: value for {pattern!r} must be a list of codes")
            out.append((pattern, [_check_code(c, where, "per-file-ignores") for c in codes]))
        return out
    if isinstance(value, list):
        value = " ".join(str(v) for v in value)
    if not isinstance(value, str):
        raise ConfigError(f"{where}: per-file-ignores must be a table of pattern = [codes] or a string")
    # flake8's own reading (flake8.utils.parse_files_to_codes_mapping): patterns, a colon, codes;
    # each list separated by commas or whitespace ("tests/*: AXS104, AXS105  a.py,b.py:AXS1")
    files: List[str] = []
    codes: List[str] = []
    seen_sep, seen_colon = True, False

    def flush() -> None:
        if files and not codes:
            raise ConfigError(f"{where}: per-file-ignores: {files[0]!r} has no codes (expected 'pattern:CODES')")
        for f in files:
            out.append((f, list(codes)))

    def unexpected(src: str) -> ConfigError:
        return ConfigError(
            f"{where}: per-file-ignores: cannot read {value.strip()!r} at {src or 'its end'!r} "
            f"(expected 'pattern:CODES' pairs, e.g. 'tests/*:AXS104 app.py:AXS1')"
        )

    for tp, src in _pfi_tokens(value):
        if tp in ("comma", "ws"):
            seen_sep = True
        elif not seen_colon:
            if tp == "eof" and files:
                raise ConfigError(f"{where}: per-file-ignores: {files[0]!r} has no codes (expected 'pattern:CODES')")
            if tp == "eof":
                break
            if tp == "colon":
                seen_colon = seen_sep = True
            elif seen_sep and tp in ("file", "code"):
                files.append(src)
                seen_sep = False
            else:
                raise unexpected(src)
        elif tp == "eof":
            flush()
        elif seen_sep and tp == "code":
            codes.append(_check_code(src, where, "per-file-ignores"))
            seen_sep = False
        elif seen_sep and tp == "file":
            flush()
            files, codes, seen_colon, seen_sep = [src], [], False, False
        else:
            raise unexpected(src)
    return out


_PFI_TOKENS = (
    (re.compile(r"[A-Z]+[0-9]*(?=$|\s|,)"), "code"),
    (re.compile(r"[^\s:,]+"), "file"),
    (re.compile(r"\s*:\s*"), "colon"),
    (re.compile(r"\s*,\s*"), "comma"),
    (re.compile(r"\s+"), "ws"),
)


def _pfi_tokens(value: str) -> List[Tuple[str, str]]:
    tokens: List[Tuple[str, str]] = []
    i = 0
    while i < len(value):
        for regex, tp in _PFI_TOKENS:
            m = regex.match(value, i)
            if m:
                tokens.append((tp, m.group().strip()))
                i = m.end()
                break
    tokens.append(("eof", ""))
    return tokens


def _label(where: str, key: str) -> str:
    """``--select`` or ``flake8 option select`` already name the option; a config file does not."""
    return where if where.endswith(key) else f"{where}: {key}"


def _check_code(code: str, where: str, key: str) -> str:
    code = code.strip()
    if not CODE_SELECTOR.match(code):
        raise ConfigError(f"{_label(where, key)}: {code!r} is not a code or code prefix (expected e.g. AXS101 or AXS1)")
    return code


def coerce(spec: OptionSpec, value: Any, where: str) -> Any:
    """Check and normalise one option value from a config file or the command line."""
    key = spec.name
    label = _label(where, key)
    if spec.kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        raise ConfigError(f"{label} must be true or false, got {value!r}")
    if spec.kind == "per-file-ignores":
        return parse_per_file_ignores(value, where)
    if spec.kind == "int":
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{label} must be a whole number of at least 1, got {value!r}")
        return value
    if spec.kind == "version":
        from .releases import ReleaseConfigError, parse_option

        if not isinstance(value, str):
            raise ConfigError(f"{label} must be a string (a version or a specifier), got {value!r}")
        try:
            parse_option(value)
        except ReleaseConfigError as exc:
            raise ConfigError(f"{label}: {exc}") from None
        return value.strip()
    if spec.kind == "str":
        if not isinstance(value, str):
            raise ConfigError(f"{label} must be a string, got {value!r}")
        if spec.choices:
            if value.strip().lower() not in spec.choices:
                raise ConfigError(f"{label} must be one of {', '.join(spec.choices)}, got {value!r}")
            return value.strip().lower()
        return value
    if isinstance(value, str):
        items = split_list(value)
    elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        items = [v.strip() for v in value if v.strip()]
    else:
        raise ConfigError(f"{label} must be a list of strings, got {value!r}")
    if spec.kind == "codes":
        items = [_check_code(c, where, key) for c in items]
    return items


class Settings:
    """The resolved options for a run."""

    def __init__(self, values: Optional[Dict[str, Any]] = None, base_dir: Optional[str] = None) -> None:
        self.values: Dict[str, Any] = {o.dest: o.default for o in OPTIONS}
        if values:
            self.values.update(values)
        self.base_dir = os.path.abspath(base_dir or os.getcwd())
        self.config_path: Optional[str] = None

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["values"][name]
        except KeyError:
            raise AttributeError(name) from None

    # selection, as flake8 decides it ------------------------------------------------------
    def is_selected(self, code: str, extra_ignore: Sequence[str] = ()) -> bool:
        """flake8's DecisionEngine: an explicit choice (--select/--extend-select, --ignore/
        --extend-ignore) beats the implicit default selection of every AXS code; between two
        explicit matches the longest prefix wins, and a tie ignores."""
        select = self.values["select"]
        explicit = [s for s in list(select or []) + list(self.values["extend_select"] or []) if code.startswith(s)]
        implicit = ["AXS"] if select is None and code.startswith("AXS") else []
        ignore = list(self.values["ignore"] or []) + list(self.values["extend_ignore"] or []) + list(extra_ignore)
        ign = [i for i in ignore if code.startswith(i)]
        if not ign:
            return bool(explicit or implicit)
        if not explicit:
            return False
        return max(len(s) for s in explicit + implicit) > max(len(i) for i in ign)

    # excludes ------------------------------------------------------------------------------
    def exclude_patterns(self) -> List[str]:
        pats = list(self.values["exclude"] or []) + list(self.values["extend_exclude"] or [])
        return pats

    def is_excluded(self, path: str) -> bool:
        pats = self.exclude_patterns()
        if not pats:
            return False
        absolute = os.path.abspath(path)
        base = os.path.basename(absolute.rstrip(os.sep))
        rel = os.path.relpath(absolute, self.base_dir)
        for pat in pats:
            pat = pat.rstrip("/") or pat
            if fnmatch.fnmatch(base, pat):
                return True
            full = os.path.normpath(os.path.join(self.base_dir, pat)) if not os.path.isabs(pat) else pat
            if fnmatch.fnmatch(absolute, full) or fnmatch.fnmatch(rel, pat):
                return True
        return False

    def per_file_ignored(self, path: str, code: str) -> bool:
        """As flake8: of the patterns that match the file, the longest (after making patterns with a
        '/' absolute) applies alone, and its codes join --extend-ignore for that file."""
        entries = self.values["per_file_ignores"] or []
        if not entries:
            return False
        absolute = os.path.abspath(path)
        rel = os.path.relpath(absolute, self.base_dir)
        base = os.path.basename(absolute)
        best: Optional[Tuple[int, List[str]]] = None
        for pattern, codes in entries:
            full = os.path.normpath(os.path.join(self.base_dir, pattern))
            if fnmatch.fnmatch(rel, pattern) or fnmatch.fnmatch(absolute, full) or fnmatch.fnmatch(base, pattern):
                size = len(full) if "/" in pattern else len(pattern)
                if best is None or size > best[0]:
                    best = (size, list(codes))
        if best is None or not code.startswith(tuple(best[1])):
            return False
        return not self.is_selected(code, best[1])

    def cache_key(self) -> str:
        return repr(sorted((k, repr(v)) for k, v in self.values.items()))


# ---------------------------------------------------------------------------------------------
# config files


def _load_toml(path: str) -> Dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.9/3.10
        import tomli as tomllib
    note(path)
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


def find_config(start: str) -> Optional[str]:
    """The nearest pyproject.toml, from ``start`` upwards, that has a [tool.astack-lint] table."""
    d = os.path.abspath(start)
    while True:
        cand = os.path.join(d, "pyproject.toml")
        if os.path.isfile(cand):
            try:
                data = _load_toml(cand)
            except ConfigError:
                if _mentions_us(cand):
                    raise  # our table is (probably) in there: do not lint with the defaults silently
                data = {}
            if isinstance(data.get("tool"), dict) and "astack-lint" in data["tool"]:
                return cand
        parent = os.path.dirname(d)
        if parent == d:
            return None
        d = parent


def _mentions_us(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            return b"astack-lint" in fh.read()
    except OSError:
        return False


def read_config(path: str) -> Dict[str, Any]:
    """Options from a config file, checked: pyproject.toml's [tool.astack-lint], or a TOML file whose
    top level holds the options."""
    data = _load_toml(path)
    table = data.get("tool", {}).get("astack-lint") if isinstance(data.get("tool"), dict) else None
    where = f"{path}: [tool.astack-lint]"
    if table is None:
        if os.path.basename(path) == "pyproject.toml":
            return {}
        table, where = data, path
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table")
    out: Dict[str, Any] = {}
    for key, value in table.items():
        spec = OPTIONS_BY_NAME.get(key)
        if spec is not None and spec.name in CLI_ONLY:
            raise ConfigError(f"{where}: {key!r} can only be given on the command line (--{key})")
        if spec is None:
            close = [n for n in OPTIONS_BY_NAME if n.replace("-", "") == key.replace("_", "").replace("-", "")]
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{where}: unknown key {key!r}{hint}; expected one of: {', '.join(OPTIONS_BY_NAME)}")
        out[spec.dest] = coerce(spec, value, where)
    return out


def load_settings(cli_values: Dict[str, Any], config_path: Optional[str] = None, cwd: Optional[str] = None) -> Settings:
    """Config file values, overridden by the command line's."""
    cwd = os.path.abspath(cwd or os.getcwd())
    path = config_path or find_config(cwd)
    values: Dict[str, Any] = {}
    base = cwd
    if path:
        values.update(read_config(path))
        base = os.path.dirname(os.path.abspath(path))
    settings_values = {k: v for k, v in values.items()}
    for k, v in cli_values.items():
        if v is not None:
            settings_values[k] = v
    settings = Settings(settings_values, base_dir=base)
    settings.config_path = path
    return settings


def dependency_patterns_match(patterns: Sequence[str], qualname: str) -> bool:
    return any(fnmatch.fnmatchcase(qualname, p) for p in patterns or ())
