"""fftc IR -> a Relax module with one function, ``main``.

``main`` takes the graph inputs in order and returns a tuple of the graph
outputs in order.  Constants become Relax constants.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fftc.codegen.lower.registry import LowerContext, lowering_for, relax_type
from fftc.codegen.tvm_api import relax
from fftc.errors import CompileError
from fftc.ir import Graph


def lower_graph(
    graph: Graph,
    knobs: Mapping[str, dict[str, int | str]] | None = None,
    target_kind: str = "llvm",
    compute_dtype: str = "float32",
) -> tuple[Any, LowerContext]:
    """Build the Relax IRModule of ``graph``; returns it with the lowering context.

    ``target_kind`` (``"llvm"``, ``"cuda"``) selects target-specific lowerings;
    ``compute_dtype`` is ``--dtype`` (the matmul precision of fftc's CUDA kernels)."""
    bb = relax.BlockBuilder()
    types = {k: v.type for k, v in graph.values.items()}
    ctx = LowerContext(bb, types, dict(knobs or {}), target_kind=target_kind,
                       compute_dtype=compute_dtype)  # fmt: skip
    params = [relax.Var(v.name, relax_type(v.type)) for v in graph.inputs]
    env: dict[str, Any] = {v.name: p for v, p in zip(graph.inputs, params, strict=True)}
    _refuse_empty_constant_reads(graph)
    for c in graph.constants:
        env[c.value.name] = relax.const(c.data, c.value.type.dtype.value)
    with bb.function("main", params):
        with bb.dataflow():
            for node in graph.nodes:
                fn = lowering_for(node.op)
                if fn is None:
                    raise CompileError(f"no TVM lowering for op {node.op!r} ({node.label})")
                args = [None if i is None else env[i] for i in node.inputs]
                try:
                    outs = fn(ctx, node, args)
                except CompileError:
                    raise
                except Exception as err:
                    raise CompileError(f"lowering {node.label} to TVM failed: {err}") from err
                for value, expr in zip(node.outputs, outs, strict=True):
                    env[value.name] = expr
            result = bb.emit_output(relax.Tuple([env[o] for o in graph.outputs]))
        bb.emit_func_output(result)
    return bb.get(), ctx


__all__ = ["LowerContext", "lower_graph"]


def _refuse_empty_constant_reads(graph: Graph) -> None:
    """TVM 0.27 stores a constant with a 0-sized dim in the library but cannot load
    it back ("Invalid DLTensor file format"), so no compiled kernel may read one."""
    empty = {c.value.name for c in graph.constants if c.data.size == 0}
    for node in graph.nodes:
        for name in (i for i in node.inputs if i in empty):
            raise CompileError(
                f"{node.label} reads the empty constant {name!r} "
                f"(shape {list(graph.values[name].type.shape)}); fftc cannot compile "
                "kernels that read empty constants"
            )
