"""The rule registry: every module ``axsNNN.py`` of the rules package is a rule, loaded by name on
first use (rules bring LibCST with them: a run that needs no rule never loads either)."""

from __future__ import annotations

import importlib
import os
import pkgutil
import re
from typing import Dict, List

from .api import Rule

PACKAGE = __name__.rsplit(".", 1)[0]
_PATH = [os.path.dirname(os.path.abspath(__file__))]

_RULE_MODULE = re.compile(r"^axs\d{3}$")
_REGISTRY: Dict[str, Rule] = {}


def all_rules() -> List[Rule]:
    if not _REGISTRY:
        for info in sorted(pkgutil.iter_modules(_PATH), key=lambda i: i.name):
            if not _RULE_MODULE.match(info.name):
                continue
            module = importlib.import_module(f"{PACKAGE}.{info.name}")
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
