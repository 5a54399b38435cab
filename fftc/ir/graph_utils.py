"""Small whole-graph transformations used by passes and the importer."""

from __future__ import annotations

from collections.abc import Mapping

from fftc.ir.graph import Graph, IRError, Node


def remove_dead(graph: Graph) -> Graph:
    """Drop nodes and constants that no graph output depends on (inputs stay)."""
    live: set[str] = set(graph.outputs)
    kept: list[Node] = []
    for node in reversed(graph.nodes):
        if any(v.name in live for v in node.outputs):
            kept.append(node)
            live.update(i for i in node.inputs if i is not None)
    constants = tuple(c for c in graph.constants if c.value.name in live)
    return graph.replace(nodes=tuple(reversed(kept)), constants=constants)


def substitute(graph: Graph, mapping: Mapping[str, str]) -> Graph:
    """Make every use of value ``old`` (graph outputs included) a use of
    ``mapping[old]``, then drop what became dead.  Output names do not change."""

    def resolve(name: str) -> str:
        seen = set()
        while name in mapping:
            if name in seen:
                raise IRError(f"substitution cycle through %{name}")
            seen.add(name)
            name = mapping[name]
        return name

    nodes = tuple(
        n.replace(inputs=tuple(None if i is None else resolve(i) for i in n.inputs))
        for n in graph.nodes
    )
    outputs = tuple(resolve(o) for o in graph.outputs)
    return remove_dead(graph.replace(nodes=nodes, outputs=outputs))
