"""Dead code elimination."""

from __future__ import annotations

from dataclasses import dataclass

from fftc.ir import Graph
from fftc.ir.graph_utils import remove_dead
from fftc.passes.base import PassContext


@dataclass(frozen=True)
class DeadCodeElimination:
    name: str = "dce"
    doc: str = "Drop nodes and constants no output depends on."
    requires: frozenset[str] = frozenset()
    ensures: frozenset[str] = frozenset({"no-dead-code"})

    def run(self, graph: Graph, ctx: PassContext) -> Graph:
        return remove_dead(graph)
