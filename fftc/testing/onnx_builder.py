"""Build small ONNX models in tests (one op, or a few chained)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper


def _value_info(name: str, array: np.ndarray) -> onnx.ValueInfoProto:
    elem = helper.np_dtype_to_tensor_dtype(array.dtype)
    return helper.make_tensor_value_info(name, elem, list(array.shape))


def graph_model(
    nodes: Sequence[onnx.NodeProto],
    feeds: Mapping[str, np.ndarray],
    outputs: Sequence[str],
    constants: Mapping[str, np.ndarray] | None = None,
    opset: int = 20,
    name: str = "test",
) -> onnx.ModelProto:
    """A model of ``nodes``; ``feeds`` declare the graph inputs (by example arrays)."""
    inits = [numpy_helper.from_array(np.asarray(v), k) for k, v in (constants or {}).items()]
    graph = helper.make_graph(
        list(nodes),
        name,
        [_value_info(k, v) for k, v in feeds.items()],
        [onnx.ValueInfoProto(name=o) for o in outputs],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8 if opset < 19 else 9
    # give the outputs the types ONNX infers (runtimes want typed outputs)
    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except onnx.shape_inference.InferenceError:  # e.g. ops of unknown domains
        return model
    types = {v.name: v.type for v in inferred.graph.value_info}
    for out in model.graph.output:
        if out.name in types:
            out.type.CopyFrom(types[out.name])
    return model


def op_model(
    op_type: str,
    inputs: Sequence[str],
    feeds: Mapping[str, np.ndarray],
    constants: Mapping[str, np.ndarray] | None = None,
    opset: int = 20,
    num_outputs: int = 1,
    **attrs: Any,
) -> onnx.ModelProto:
    """One ``op_type`` node; inputs named in ``inputs`` ("" = omitted optional input)."""
    outs = [f"out{i}" for i in range(num_outputs)]
    node = helper.make_node(op_type, list(inputs), outs, name=f"{op_type}_0", **attrs)
    return graph_model([node], feeds, outs, constants, opset, name=op_type)
