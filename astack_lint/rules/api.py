"""What a rule is, and what it sees.

A rule is one module ``astack_lint/rules/axsNNN.py`` holding one ``Rule`` subclass. Its module
docstring is its documentation (ruff's shape: What it does / Why is this bad? / Example /
Use instead / Fix safety / References). A rule may declare a ``collector``: a LibCST visitor
(``cst.visitors.RuleCollector``) that keeps what the rule needs from the concrete tree in
``facts.rule_data[code]`` (``ctx.data``). All collectors run in one batched traversal of a file, the
first time any rule reads that file's rule data, so read ``ctx.data`` only once the project model
(the core facts, from ``ast``) says a finding is possible. ``check`` runs once per linted file that
passes the rule's prefilter, with the whole project model at hand.
"""

from __future__ import annotations

import inspect
import os
import sys
from typing import Any, FrozenSet, Iterable, List, Optional, Tuple

from ..model.facts import FileFacts
from ..model.project import Project
from ..releases.affected import Hit
from ..releases.resolve import Resolver
from ..releases.versions import Releases
from ..results import Finding, Fix


class CheckContext:
    """What ``Rule.check`` gets: the project, the file being linted, the options, and the run's
    release resolution."""

    def __init__(self, rule: "Rule", project: Project, facts: FileFacts, settings: Any, resolver: Resolver) -> None:
        self.rule = rule
        self.project = project
        self.facts = facts
        self.settings = settings
        self.resolver = resolver
        self.findings: List[Finding] = []

    @property
    def data(self) -> Any:
        return self.facts.rule_data.get(self.rule.code, [])

    @property
    def releases(self) -> Releases:
        """The FastAPI / Starlette releases this file's project can run (see ``releases/``)."""
        return self.resolver.for_path(self.facts.path, self.project.root)

    def affected_hits(self, affected: Optional[Iterable[Any]] = None) -> List[Hit]:
        """The rule's affected ranges (default: ``rule.affected``) that the project's possible
        releases meet. Empty: the harm cannot happen on any release the project runs; stay quiet."""
        return self.releases.hits(self.rule.affected if affected is None else affected)

    def explain_releases(self, hits: List[Hit]) -> str:
        """``your constraint fastapi>=0.100 (pyproject.toml) admits 0.106.0-0.117.1, where ...``"""
        return self.releases.explain(hits)

    def report(
        self,
        line: int,
        col: int,
        message: str,
        end_line: Optional[int] = None,
        end_col: Optional[int] = None,
        fix: Optional[Fix] = None,
    ) -> None:
        self.findings.append(Finding(self.rule.code, message, self.facts.path, line, col, end_line, end_col, fix))

    def relpath(self, path: str) -> str:
        try:
            rel = os.path.relpath(path, self.project.root)
        except ValueError:
            return path
        return path if rel.startswith("..") else rel


class Rule:
    code: str = ""
    name: str = ""  # kebab-case slug
    summary: str = ""  # one line, for the README table and ``rule --all``
    collector: Optional[type] = None
    # prefilter: a file that contains none of these byte strings cannot be reported by this rule and
    # is not parsed for it (empty: every linted file is parsed). Must never cause a miss: the
    # fixtures are all linted with the prefilter on.
    tokens: Tuple[bytes, ...] = ()
    # the rule can only report in a project where some file names ``fastapi`` or ``starlette`` (its
    # finding needs a FastAPI/Starlette symbol, or a literal such as "fastapi_astack"): in any other
    # project (a Django site, a library) the engine neither parses files for it nor runs it
    needs_framework: bool = True
    # release-dependent rules: the releases where the pattern does harm (``releases.affected.Affected`` rows,
    # or plain (fastapi specifier, starlette specifier, symptom) tuples), from docs/framework-facts.md
    affected: Tuple[Any, ...] = ()
    # the releases its proof tests (tests/proofs/) ran the pattern on against the real framework:
    # FastAPI releases, "0.165.0/1.10.0" with the Starlette release it ran with; the docs list them
    proven_on: Tuple[str, ...] = ()

    def wants(self, project: Project, path: str, present: FrozenSet[bytes], settings: Any = None) -> bool:
        """Must this linted file (not yet parsed) be parsed for this rule? ``present``: which of the
        prefilter tokens occur in it. Rules may refine this with what the project knows."""
        return not self.tokens or any(t in present for t in self.tokens)

    def check(self, ctx: CheckContext) -> Iterable[Finding]:  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def doc(cls) -> str:
        module = sys.modules[cls.__module__]
        return inspect.cleandoc(module.__doc__ or "")
