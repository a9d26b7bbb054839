"""``astack-lint --show-settings PATHS``: the options in force, the config file, and the FastAPI /
Starlette releases resolved for the given paths, with where each comes from."""

from __future__ import annotations

import os
from typing import Dict, List, Sequence, Tuple

from ..config.options import OPTIONS, Settings, display_value
from ..engine.discover import discover, find_root, unmarked_root
from ..releases.resolve import Resolver
from ..releases.versions import Releases


def show_settings(paths: Sequence[str], settings: Settings) -> str:
    """The resolved options, the config file, and for the given paths the releases and where they
    come from (one block per distinct answer among the files linted)."""

    def display(path: str) -> str:
        try:
            rel = os.path.relpath(path)
        except ValueError:
            return path
        return path if rel.startswith(".." + os.sep + "..") else rel

    lines = [f"config file: {display(settings.config_path) if settings.config_path else '(none)'}", "options:"]
    for spec in OPTIONS:
        lines.append(f"  {spec.name} = {display_value(spec, getattr(settings, spec.dest))}")
    targets, _errors = discover(list(paths), settings)
    if not targets:
        targets = [os.path.abspath(p) for p in paths]
    resolver = Resolver(settings.fastapi_version, settings.starlette_version)
    groups: Dict[Tuple[str, str, str], Tuple[Releases, List[str]]] = {}
    for t in targets:
        root = find_root(t, unmarked=unmarked_root(t, list(paths)))
        r = resolver.for_path(t, root)
        key = (root, r.fastapi.source.path + r.starlette.source.path, r.cache_key())
        groups.setdefault(key, (r, []))[1].append(t)
    for (root, _src, _k), (r, files) in groups.items():
        where = os.path.commonpath(files) if len(files) > 1 else files[0]
        n = len(files)
        lines.append(f"releases for {n} file{'s' if n != 1 else ''} in {display(where)} (project root {display(root)}):")
        lines.extend("  " + line for line in r.describe(display))
    return "\n".join(lines)
