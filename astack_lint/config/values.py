"""Option values from a config file, the command line or flake8: checked and normalised."""

from __future__ import annotations

import re
from typing import Any, List, Tuple

from ..releases.versions import ReleaseConfigError, parse_option
from .options import CODE_SELECTOR, ConfigError, OptionSpec


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

