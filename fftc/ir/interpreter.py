"""Evaluate a graph with the ops' NumPy references.

Used for constant folding and as the float64 reference in tests
(``precision="float64"`` runs every float computation in double precision).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np

from fftc.ir.graph import Graph, IRError, Node
from fftc.ir.ops import get_op
from fftc.ir.ops.elementwise import CastAttrs
from fftc.ir.types import DType


def _promote(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float64) if np.issubdtype(x.dtype, np.floating) else x


def run_node(node: Node, args: list[np.ndarray | None], float64: bool = False) -> list[np.ndarray]:
    """Evaluate one node on NumPy arrays."""
    opdef = get_op(node.op)
    attrs = node.attrs
    if float64 and isinstance(attrs, CastAttrs) and attrs.to.is_float:
        attrs = CastAttrs(DType.float64)
    return opdef.reference(args, attrs)


def evaluate(
    graph: Graph,
    inputs: Mapping[str, np.ndarray],
    precision: Literal["native", "float64"] = "native",
) -> dict[str, np.ndarray]:
    """Run ``graph``; returns outputs by user-visible output name."""
    f64 = precision == "float64"
    env: dict[str, np.ndarray] = {}
    for v in graph.inputs:
        if v.name not in inputs:
            raise IRError(f"missing input {v.name!r}")
        x = np.asarray(inputs[v.name])
        env[v.name] = _promote(x) if f64 else x
    for c in graph.constants:
        env[c.value.name] = _promote(c.data) if f64 else c.data
    for node in graph.nodes:
        args = [None if i is None else env[i] for i in node.inputs]
        try:
            outs = run_node(node, args, f64)
        except IRError:
            raise
        except Exception as err:
            raise IRError(f"evaluating {node.label}: {err}") from err
        for v, out in zip(node.outputs, outs, strict=True):
            env[v.name] = out
    return {name: env[v] for v, name in zip(graph.outputs, graph.output_names, strict=True)}
