"""Evaluate nodes whose inputs are all constants (with the ops' NumPy references)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fftc.ir import Graph, GraphBuilder
from fftc.ir.graph_utils import remove_dead
from fftc.ir.interpreter import run_node
from fftc.passes.base import PassContext

#: results larger than this many elements stay computed at run time (2^25: a long
#: convolution's kernel spectrum up to H=768, L=16384 is precomputed; the import-time
#: folding of exporters' shape arithmetic keeps its smaller limit)
FOLD_LIMIT = 1 << 25


@dataclass(frozen=True)
class FoldConstants:
    name: str = "fold-constants"
    doc: str = "Replace nodes whose inputs are all constants by their value."
    requires: frozenset[str] = frozenset({"imported"})
    ensures: frozenset[str] = frozenset({"folded"})

    def run(self, graph: Graph, ctx: PassContext) -> Graph:
        b = GraphBuilder.from_graph(graph)
        mapping: dict[str, str] = {}
        for node in graph.nodes:
            node = node.replace(inputs=tuple(mapping.get(i, i) if i else i for i in node.inputs))
            args = [b.const_value(i) for i in node.inputs if i is not None]
            foldable = all(a is not None for a in args) and all(
                v.type.size <= FOLD_LIMIT for v in node.outputs
            )
            if not foldable:
                b.append(node)
                continue
            values = run_node(node, [None if i is None else b.const_value(i) for i in node.inputs])
            for v, data in zip(node.outputs, values, strict=True):
                mapping[v.name] = b.constant(np.asarray(data).astype(v.type.dtype.numpy()), v.name)
        out = b.build([mapping.get(o, o) for o in graph.outputs], graph.output_names)
        return remove_dead(out)
