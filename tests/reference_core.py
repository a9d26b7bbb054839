"""The reference for model/collect.py: the LibCST collector that built the core facts before they were
taken from CPython's ``ast`` (kept here only to check that both agree, position for position).
tests/test_core_facts.py runs both over every fixture and over tricky snippets."""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from astack_lint.cst.visitors import FastBatchable, FileContext, Summarizer, dotted_name
from astack_lint.model.facts import (
    Binding,
    CallFact,
    ClassFact,
    Expr,
    FileFacts,
    FunctionFact,
    ImportFact,
    Param,
    SubscriptAssign,
    comp_scope,
)


def reference_facts(path: str, text: str) -> FileFacts:
    module = cst.parse_module(text)
    facts = FileFacts(path)
    ctx = FileContext(facts, module)
    MetadataWrapper(module, unsafe_skip_copy=True).visit_batched([CoreCollector(ctx)])
    facts.index()
    return facts


class CoreCollector(FastBatchable, cst.BatchableCSTVisitor):
    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, ctx: FileContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.facts = ctx.facts
        self.summarize = Summarizer(self.pos)
        # per open function: [qualname, is_generator, returns, self_name]
        self._fn_stack: List[list] = []
        self._awaited_calls: set = set()
        self._decorator_calls: Dict[int, Tuple[str, str]] = {}

    def pos(self, node: cst.CSTNode) -> Tuple[int, int]:
        start = self.get_metadata(PositionProvider, node).start
        return start.line, start.column

    # scopes ---------------------------------------------------------------------------------
    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        ctx = self.ctx
        qualname = ctx.qualname_for(node.name.value)
        ctx.qualnames[id(node)] = qualname
        for dec in node.decorators:
            if isinstance(dec.decorator, cst.Call):
                self._decorator_calls[id(dec.decorator)] = (qualname, ctx.scope)
        self_name = None
        cls = ctx.scope_stack[-1][0] if ctx.scope_stack and ctx.scope_stack[-1][1] == "class" else None
        if cls is not None:
            ps = list(node.params.posonly_params) + list(node.params.params)
            is_static = any(dotted_name(d.decorator) == "staticmethod" for d in node.decorators)
            if ps and not is_static:
                self_name = ps[0].name.value
        self._fn_stack.append([qualname, False, [], self_name, cls, ctx.scope, node])
        ctx.scope_stack.append((qualname, "function"))

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        qualname, is_gen, returns, _self_name, cls, scope, _ = self._fn_stack.pop()
        self.ctx.scope_stack.pop()
        s = self.summarize
        params: List[Param] = []
        p = node.params
        for kind, seq in (("posonly", p.posonly_params), ("pos", p.params), ("kwonly", p.kwonly_params)):
            for prm in seq:
                params.append(
                    Param(prm.name.value, s(prm.annotation.annotation) if prm.annotation else None, s(prm.default), kind)
                )
        if isinstance(p.star_arg, cst.Param):
            prm = p.star_arg
            params.append(Param(prm.name.value, s(prm.annotation.annotation) if prm.annotation else None, None, "star"))
        if p.star_kwarg is not None:
            prm = p.star_kwarg
            params.append(Param(prm.name.value, s(prm.annotation.annotation) if prm.annotation else None, None, "starstar"))
        line, col = self.pos(node)
        end = self.get_metadata(PositionProvider, node).end.line
        self.facts.functions[qualname] = FunctionFact(
            qualname=qualname,
            scope=scope,
            name=node.name.value,
            is_async=node.asynchronous is not None,
            is_generator=is_gen,
            params=tuple(params),
            decorators=tuple(s(d.decorator) for d in node.decorators),
            returns=tuple(returns),
            class_qualname=cls,
            line=line,
            col=col,
            end_line=end,
        )

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        ctx = self.ctx
        qualname = ctx.qualname_for(node.name.value)
        ctx.qualnames[id(node)] = qualname
        for dec in node.decorators:
            if isinstance(dec.decorator, cst.Call):
                self._decorator_calls[id(dec.decorator)] = (qualname, ctx.scope)
        line, col = self.pos(node)
        self.facts.classes[qualname] = ClassFact(
            qualname, ctx.scope, node.name.value, tuple(self.summarize(a.value) for a in node.bases if not a.keyword), line, col
        )
        ctx.scope_stack.append((qualname, "class"))

    def leave_ClassDef(self, node: cst.ClassDef) -> None:
        self.ctx.scope_stack.pop()

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self._fn_stack.append(None)  # a yield in a lambda is not the enclosing function's

    def leave_Lambda(self, node: cst.Lambda) -> None:
        self._fn_stack.pop()

    # generator / return ---------------------------------------------------------------------
    def visit_Yield(self, node: cst.Yield) -> None:
        if self._fn_stack and self._fn_stack[-1] is not None:
            self._fn_stack[-1][1] = True

    def visit_Return(self, node: cst.Return) -> None:
        if self._fn_stack and self._fn_stack[-1] is not None and node.value is not None:
            if len(self._fn_stack[-1][2]) < 8:
                self._fn_stack[-1][2].append(self.summarize(node.value))

    # imports --------------------------------------------------------------------------------
    def visit_Import(self, node: cst.Import) -> None:
        line, _ = self.pos(node)
        for alias in node.names:
            full = dotted_name(alias.name) or ""
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                self.facts.imports.append(ImportFact(self.ctx.scope, alias.asname.name.value, full, None, 0, line))
            else:
                head = full.split(".")[0]
                self.facts.imports.append(ImportFact(self.ctx.scope, head, head, None, 0, line))
                if "." in full:
                    # ``import a.b`` binds ``a`` but also makes ``a.b`` reachable
                    self.facts.imports.append(ImportFact(self.ctx.scope, full, full, None, 0, line))

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        line, _ = self.pos(node)
        module = dotted_name(node.module) if node.module is not None else ""
        level = len(node.relative)
        if isinstance(node.names, cst.ImportStar):
            self.facts.imports.append(ImportFact(self.ctx.scope, "*", module or "", None, level, line))
            return
        for alias in node.names:
            name = dotted_name(alias.name) or ""
            local = name
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                local = alias.asname.name.value
            self.facts.imports.append(ImportFact(self.ctx.scope, local, module or "", name, level, line))

    # bindings -------------------------------------------------------------------------------
    def _bind_target(self, target: cst.BaseExpression, value: Optional[cst.BaseExpression], annotation=None) -> None:
        if value is None:
            return
        ctx = self.ctx
        if isinstance(target, cst.Name):
            line, col = self.pos(target)
            self.facts.bindings.append(
                Binding(ctx.scope, target.value, self.summarize(value), self.summarize(annotation), line, col)
            )
        elif isinstance(target, cst.Attribute):
            dotted = dotted_name(target)
            if dotted is None:
                return
            line, col = self.pos(target)
            scope = ctx.scope
            fn = self._fn_stack[-1] if self._fn_stack else None
            if fn is not None and fn[3] and dotted.split(".", 1)[0] == fn[3] and fn[4] is not None:
                # self.x = ... in a method: an attribute of the class's instances
                dotted = "self." + dotted.split(".", 1)[1]
                scope = fn[4]
            self.facts.bindings.append(Binding(scope, dotted, self.summarize(value), self.summarize(annotation), line, col))
        elif isinstance(target, cst.Subscript):
            line, col = self.pos(target)
            self.facts.subscript_assigns.append(
                SubscriptAssign(ctx.scope, self.summarize(target), self.summarize(value), line, col)
            )

    def visit_Assign(self, node: cst.Assign) -> None:
        for t in node.targets:
            self._bind_target(t.target, node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._bind_target(node.target, node.value, node.annotation.annotation)

    def visit_For(self, node: cst.For) -> None:
        # ``for router in routers:`` binds ``router`` to each item of ``routers``
        if isinstance(node.target, cst.Name):
            line, col = self.pos(node.target)
            each = Expr("each", self.summarize(node.iter), line=line, col=col)
            self.facts.bindings.append(Binding(self.ctx.scope, node.target.value, each, None, line, col))

    # comprehensions: a scope of their own, each ``for`` target bound to each item ------------
    def _enter_comp(self, node: cst.CSTNode) -> None:
        line, col = self.pos(node)
        self.ctx.scope_stack.append((comp_scope(self.ctx.scope, line, col), "comp"))

    def _leave_comp(self, node: cst.CSTNode) -> None:
        self.ctx.scope_stack.pop()

    visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = _enter_comp
    leave_ListComp = leave_SetComp = leave_GeneratorExp = leave_DictComp = _leave_comp

    def visit_CompFor(self, node: cst.CompFor) -> None:
        if isinstance(node.target, cst.Name):
            line, col = self.pos(node.target)
            each = Expr("each", self.summarize(node.iter), line=line, col=col)
            self.facts.bindings.append(Binding(self.ctx.scope, node.target.value, each, None, line, col))

    # calls ----------------------------------------------------------------------------------
    def visit_Await(self, node: cst.Await) -> None:
        if isinstance(node.expression, cst.Call):
            self._awaited_calls.add(id(node.expression))

    def visit_Call(self, node: cst.Call) -> None:
        rng = self.get_metadata(PositionProvider, node)
        decorates, scope = self._decorator_calls.get(id(node), (None, self.ctx.scope))
        self.facts.calls.append(
            CallFact(
                scope,
                self.summarize(node),
                id(node) in self._awaited_calls,
                decorates,
                rng.end.line,
                rng.end.column,
            )
        )
