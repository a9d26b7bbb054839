"""The rule registry: every module ``axsNNN.py`` in this package is a rule."""

from __future__ import annotations

import importlib
import pkgutil
import re
from typing import Dict, List

from ..rule import Rule

_RULE_MODULE = re.compile(r"^axs\d{3}$")
_REGISTRY: Dict[str, Rule] = {}


def all_rules() -> List[Rule]:
    if not _REGISTRY:
        for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
            if not _RULE_MODULE.match(info.name):
                continue
            module = importlib.import_module(f"{__name__}.{info.name}")
            found = [
                obj
                for obj in vars(module).values()
                if isinstance(obj, type) and issubclass(obj, Rule) and obj is not Rule and obj.__module__ == module.__name__
            ]
            if len(found) != 1 or found[0].code.lower() != info.name:
                raise RuntimeError(f"rule module {info.name} must define exactly one Rule with code {info.name.upper()}")
            _REGISTRY[found[0].code] = found[0]()
    return [_REGISTRY[c] for c in sorted(_REGISTRY)]


def get_rule(code: str) -> Rule:
    all_rules()
    return _REGISTRY[code.upper()]
