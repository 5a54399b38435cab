"""Pattern + check + rewrite.

A :class:`RewriteRule` names what it does (``"reshape(reshape(x)) => reshape(x)"``),
matches nodes by op, ``check`` returns ``None`` when the rule applies or a
readable reason why it does not, and ``rewrite`` emits the replacement into a
:class:`GraphBuilder` and returns the values that replace the node's outputs.
:class:`RewritePass` applies a list of rules in one forward sweep, repeated
until nothing changes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fftc.ir import Graph, GraphBuilder, Node
from fftc.ir.graph_utils import remove_dead
from fftc.passes.base import PassContext


@dataclass(frozen=True)
class Match:
    """What a rule sees: the node (inputs already renamed) and the graph so far."""

    node: Node
    b: GraphBuilder
    graph: Graph
    #: the pass options of the compile (``PassContext.options``)
    options: Mapping[str, Any] = field(default_factory=dict)

    def producer(self, name: str | None) -> Node | None:
        """The node that produced ``name`` in the graph being rewritten."""
        if name is None:
            return None
        for n in reversed(self.b.nodes):
            if any(v.name == name for v in n.outputs):
                return n
        return None

    def users(self, name: str) -> int:
        return len(self.graph.users.get(name, ()))

    def is_output(self, name: str) -> bool:
        return name in self.graph.outputs

    def fresh(self, name: str) -> bool:
        """Whether ``name`` was made by a rewrite in this sweep (its users in the graph
        being rewritten are not known: they are, next sweep)."""
        return name not in self.graph.producers

    def feeds_only(self, name: str) -> bool:
        """Whether ``name`` is read by exactly one node and is no graph output (False for
        a value made in this sweep: see :meth:`fresh`)."""
        return not self.fresh(name) and self.users(name) == 1 and not self.is_output(name)


CheckFn = Callable[[Match], str | None]
RewriteFn = Callable[[Match], Sequence[str]]


@dataclass(frozen=True)
class RewriteRule:
    name: str
    ops: tuple[str, ...]
    check: CheckFn
    rewrite: RewriteFn
    #: record applications and refusals as decisions (for --explain)
    explain: bool = False
    #: the reason recorded when the rule applies (default: "pattern matched")
    why: Callable[[Match], str] | None = None
    #: nodes worth a decision when refused (default: every node of ``ops``)
    candidate: Callable[[Match], bool] | None = None


@dataclass(frozen=True)
class RewritePass:
    name: str
    doc: str
    rules: tuple[RewriteRule, ...]
    requires: frozenset[str] = frozenset()
    ensures: frozenset[str] = frozenset()
    max_sweeps: int = 8

    def run(self, graph: Graph, ctx: PassContext) -> Graph:
        for _ in range(self.max_sweeps):
            graph, changed = self._sweep(graph, ctx)
            if not changed:
                break
        return graph

    def _sweep(self, graph: Graph, ctx: PassContext) -> tuple[Graph, bool]:
        b = GraphBuilder.from_graph(graph)
        mapping: dict[str, str] = {}
        changed = False
        for node in graph.nodes:
            node = node.replace(
                inputs=tuple(None if i is None else mapping.get(i, i) for i in node.inputs)
            )
            replaced = False
            for rule in self.rules:
                if node.op not in rule.ops:
                    continue
                match = Match(node, b, graph, ctx.options)
                reason = rule.check(match)
                if reason is not None:
                    if rule.explain and (rule.candidate is None or rule.candidate(match)):
                        ctx.decide(self.name, node.label, f"not {rule.name}", reason)
                    continue
                why = rule.why(match) if rule.why is not None else "pattern matched"
                new = list(rule.rewrite(match))
                if rule.explain:
                    ctx.decide(self.name, node.label, rule.name, why)
                for old, value in zip(node.outputs, new, strict=True):
                    if value != old.name:
                        mapping[old.name] = value
                replaced = changed = True
                break
            if not replaced:
                b.append(node)
        if not changed:
            return graph, False
        out = b.build([mapping.get(o, o) for o in graph.outputs], graph.output_names)
        return remove_dead(out), True
