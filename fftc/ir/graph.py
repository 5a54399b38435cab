"""fftc's graph IR: immutable values, nodes and graphs.

A :class:`Graph` is a list of :class:`Node` in topological order over named
SSA values.  Graph inputs, constants and node outputs each define one value;
nodes refer to their inputs by value name (``None`` for an omitted optional
input).  Everything is frozen: passes build new graphs (``dataclasses.replace``
or :class:`fftc.ir.builder.GraphBuilder`) and never mutate.

Each node carries a typed, frozen attribute object whose class belongs to its
op (see :mod:`fftc.ir.ops`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from fftc.ir.types import DType, IRError, TensorType

__all__ = ["Attrs", "Constant", "Graph", "IRError", "NoAttrs", "Node", "Value"]


@dataclass(frozen=True)
class Attrs:
    """Base class of per-op attributes: a frozen dataclass of plain values."""

    def replace(self, **changes: Any) -> Any:
        return dataclasses.replace(self, **changes)

    def items(self) -> Iterator[tuple[str, Any]]:
        for f in dataclasses.fields(self):
            yield f.name, getattr(self, f.name)


@dataclass(frozen=True)
class NoAttrs(Attrs):
    """For ops without attributes."""


@dataclass(frozen=True)
class Value:
    """A named, typed SSA value."""

    name: str
    type: TensorType

    def __str__(self) -> str:
        return f"%{self.name}: {self.type}"


@dataclass(frozen=True)
class Node:
    """One operation: ``outputs = op(inputs) {attrs}``.

    ``name`` is where the node came from (the ONNX node name), for messages.
    """

    op: str
    inputs: tuple[str | None, ...]
    outputs: tuple[Value, ...]
    attrs: Attrs = field(default_factory=NoAttrs)
    name: str = ""

    def replace(self, **changes: Any) -> Node:
        return dataclasses.replace(self, **changes)

    @property
    def output(self) -> Value:
        """The single output (for single-output ops)."""
        if len(self.outputs) != 1:
            raise IRError(f"node {self.label} has {len(self.outputs)} outputs")
        return self.outputs[0]

    @property
    def label(self) -> str:
        """How messages name this node: ``op 'name'`` or ``op -> %out``."""
        if self.name:
            return f"{self.op} {self.name!r}"
        outs = ", ".join(f"%{v.name}" for v in self.outputs)
        return f"{self.op} -> {outs}"


@dataclass(frozen=True, eq=False)
class Constant:
    """A value whose data is known at compile time (an ONNX initializer)."""

    value: Value
    data: np.ndarray

    def __post_init__(self) -> None:
        data = np.asarray(self.data)
        if tuple(data.shape) != self.value.type.shape:
            raise IRError(
                f"constant %{self.value.name}: data shape {data.shape} "
                f"!= declared {self.value.type.shape}"
            )
        if DType.from_numpy(data.dtype) != self.value.type.dtype:
            raise IRError(
                f"constant %{self.value.name}: data dtype {data.dtype} "
                f"!= declared {self.value.type.dtype.value}"
            )
        if data.flags.writeable:
            data = data.copy()
            data.flags.writeable = False
        object.__setattr__(self, "data", data)

    @staticmethod
    def of(name: str, data: np.ndarray) -> Constant:
        data = np.asarray(data)
        ttype = TensorType(tuple(int(d) for d in data.shape), DType.from_numpy(data.dtype))
        return Constant(Value(name, ttype), data)


@dataclass(frozen=True, eq=False)
class Graph:
    """A whole model: inputs, constants, nodes (topologically ordered), outputs."""

    name: str
    inputs: tuple[Value, ...]
    constants: tuple[Constant, ...]
    nodes: tuple[Node, ...]
    outputs: tuple[str, ...]
    #: the user-visible output names (ONNX's); by default the value names
    output_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.output_names:
            object.__setattr__(self, "output_names", tuple(self.outputs))
        if len(self.output_names) != len(self.outputs):
            raise IRError("graph: one output name per output value is needed")

    def replace(self, **changes: Any) -> Graph:
        return dataclasses.replace(self, **changes)

    @cached_property
    def values(self) -> Mapping[str, Value]:
        """Every value defined in the graph, by name."""
        table: dict[str, Value] = {}
        for v in self.inputs:
            table[v.name] = v
        for c in self.constants:
            table[c.value.name] = c.value
        for n in self.nodes:
            for v in n.outputs:
                table[v.name] = v
        return table

    @cached_property
    def constant_data(self) -> Mapping[str, np.ndarray]:
        return {c.value.name: c.data for c in self.constants}

    @cached_property
    def producers(self) -> Mapping[str, Node]:
        return {v.name: n for n in self.nodes for v in n.outputs}

    @cached_property
    def users(self) -> Mapping[str, tuple[Node, ...]]:
        table: dict[str, list[Node]] = {}
        for n in self.nodes:
            for name in n.inputs:
                if name is not None:
                    table.setdefault(name, []).append(n)
        return {k: tuple(v) for k, v in table.items()}

    def value(self, name: str) -> Value:
        try:
            return self.values[name]
        except KeyError:
            raise IRError(f"no value %{name} in graph {self.name!r}") from None

    def type_of(self, name: str) -> TensorType:
        return self.value(name).type

    def const(self, name: str | None) -> np.ndarray | None:
        """The data of a constant value, or None if ``name`` is not a constant."""
        if name is None:
            return None
        return self.constant_data.get(name)

    @property
    def output_values(self) -> tuple[Value, ...]:
        return tuple(self.value(n) for n in self.outputs)

    def count_ops(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for n in self.nodes:
            counts[n.op] = counts.get(n.op, 0) + 1
        return counts
