"""Structural checks of an ONNX model, run before anything else reads it.

They turn malformed models into one clear error instead of a crash, a hang
(ONNX's shape inference loops forever on some malformed Einsum equations) or
a silently wrong compile (a value defined twice).
"""

from __future__ import annotations

import re

import onnx

from fftc.errors import ModelError

_EINSUM = re.compile(r"^\s*[A-Za-z.,\s]*(->[A-Za-z.\s]*)?\s*$")


def _names(model: onnx.ModelProto) -> list[object]:
    g = model.graph
    names: list[object] = [v.name for v in (*g.input, *g.output, *g.value_info)]
    names += [t.name for t in g.initializer]
    for n in g.node:
        names += [n.name, n.op_type, n.domain, *n.input, *n.output]
    return names


def check_structure(model: onnx.ModelProto, where: str) -> None:
    """Names are text, values are defined once, outputs are declared once, input
    dims are not negative, initializer dims are positive, Einsum equations are
    well formed."""
    if any(isinstance(n, bytes) for n in _names(model)):
        raise ModelError(f"{where}: the model has names that are not valid UTF-8 text")
    g = model.graph
    outputs = [o.name for o in g.output]
    twice = sorted({o for o in outputs if outputs.count(o) > 1})
    if twice:
        raise ModelError(f"{where}: graph outputs {twice} are declared more than once")
    defined: dict[str, str] = {}
    for v in [*(i.name for i in g.input), *(t.name for t in g.initializer)]:
        defined.setdefault(v, "graph input")
    for node in g.node:
        label = f"node {node.name or node.op_type!r}"
        for out in node.output:
            if not out:
                continue
            if out in defined and defined[out] != "graph input":
                raise ModelError(
                    f"{where}: value {out!r} is defined twice ({defined[out]} and {label})"
                )
            defined[out] = label
        if node.op_type == "Einsum" and node.domain in ("", "ai.onnx"):
            for attr in node.attribute:
                equation = attr.s.decode("utf-8", "replace") if attr.name == "equation" else ""
                if attr.name == "equation" and not _EINSUM.match(equation):
                    raise ModelError(f"{where}: {label} (Einsum): bad equation {equation!r}")
    for inp in g.input:  # before ONNX's shape inference, which aborts on negative dims
        dims = [d.dim_value for d in inp.type.tensor_type.shape.dim if d.HasField("dim_value")]
        if any(d < 0 for d in dims):
            raise ModelError(f"{where}: input {inp.name!r} has a negative dim {dims}")
    for t in g.initializer:
        if any(d < 0 for d in t.dims):
            raise ModelError(f"{where}: initializer {t.name!r} has a negative dim {list(t.dims)}")


def declared_types(model: onnx.ModelProto) -> dict[str, tuple[tuple[int, ...] | None, int]]:
    """Shapes (when fully static) and element types the model itself declares for
    intermediate values and outputs, before ONNX's shape inference adds its own."""
    declared: dict[str, tuple[tuple[int, ...] | None, int]] = {}
    for vi in [*model.graph.value_info, *model.graph.output]:
        if not vi.type.HasField("tensor_type"):
            continue
        tt = vi.type.tensor_type
        shape = None
        if tt.HasField("shape") and all(d.HasField("dim_value") for d in tt.shape.dim):
            shape = tuple(d.dim_value for d in tt.shape.dim)
        declared[vi.name] = (shape, tt.elem_type)
    return declared
