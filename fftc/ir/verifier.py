"""The IR verifier: run between passes (always in tests, ``--verify-each`` in the CLI).

It checks that the graph is well formed (unique SSA names, every use after
its definition, known ops with the right arity and attribute class) and that
every node's declared output types equal what its op's shape rule infers.
All problems are reported at once.
"""

from __future__ import annotations

from fftc.ir.graph import Graph, IRError
from fftc.ir.ops import get_op
from fftc.ir.types import TensorType


def verify(graph: Graph) -> None:
    """Raise :class:`IRError` listing every problem found in ``graph``."""
    problems: list[str] = []
    defined: dict[str, TensorType] = {}

    def define(name: str, ttype: TensorType, where: str) -> None:
        if name in defined:
            problems.append(f"{where}: value %{name} is defined twice")
        defined[name] = ttype

    for v in graph.inputs:
        define(v.name, v.type, "input")
    for c in graph.constants:
        define(c.value.name, c.value.type, "constant")

    for node in graph.nodes:
        where = f"node {node.label}"
        try:
            opdef = get_op(node.op)
        except IRError as err:
            problems.append(f"{where}: {err}")
            continue
        if not isinstance(node.attrs, opdef.attrs):
            problems.append(
                f"{where}: attributes are {type(node.attrs).__name__}, "
                f"expected {opdef.attrs.__name__}"
            )
            continue
        try:
            opdef.check_arity(len(node.inputs), where)
        except IRError as err:
            problems.append(str(err))
            continue
        in_types: list[TensorType | None] = []
        ok = True
        for i, name in enumerate(node.inputs):
            slot = opdef.inputs[min(i, len(opdef.inputs) - 1)]
            if name is None:
                if not slot.endswith("?"):
                    problems.append(f"{where}: required input {slot} is missing")
                    ok = False
                in_types.append(None)
            elif name not in defined:
                problems.append(f"{where}: input %{name} is used before it is defined")
                ok = False
            else:
                in_types.append(defined[name])
        if ok:
            try:
                inferred = opdef.infer(in_types, node.attrs)
            except IRError as err:
                problems.append(f"{where}: {err}")
                inferred = None
            if inferred is not None:
                declared = [v.type for v in node.outputs]
                if len(inferred) != len(declared):
                    problems.append(
                        f"{where}: {len(declared)} outputs declared, op gives {len(inferred)}"
                    )
                for v, want in zip(node.outputs, inferred, strict=False):
                    if v.type != want:
                        problems.append(f"{where}: %{v.name} is declared {v.type}, infers {want}")
        for v in node.outputs:
            define(v.name, v.type, where)

    if len(set(graph.output_names)) != len(graph.output_names):
        problems.append(f"graph output names repeat: {list(graph.output_names)}")
    for name in graph.outputs:
        if name not in defined:
            problems.append(f"graph output %{name} is not defined")
    if problems:
        head = f"graph {graph.name!r} failed verification ({len(problems)} problems):"
        raise IRError("\n  ".join([head, *problems]))
