"""Options from config files: ``[tool.astack-lint]`` in the nearest pyproject.toml (or the TOML file
``--config`` names), overridden by the command line."""

from __future__ import annotations

import os
from typing import Any, Dict, Optional

from .. import tomlfile
from ..layout import CONFIG_FILE
from ..results import ReadLog
from ..source import SourceError, read_bytes
from .options import CLI_ONLY, OPTIONS_BY_NAME, ConfigError, Settings
from .values import coerce


def _load_toml(path: str, reads: Optional[ReadLog]) -> Dict[str, Any]:
    if reads is not None:
        reads.file(path)
    try:
        return tomlfile.load(path)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror or exc}") from None
    except SourceError as exc:  # a FIFO, a device, a huge file: never read
        raise ConfigError(f"{path}: cannot read config: {exc}") from None
    except (tomlfile.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: invalid TOML: {_one_line(exc)}") from None
    except (RecursionError, MemoryError) as exc:
        raise ConfigError(f"{path}: invalid TOML: nested too deeply to read ({type(exc).__name__})") from None


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def find_config(start: str, reads: Optional[ReadLog] = None) -> Optional[str]:
    """The nearest pyproject.toml, from ``start`` upwards, that has a [tool.astack-lint] table."""
    d = os.path.abspath(start)
    while True:
        cand = os.path.join(d, CONFIG_FILE)
        if os.path.isfile(cand):
            try:
                data = _load_toml(cand, reads)
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
        return b"astack-lint" in read_bytes(path, tomlfile.MAX_TOML_BYTES, "read")
    except SourceError:
        return False


def read_config(path: str, reads: Optional[ReadLog] = None) -> Dict[str, Any]:
    """Options from a config file, checked: pyproject.toml's [tool.astack-lint], or a TOML file whose
    top level holds the options."""
    data = _load_toml(path, reads)
    table = data.get("tool", {}).get("astack-lint") if isinstance(data.get("tool"), dict) else None
    where = f"{path}: [tool.astack-lint]"
    if table is None:
        if os.path.basename(path) == CONFIG_FILE:
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


def load_settings(
    cli_values: Dict[str, Any],
    config_path: Optional[str] = None,
    cwd: Optional[str] = None,
    reads: Optional[ReadLog] = None,
) -> Settings:
    """Config file values, overridden by the command line's."""
    cwd = os.path.abspath(cwd or os.getcwd())
    path = config_path or find_config(cwd, reads)
    values: Dict[str, Any] = {}
    base = cwd
    if path:
        values.update(read_config(path, reads))
        base = os.path.dirname(os.path.abspath(path))
    for k, v in cli_values.items():
        if v is not None:
            values[k] = v
    return Settings.from_values(values, base_dir=base, config_path=path)
