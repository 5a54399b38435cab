"""GraphBuilder: how the importer and passes make graphs.

It hands out unique value names, infers every node's output types from its
op's shape rule as the node is added, and produces an immutable
:class:`~fftc.ir.graph.Graph`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np

from fftc.ir.graph import Attrs, Constant, Graph, IRError, NoAttrs, Node, Value
from fftc.ir.graph_utils import remove_dead
from fftc.ir.ops import get_op
from fftc.ir.types import TensorType

_UNSAFE = re.compile(r"[^A-Za-z0-9_.]+")


class GraphBuilder:
    """Accumulates inputs, constants and nodes; ``build`` returns the Graph."""

    def __init__(self, name: str, reserved: Iterable[str] = ()) -> None:
        self.name = name
        self.inputs: list[Value] = []
        self.constants: list[Constant] = []
        self.nodes: list[Node] = []
        self._types: dict[str, TensorType] = {}
        self._const: dict[str, np.ndarray] = {}
        self._taken: set[str] = set(reserved)
        self._counter = 0

    @staticmethod
    def from_graph(graph: Graph, keep_nodes: bool = False) -> GraphBuilder:
        """A builder holding ``graph``'s inputs and constants (and nodes if asked)."""
        b = GraphBuilder(graph.name, reserved=graph.values.keys())
        for v in graph.inputs:
            b.inputs.append(v)
            b._types[v.name] = v.type
        for c in graph.constants:
            b.constants.append(c)
            b._types[c.value.name] = c.value.type
            b._const[c.value.name] = c.data
        if keep_nodes:
            for n in graph.nodes:
                b.append(n)
        return b

    # -- names ---------------------------------------------------------------------------
    def fresh(self, hint: str = "t") -> str:
        """A value name not used yet, derived from ``hint``."""
        base = _UNSAFE.sub("_", hint).strip("_") or "t"
        name = base
        while name in self._taken:
            self._counter += 1
            name = f"{base}_{self._counter}"
        self._taken.add(name)
        return name

    def claim(self, name: str) -> str:
        """Use exactly ``name`` (a user-visible name); it must still be free."""
        if name in self._taken:
            raise IRError(f"value name %{name} is already used")
        self._taken.add(name)
        return name

    # -- queries -------------------------------------------------------------------------
    def type_of(self, name: str) -> TensorType:
        try:
            return self._types[name]
        except KeyError:
            raise IRError(f"no value %{name}") from None

    def const_value(self, name: str | None) -> np.ndarray | None:
        return None if name is None else self._const.get(name)

    def has(self, name: str) -> bool:
        return name in self._types

    # -- construction --------------------------------------------------------------------
    def input(self, name: str, ttype: TensorType) -> str:
        self.claim(name)
        self.inputs.append(Value(name, ttype))
        self._types[name] = ttype
        return name

    def constant(self, data: np.ndarray, hint: str = "const", exact_name: bool = False) -> str:
        name = self.claim(hint) if exact_name else self.fresh(hint)
        c = Constant.of(name, np.asarray(data))
        self.constants.append(c)
        self._types[name] = c.value.type
        self._const[name] = c.data
        return name

    def node(
        self,
        op: str,
        inputs: Sequence[str | None],
        attrs: Attrs | None = None,
        *,
        name: str = "",
        outputs: Sequence[str] | None = None,
        exact_names: bool = False,
    ) -> list[str]:
        """Add ``op(inputs) {attrs}``; returns the output value names."""
        opdef = get_op(op)
        attrs = attrs if attrs is not None else NoAttrs()
        where = f"{op} {name!r}" if name else op
        opdef.check_arity(len(inputs), where)
        types = [None if i is None else self.type_of(i) for i in inputs]
        out_types = opdef.infer(types, attrs)
        hints = list(outputs) if outputs is not None else [op] * len(out_types)
        if len(hints) != len(out_types):
            raise IRError(f"{where}: {len(hints)} output names for {len(out_types)} outputs")
        names = [self.claim(h) if exact_names else self.fresh(h) for h in hints]
        values = tuple(Value(n, t) for n, t in zip(names, out_types, strict=True))
        self.append(Node(op, tuple(inputs), values, attrs, name))
        return names

    def node1(
        self,
        op: str,
        inputs: Sequence[str | None],
        attrs: Attrs | None = None,
        *,
        name: str = "",
        output: str | None = None,
        exact_name: bool = False,
    ) -> str:
        """Add a single-output node and return its output name."""
        outs = None if output is None else [output]
        return self.node(op, inputs, attrs, name=name, outputs=outs, exact_names=exact_name)[0]

    def append(self, node: Node) -> None:
        """Append an already typed node (its output names must be fresh)."""
        for v in node.outputs:
            self._taken.add(v.name)
            self._types[v.name] = v.type
        self.nodes.append(node)

    def build(
        self, outputs: Sequence[str], output_names: Sequence[str] = (), prune: bool = False
    ) -> Graph:
        for o in outputs:
            self.type_of(o)
        g = Graph(
            self.name,
            tuple(self.inputs),
            tuple(self.constants),
            tuple(self.nodes),
            tuple(outputs),
            tuple(output_names),
        )
        return remove_dead(g) if prune else g
