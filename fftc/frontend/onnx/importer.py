"""ONNX -> fftc IR.

1. load the file (external data stays inside the model's folder), upgrade
   opsets older than 13, pin user-given input shapes, inline local functions;
2. check the model and run ONNX shape inference;
3. list every node fftc cannot convert (op, domain, opset) and every input
   with unresolved dims, and fail once with all of them;
4. convert node by node (converters fold constant subgraphs as they go) and
   cross-check each result's shape with ONNX's inferred shape.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence

import onnx
from onnx import inliner

from fftc.errors import ModelError, UnsupportedError
from fftc.frontend.onnx.context import (
    MAX_ELEMENTS,
    ONNX_DTYPES,
    ConversionError,
    ImportContext,
    NodeContext,
    nonfinite_problem,
    onnx_dtype,
    tensor_to_numpy,
)
from fftc.frontend.onnx.loader import (
    default_opset,
    load_model,
    pin_input_shapes,
    upgrade_opset,
)
from fftc.frontend.onnx.registry import MIN_OPSET, lookup
from fftc.frontend.onnx.validate import check_structure, declared_types
from fftc.ir import Graph, GraphBuilder, IRError, TensorType, verify

log = logging.getLogger("fftc.onnx")

#: the domains whose ops fftc converts ("" is ai.onnx)
KNOWN_DOMAINS = ("", "ai.onnx")


def _node_label(node: onnx.NodeProto, opsets: Mapping[str, int]) -> str:
    domain = node.domain or "ai.onnx"
    version = opsets.get(node.domain or "", opsets.get(domain, 0))
    name = node.name or (node.output[0] if node.output else "?")
    return f"node {name!r} ({node.op_type}, {domain} opset {version})"


def _prepare(
    model: onnx.ModelProto, where: str, input_shapes: Mapping[str, Sequence[int]] | None
) -> tuple[onnx.ModelProto, dict[str, tuple[tuple[int, ...] | None, int]]]:
    """The model ready to convert, and the types it declares for its values."""
    check_structure(model, where)
    if default_opset(model, where) < MIN_OPSET:
        model = upgrade_opset(model, where)
    if input_shapes:
        pin_input_shapes(model, input_shapes, where)
    if model.functions:
        try:
            model = inliner.inline_local_functions(model)
        except Exception as err:
            raise ModelError(
                f"{where}: cannot inline the model's local functions ({err})"
            ) from None
    try:
        onnx.checker.check_model(model)
    except Exception as err:  # the checker is stricter than runtimes; converters decide
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        log.debug("%s: onnx.checker: %s", where, first)
    _sort_nodes(model, where)
    declared = declared_types(model)
    try:  # no data propagation: it would materialise constants (ConstantOfShape of 1e15)
        return onnx.shape_inference.infer_shapes(model, strict_mode=False), declared
    except Exception as err:
        raise ModelError(f"{where}: ONNX shape inference failed: {err}") from None


def _sort_nodes(model: onnx.ModelProto, where: str) -> None:
    """Order nodes topologically (in place); a cycle is an error naming its nodes."""
    nodes = list(model.graph.node)
    known = {i.name for i in model.graph.input} | {t.name for t in model.graph.initializer}
    produced = {o for n in nodes for o in n.output if o}
    ordered: list[onnx.NodeProto] = []
    pending = nodes
    while pending:
        ready = [
            n for n in pending if all(not i or i in known or i not in produced for i in n.input)
        ]
        if not ready:
            names = ", ".join(repr(n.name or n.op_type) for n in pending[:8])
            raise ModelError(f"{where}: the graph has a cycle through nodes {names}")
        ready_ids = {id(n) for n in ready}
        for n in ready:
            ordered.append(n)
            known.update(o for o in n.output if o)
        pending = [n for n in pending if id(n) not in ready_ids]
    if [id(n) for n in ordered] != [id(n) for n in nodes]:
        copies = [onnx.NodeProto() for _ in ordered]
        for c, n in zip(copies, ordered, strict=True):
            c.CopyFrom(n)
        del model.graph.node[:]
        model.graph.node.extend(copies)


def _unsupported(model: onnx.ModelProto, opsets: Mapping[str, int]) -> list[str]:
    problems = []
    for node in model.graph.node:
        label = _node_label(node, opsets)
        if node.domain not in KNOWN_DOMAINS:
            problems.append(f"{label}: domain {node.domain!r} is not supported")
        elif any(
            a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
            for a in node.attribute
        ):
            problems.append(f"{label}: control flow with subgraphs is not supported")
        elif lookup(node.domain, node.op_type) is None:
            problems.append(f"{label}: no converter for this op")
    return problems


def _input_types(
    model: onnx.ModelProto, initializers: set[str]
) -> tuple[dict[str, TensorType], list[str]]:
    types: dict[str, TensorType] = {}
    problems: list[str] = []
    for inp in model.graph.input:
        if inp.name in initializers:
            continue
        if not inp.type.HasField("tensor_type"):
            problems.append(f"input {inp.name!r}: only tensor inputs are supported")
            continue
        tt = inp.type.tensor_type
        try:
            dtype = onnx_dtype(tt.elem_type, f"input {inp.name!r}")
        except ConversionError as err:
            problems.append(str(err))
            continue
        dims = [
            d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in tt.shape.dim
        ]
        if not tt.HasField("shape"):
            problems.append(f"input {inp.name!r} has an unknown rank; pin it with --input-shape")
        elif any(not isinstance(d, int) for d in dims):
            shown = ",".join(str(d) for d in dims)
            pinned = ",".join(str(d) if isinstance(d, int) else "N" for d in dims)
            problems.append(
                f"input {inp.name!r} has unresolved dims [{shown}]; pin them with "
                f"--input-shape {inp.name}={pinned}"
            )
        else:
            sizes = tuple(int(d) for d in dims)
            count = 1
            for d in sizes:
                count *= d
            if min(sizes, default=1) < 1:
                problems.append(f"input {inp.name!r} has an empty dim {list(sizes)}; "
                                "fftc needs sizes >= 1")  # fmt: skip
            elif count > MAX_ELEMENTS:
                problems.append(f"input {inp.name!r} of shape {list(sizes)} has {count} "
                                f"elements; fftc refuses tensors over {MAX_ELEMENTS}")  # fmt: skip
            else:
                types[inp.name] = TensorType(sizes, dtype)
    return types, problems


def import_onnx(
    source: str | os.PathLike[str] | onnx.ModelProto,
    input_shapes: Mapping[str, Sequence[int]] | None = None,
    allow_nonfinite: bool = False,
) -> Graph:
    """Import an ONNX model (path or ModelProto) as a verified fftc graph.

    Weights (initializers, Constant nodes) holding NaN or Inf are refused
    unless ``allow_nonfinite``.
    """
    model, where = load_model(source)
    model, declared = _prepare(model, where, input_shapes)
    opsets = {o.domain: o.version for o in model.opset_import}
    opset = opsets.get("", opsets.get("ai.onnx", MIN_OPSET))
    init_names = {t.name for t in model.graph.initializer}
    types, problems = _input_types(model, init_names)
    problems = _unsupported(model, opsets) + problems
    if problems:
        raise UnsupportedError(_report(where, problems))

    builder = GraphBuilder(model.graph.name or "model")
    ctx = ImportContext(builder, opset, allow_nonfinite)
    for name, ttype in types.items():
        ctx.bind(name, builder.input(name, ttype))
    for t in model.graph.initializer:
        try:
            data = tensor_to_numpy(t, f"initializer {t.name!r}")
        except ConversionError as err:
            problems.append(str(err))
            continue
        problem = None if allow_nonfinite else nonfinite_problem(f"initializer {t.name!r}", data)
        if problem:
            problems.append(problem)
        ctx.bind(t.name, ctx.constant(data, t.name))

    poisoned: set[str] = set()
    for node in model.graph.node:
        if any(i and (i in poisoned or i not in ctx.bindings) for i in node.input):
            missing = [i for i in node.input if i and i not in ctx.bindings and i not in poisoned]
            if missing:
                problems.append(f"{_node_label(node, opsets)}: inputs {missing} are not defined")
            poisoned.update(o for o in node.output if o)
            continue
        conv = lookup(node.domain, node.op_type)
        assert conv is not None
        try:
            outs = conv.fn(NodeContext(ctx, node))
        except (ConversionError, IRError) as err:
            problems.append(f"{_node_label(node, opsets)}: {err}")
            poisoned.update(o for o in node.output if o)
            continue
        except Exception as err:  # a converter bug on unusual input: still one clean report
            problems.append(
                f"{_node_label(node, opsets)}: fftc's converter failed "
                f"({type(err).__name__}: {str(err).strip()[:200]}); please report this"
            )
            poisoned.update(o for o in node.output if o)
            continue
        for onnx_name, ir_name in zip(node.output, outs, strict=False):
            if not onnx_name:
                continue
            if ir_name is None:
                poisoned.add(onnx_name)
                continue
            ctx.bind(onnx_name, ir_name)
            if builder.type_of(ir_name).size > MAX_ELEMENTS:
                problems.append(
                    f"{_node_label(node, opsets)}: output {onnx_name!r} would have "
                    f"{builder.type_of(ir_name).size} elements; fftc refuses tensors over "
                    f"{MAX_ELEMENTS}"
                )
                poisoned.add(onnx_name)
                continue
            problem = _contradiction(onnx_name, builder.type_of(ir_name), declared)
            if problem:
                problems.append(f"{_node_label(node, opsets)}: {problem}")
    outputs = []
    for out in model.graph.output:
        if out.name in ctx.bindings:
            outputs.append(ctx.lookup(out.name))
        elif out.name not in poisoned:
            problems.append(f"graph output {out.name!r} is not produced by any node")
    if problems:
        raise UnsupportedError(_report(where, problems))
    graph = builder.build(outputs, [o.name for o in model.graph.output], prune=True)
    verify(graph)
    return graph


def _contradiction(
    name: str, ours: TensorType, declared: Mapping[str, tuple[tuple[int, ...] | None, int]]
) -> str | None:
    """A message if the model declares an element type for ``name`` that differs
    from what the computation gives.  A contradicting declared *shape* is only
    logged (as onnxruntime does): exporters and ONNX's shape inference get those
    wrong at times (STFT's default onesided, ConvTranspose SAME with padding)."""
    if name not in declared:
        return None
    shape, elem = declared[name]
    if shape is not None and shape != ours.shape:
        log.warning(
            "value %r is declared with shape %s but computes %s; using the computed shape",
            name, list(shape), list(ours.shape),
        )  # fmt: skip
    if elem and ONNX_DTYPES.get(elem) is not ours.dtype:
        known = elem in onnx.TensorProto.DataType.values()
        label = onnx.TensorProto.DataType.Name(elem) if known else str(elem)
        return f"output {name!r} is declared as {label} but computes {ours.dtype.value}"
    return None


def _report(where: str, problems: list[str]) -> str:
    verb = "problems prevent" if len(problems) != 1 else "problem prevents"
    return f"{where}: {len(problems)} {verb} compiling this model:\n  " + "\n  ".join(problems)
