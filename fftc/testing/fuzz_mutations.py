"""Seed models and mutations for fftc's fuzzer (:mod:`fftc.testing.fuzz`).

A mutation takes the serialized seed model and a ``random.Random`` and returns the
mutated bytes and a one-line description; the same generator state always gives the
same result. Two levels:

* ``bytes.*``: the protobuf bytes (bit flips, insertions, deletions, truncation,
  splicing two models);
* the others: the graph, edited with the ``onnx`` API (nodes, graph inputs and
  outputs, attributes, dtypes, dims, initializers, opsets, domains, value_info).

A mutation that does not apply to a model (no node with attributes, ...) raises
:class:`Skip`; the case generator then draws again.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np
import onnx
from onnx import AttributeProto, TensorProto, helper, numpy_helper

from fftc.testing.onnx_builder import graph_model


class Skip(Exception):
    """The mutation does not apply to this model."""


T = TypeVar("T")
Model = onnx.ModelProto
Rng = random.Random
GraphMutation = Callable[[Model, Rng], str]

#: dims a mutation may write: empty, negative, ordinary, and far too large
DIMS = (0, -1, -7, 1, 2, 3, 7, 2**31, 2**40, 2**62)
#: int attribute / shape-constant values worth trying
INTS = (0, -1, -2, 3, 2**31 - 1, -(2**31), 2**62, -(2**63), 2**63 - 1, 10**15)
FLOATS = (0.0, -1.0, float("nan"), float("inf"), float("-inf"), 3.4e38, 1e-45)
#: valid TensorProto.DataType values, supported by fftc or not
DTYPES = (0, 10, 16, 11, 7, 6, 2, 9, 8, 14, 17)
#: element types that are no TensorProto.DataType at all
BAD_DTYPES = (999, 40, -1)
#: op types a node may become: supported ones of other arities, and unknown ones
OP_TYPES = (
    "Relu", "Add", "MatMul", "Conv", "ConvTranspose", "DFT", "Reshape", "Transpose", "Slice",
    "Concat", "Gather", "Expand", "Tile", "Range", "ConstantOfShape", "Einsum", "Split", "Pad",
    "LayerNormalization", "Softmax", "ReduceMean", "Where", "Cast", "STFT", "Squeeze",
    "Unsqueeze", "CumSum", "MaxPool", "Gemm", "Shape", "FuzzUnknownOp", "If", "Loop",
)  # fmt: skip
DOMAINS = ("com.microsoft", "fuzz.unknown", "ai.onnx.ml", "ai.onnx")
OPSETS = (-1, 0, 1, 7, 11, 12, 13, 17, 18, 21, 27, 28, 29, 10**6)


# -- seed models -------------------------------------------------------------------------


def _generated() -> dict[str, Model]:
    """Small models over the op families fftc targets (fast to compile)."""
    r = np.random.default_rng(0)

    def f32(*shape: int) -> np.ndarray:
        return r.standard_normal(shape).astype(np.float32)

    def i64(*values: int) -> np.ndarray:
        return np.array(values, np.int64)

    n = helper.make_node
    return {
        "gen_conv1d": graph_model(
            [n("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[2, 2], group=2),
             n("Relu", ["c"], ["r"], name="relu"),
             n("ReduceMean", ["r", "ax"], ["y"], name="mean", keepdims=0)],
            {"x": f32(1, 4, 32)}, ["y"], {"w": f32(8, 2, 5), "b": f32(8), "ax": i64(-1)}),
        "gen_dft": graph_model(
            [n("Unsqueeze", ["x", "ax"], ["u"], name="unsq"),
             n("DFT", ["u", "", "one"], ["f"], name="dft", onesided=1),
             n("ReduceL2", ["f", "ax"], ["y"], name="mag", keepdims=0)],
            {"x": f32(2, 16)}, ["y"], {"ax": i64(-1), "one": np.array(1, np.int64)}),
        "gen_mlp": graph_model(
            [n("MatMul", ["x", "w"], ["h"], name="mm"), n("Add", ["h", "b"], ["hb"], name="bias"),
             n("Gelu", ["hb"], ["g"], name="gelu"), n("Softmax", ["g"], ["y"], name="sm", axis=-1)],
            {"x": f32(2, 16)}, ["y"], {"w": f32(16, 8), "b": f32(8)}),
        "gen_movement": graph_model(
            [n("Reshape", ["x", "shape"], ["r"], name="reshape"),
             n("Transpose", ["r"], ["t"], name="transpose", perm=[1, 0]),
             n("Slice", ["t", "starts", "ends", "axes"], ["s"], name="slice"),
             n("Concat", ["s", "s"], ["c"], name="concat", axis=0),
             n("Pad", ["c", "pads"], ["y"], name="pad", mode="constant")],
            {"x": f32(2, 3, 4)}, ["y"], {"shape": i64(6, 4), "starts": i64(1), "ends": i64(5),
                                         "axes": i64(1), "pads": i64(0, 1, 0, 1)}),
        "gen_norm_gather": graph_model(
            [n("LayerNormalization", ["x", "g", "b"], ["n"], name="ln", axis=-1, epsilon=1e-5),
             n("Gather", ["n", "idx"], ["gt"], name="gather", axis=1),
             n("Greater", ["gt", "zero"], ["m"], name="gt0"),
             n("Where", ["m", "gt", "zero"], ["y"], name="where")],
            {"x": f32(1, 8, 16)}, ["y"], {"g": f32(16), "b": f32(16), "idx": i64(0, 7, 3),
                                          "zero": np.zeros((), np.float32)}),
        "gen_convtranspose_pool": graph_model(
            [n("ConvTranspose", ["x", "w"], ["c"], name="deconv", strides=[2, 2]),
             n("MaxPool", ["c"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
             n("Expand", ["p", "eshape"], ["e"], name="expand"),
             n("Tile", ["e", "reps"], ["y"], name="tile")],
            {"x": f32(1, 2, 8, 8)}, ["y"],
            {"w": f32(2, 3, 3, 3), "eshape": i64(2, 1, 1, 1), "reps": i64(1, 1, 1, 2)}),
    }  # fmt: skip


def seed_models(examples: Path | None = None) -> dict[str, bytes]:
    """Serialized seed models by name: the committed examples (``examples/onnx``,
    ``examples/zoo``, when the source tree is there) and small generated models."""
    root = examples if examples is not None else Path(__file__).resolve().parents[2] / "examples"
    paths = [p for folder in ("onnx", "zoo") for p in sorted((root / folder).glob("*.onnx"))]
    seeds = {f"{p.parent.name}/{p.stem}": p.read_bytes() for p in paths}
    for name, model in _generated().items():
        seeds[name] = model.SerializeToString(deterministic=True)
    return seeds


# -- byte-level mutations ----------------------------------------------------------------


def _mutate_bytes(kind: str, data: bytes, other: bytes, rng: Rng) -> tuple[bytes, str]:
    at = rng.randrange(len(data))
    if kind == "bytes.bitflip":
        buf = bytearray(data)
        bits = sorted(rng.sample(range(len(buf) * 8), min(rng.randint(1, 8), len(buf) * 8)))
        for bit in bits:
            buf[bit // 8] ^= 1 << (bit % 8)
        return bytes(buf), f"flipped bits {bits}"
    if kind == "bytes.insert":
        junk = rng.randbytes(rng.randint(1, 16))
        return data[:at] + junk + data[at:], f"inserted {junk.hex()} at byte {at}"
    if kind == "bytes.delete":
        n = rng.randint(1, 64)
        return data[:at] + data[at + n :], f"deleted {n} bytes at byte {at}"
    if kind == "bytes.truncate":
        return data[:at], f"truncated to {at} of {len(data)} bytes"
    b = rng.randrange(len(other))
    return data[:at] + other[b:], f"first {at} bytes + the other model's bytes from {b}"


#: protobuf-level mutations (see :func:`_mutate_bytes`)
BYTE_KINDS = ("bytes.bitflip", "bytes.insert", "bytes.delete", "bytes.truncate", "bytes.splice")


# -- graph-level mutations ---------------------------------------------------------------


def _choose(rng: Rng, items: Sequence[T], what: str) -> T:
    if not items:
        raise Skip(f"no {what}")
    return rng.choice(items)


def _node(m: Model, rng: Rng, ok: Callable[[onnx.NodeProto], bool] = bool) -> onnx.NodeProto:
    return _choose(rng, [n for n in m.graph.node if ok(n)], "suitable node")


def _label(n: onnx.NodeProto) -> str:
    return f"{n.op_type} {n.name or (n.output[0] if n.output else '?')!r}"


def _value_names(m: Model) -> list[str]:
    names = [i.name for i in m.graph.input] + [t.name for t in m.graph.initializer]
    return names + [o for n in m.graph.node for o in n.output if o]


def _real_inputs(m: Model) -> list[int]:
    inits = {t.name for t in m.graph.initializer}
    return [i for i, v in enumerate(m.graph.input) if v.name not in inits]


def node_drop(m: Model, rng: Rng) -> str:
    n = _node(m, rng)
    m.graph.node.remove(n)
    return f"dropped node {_label(n)}"


def node_duplicate(m: Model, rng: Rng) -> str:
    i = _choose(rng, range(len(m.graph.node)), "node")
    m.graph.node.insert(i + 1, m.graph.node[i])
    return f"duplicated node {_label(m.graph.node[i])} (same outputs)"


def node_rename(m: Model, rng: Rng) -> str:
    n = _node(m, rng, lambda n: len(n.input) + len(n.output) > 0)
    field = n.input if n.input and (not n.output or rng.random() < 0.6) else n.output
    k, new = rng.randrange(len(field)), rng.choice([*_value_names(m), "fuzz_ghost", ""])
    old, field[k] = field[k], new
    which = "input" if field is n.input else "output"
    return f"renamed {which} {k} of {_label(n)} from {old!r} to {new!r}"


def node_swap_inputs(m: Model, rng: Rng) -> str:
    n = _node(m, rng, lambda n: len(set(n.input)) > 1)
    old = list(n.input)
    new = old[::-1] if rng.random() < 0.5 else rng.sample(old, len(old))
    new = new if new != old else old[1:] + old[:1]
    del n.input[:]
    n.input.extend(new)
    return f"reordered inputs of {_label(n)}: {old} -> {new}"


def node_drop_input(m: Model, rng: Rng) -> str:
    n = _node(m, rng, lambda n: len(n.input) > 0)
    k = rng.randrange(len(n.input))
    old = n.input[k]
    if rng.random() < 0.5:
        del n.input[k]
        return f"removed input {k} ({old!r}) of {_label(n)}"
    n.input[k] = ""
    return f"blanked input {k} ({old!r}) of {_label(n)}"


def node_op_type(m: Model, rng: Rng) -> str:
    n = _node(m, rng)
    old, n.op_type = n.op_type, rng.choice([t for t in OP_TYPES if t != n.op_type])
    return f"changed op of node {n.name!r} from {old} to {n.op_type}"


def node_domain(m: Model, rng: Rng) -> str:
    n = _node(m, rng)
    n.domain, imported = rng.choice(DOMAINS), rng.random() < 0.5
    if imported and n.domain not in {o.domain for o in m.opset_import}:
        m.opset_import.append(helper.make_opsetid(n.domain, 1))
    return f"moved {_label(n)} to domain {n.domain!r} ({'' if imported else 'not '}imported)"


def graph_inputs(m: Model, rng: Rng) -> str:
    choice, k = rng.randrange(3), _choose(rng, _real_inputs(m), "graph input")
    name = m.graph.input[k].name
    if choice == 0:
        del m.graph.input[k]
        return f"removed graph input {name!r}"
    if choice == 1:
        m.graph.input.append(m.graph.input[k])
        return f"declared graph input {name!r} twice"
    if len(m.graph.input) < 2:
        raise Skip("one graph input")
    items = list(m.graph.input)[::-1]
    del m.graph.input[:]
    m.graph.input.extend(items)
    return f"reversed the graph inputs: {[v.name for v in items]}"


def graph_outputs(m: Model, rng: Rng, dup: bool = False) -> str:
    if dup:
        out = _choose(rng, m.graph.output, "graph output")
        m.graph.output.append(out)
        return f"declared graph output {out.name!r} twice"
    if not m.graph.output or rng.random() < 0.3:
        del m.graph.output[:]
        return "removed every graph output"
    out = m.graph.output[rng.randrange(len(m.graph.output))]
    old, out.name = out.name, rng.choice([*_value_names(m), "fuzz_ghost"])
    return f"renamed graph output {old!r} to {out.name!r}"


def _extreme(a: AttributeProto, rng: Rng) -> AttributeProto:
    if a.type == AttributeProto.INT:
        return helper.make_attribute(a.name, rng.choice(INTS))
    if a.type == AttributeProto.FLOAT:
        return helper.make_attribute(a.name, rng.choice(FLOATS))
    if a.type == AttributeProto.INTS:
        ints, edit = list(a.ints), rng.randrange(3)
        if edit == 0 or not ints:
            ints.append(rng.choice(INTS))
        elif edit == 1:
            ints[rng.randrange(len(ints))] = rng.choice(INTS)
        return helper.make_attribute(
            a.name, ints if edit < 2 else [], attr_type=AttributeProto.INTS
        )
    if a.type == AttributeProto.STRING:
        return helper.make_attribute(a.name, rng.choice([b"", b"FUZZ", b"a" * 999]))
    if a.type == AttributeProto.TENSOR:
        t = TensorProto()
        t.CopyFrom(a.t)
        if t.dims:
            t.dims[rng.randrange(len(t.dims))] = rng.choice(DIMS)
        else:
            t.dims.append(rng.choice(DIMS))
        return helper.make_attribute(a.name, t)
    raise Skip(f"attribute type {a.type}")


def _wrong_type(a: AttributeProto, rng: Rng) -> AttributeProto:
    tensor = numpy_helper.from_array(np.zeros((2,), np.float32))
    values: list[object] = [7, 1.5, "fuzz", [1, 2, 3], [0.5, 2.0], ["a", "b"], tensor]
    return helper.make_attribute(a.name, rng.choice(values))


def _attr_edit(m: Model, rng: Rng, edit: Callable[[AttributeProto, Rng], AttributeProto]) -> str:
    n = _node(m, rng, lambda n: len(n.attribute) > 0)
    a = n.attribute[rng.randrange(len(n.attribute))]
    a.CopyFrom(edit(a, rng))
    value = helper.get_attribute_value(a)
    shown = f"tensor dims {list(value.dims)}" if isinstance(value, TensorProto) else repr(value)
    return f"set attribute {a.name!r} of {_label(n)} to {shown[:60]}"


def attr_bad_string(m: Model, rng: Rng) -> str:
    n = _node(m, rng, lambda n: any(a.type == AttributeProto.STRING for a in n.attribute))
    a = rng.choice([a for a in n.attribute if a.type == AttributeProto.STRING])
    a.s = rng.choice([b"\xff\xfe", b"conv\x80", b"\xc3"])
    return f"set string attribute {a.name!r} of {_label(n)} to non-UTF-8 {a.s!r}"


def attr_drop_or_add(m: Model, rng: Rng, add: bool) -> str:
    n = _node(m, rng, lambda n: add or len(n.attribute) > 0)
    if add:
        n.attribute.append(helper.make_attribute("fuzz_attr", rng.choice(INTS)))
        return f"added unknown attribute 'fuzz_attr' to {_label(n)}"
    a = n.attribute[rng.randrange(len(n.attribute))]
    n.attribute.remove(a)
    return f"removed attribute {a.name!r} of {_label(n)}"


def _set_dtype(m: Model, rng: Rng, dtype: int) -> str:
    if m.graph.initializer and rng.random() < 0.5:
        t = m.graph.initializer[rng.randrange(len(m.graph.initializer))]
        t.data_type = dtype
        return f"set data_type of initializer {t.name!r} to {dtype} (data unchanged)"
    values = [*m.graph.input, *m.graph.output]
    v = _choose(rng, values, "graph input or output")
    v.type.tensor_type.elem_type = dtype
    return f"set elem_type of graph input/output {v.name!r} to {dtype}"


def input_dims(m: Model, rng: Rng) -> str:
    v = m.graph.input[_choose(rng, _real_inputs(m), "graph input")]
    dims, edit = v.type.tensor_type.shape.dim, rng.randrange(5)
    if edit == 0 and dims:
        del dims[rng.randrange(len(dims))]
        return f"dropped a dim of input {v.name!r}"
    if edit == 1 or not dims:
        dims.add().dim_value = rng.choice(DIMS)
        return f"added a dim to input {v.name!r}: {[d.dim_value for d in dims]}"
    d = dims[rng.randrange(len(dims))]
    if edit == 2:
        d.dim_param = "fuzz_N"
        return f"made a dim of input {v.name!r} symbolic"
    d.dim_value = rng.choice(DIMS)
    return f"set dims of input {v.name!r} to {[x.dim_value for x in dims]}"


def _init(m: Model, rng: Rng, ok: Callable[[TensorProto], bool] = bool) -> TensorProto:
    return _choose(rng, [t for t in m.graph.initializer if ok(t)], "initializer")


def init_dims(m: Model, rng: Rng) -> str:
    t = _init(m, rng)
    old = list(t.dims)
    if t.dims and rng.random() < 0.3:
        rng.shuffle(t.dims)
    elif t.dims:
        t.dims[rng.randrange(len(t.dims))] = rng.choice(DIMS)
    else:
        t.dims.append(rng.choice(DIMS))
    return f"set dims of initializer {t.name!r} from {old} to {list(t.dims)} (data unchanged)"


def init_delete(m: Model, rng: Rng) -> str:
    t = _init(m, rng)
    m.graph.initializer.remove(t)
    return f"deleted initializer {t.name!r}"


def init_data_length(m: Model, rng: Rng) -> str:
    t = _init(m, rng, lambda t: t.HasField("raw_data"))
    n = rng.choice([1, 3, 4, 8, 100])
    if rng.random() < 0.5 and len(t.raw_data) > n:
        t.raw_data = t.raw_data[:-n]
        return f"cut {n} bytes off the data of initializer {t.name!r}"
    t.raw_data += bytes(n)
    return f"appended {n} bytes to the data of initializer {t.name!r}"


def _numeric(t: TensorProto) -> bool:
    try:
        a = numpy_helper.to_array(t)
    except Exception:
        return False
    return a.dtype.kind in "iuf" and a.size > 0


def init_values(m: Model, rng: Rng) -> str:
    """Extreme values in an initializer: shape-like ints (Reshape targets, Slice bounds,
    axes, pads, indices) or float weights (NaN/Inf, which fftc must refuse)."""
    t = _init(m, rng, _numeric)
    a = np.array(numpy_helper.to_array(t))
    j = rng.randrange(a.size)
    if a.dtype.kind == "f":
        value: float = rng.choice(FLOATS)
    else:
        info = np.iinfo(a.dtype)
        value = rng.choice([v for v in INTS if info.min <= v <= info.max])
    with np.errstate(over="ignore", invalid="ignore"):
        a.reshape(-1)[j] = value
    t.CopyFrom(numpy_helper.from_array(a, t.name))
    return f"set element {j} of initializer {t.name!r} ({a.dtype}{list(a.shape)}) to {value}"


def opset_version(m: Model, rng: Rng) -> str:
    default, edit = [o for o in m.opset_import if o.domain in ("", "ai.onnx")], rng.randrange(4)
    if edit == 0 and default:
        m.opset_import.remove(default[0])
        return "removed the default-domain opset import"
    if edit == 1:
        m.opset_import.append(helper.make_opsetid("", rng.choice(OPSETS)))
        return f"added a second default-domain opset import {m.opset_import[-1].version}"
    if edit == 2 or not default:
        m.ir_version = rng.choice([0, 3, 7, 11, 99])
        return f"set ir_version to {m.ir_version}"
    default[0].version = rng.choice(OPSETS)
    return f"set the default opset to {default[0].version}"


def value_info(m: Model, rng: Rng) -> str:
    names = [o for n in m.graph.node for o in n.output if o]
    if not names:
        raise Skip("no node outputs")
    name, shape = rng.choice(names), [rng.choice(DIMS[:7]) for _ in range(rng.randrange(5))]
    dtype = rng.choice([TensorProto.FLOAT, TensorProto.INT64, TensorProto.DOUBLE])
    kept = [vi for vi in m.graph.value_info if vi.name != name]
    del m.graph.value_info[:]
    m.graph.value_info.extend([*kept, helper.make_tensor_value_info(name, dtype, shape)])
    return f"declared value_info {name!r} as {TensorProto.DataType.Name(dtype)}{shape}"


GRAPH_MUTATIONS: dict[str, GraphMutation] = {
    "node.drop": node_drop, "node.duplicate": node_duplicate, "node.rename": node_rename,
    "node.swap_inputs": node_swap_inputs, "node.drop_input": node_drop_input,
    "node.op_type": node_op_type, "node.domain": node_domain,
    "graph.inputs": graph_inputs, "graph.outputs": graph_outputs,
    "graph.output_dup": lambda m, rng: graph_outputs(m, rng, dup=True),
    "attr.extreme": lambda m, rng: _attr_edit(m, rng, _extreme),
    "attr.wrong_type": lambda m, rng: _attr_edit(m, rng, _wrong_type),
    "attr.bad_string": attr_bad_string,
    "attr.drop": lambda m, rng: attr_drop_or_add(m, rng, add=False),
    "attr.add": lambda m, rng: attr_drop_or_add(m, rng, add=True),
    "tensor.dtype": lambda m, rng: _set_dtype(m, rng, rng.choice(DTYPES)),
    "tensor.bad_dtype": lambda m, rng: _set_dtype(m, rng, rng.choice(BAD_DTYPES)),
    "input.dims": input_dims, "init.dims": init_dims, "init.delete": init_delete,
    "init.data_length": init_data_length, "init.values": init_values,
    "opset.version": opset_version, "value_info": value_info,
}  # fmt: skip

#: every mutation kind, byte-level first
KINDS: tuple[str, ...] = (*BYTE_KINDS, *GRAPH_MUTATIONS)


def mutate(kind: str, data: bytes, other: bytes, rng: Rng) -> tuple[bytes, str]:
    """Apply mutation ``kind`` to the serialized model ``data`` (``other``: a second
    model, for splicing); returns (mutated bytes, description). Raises :class:`Skip`."""
    if kind in BYTE_KINDS:
        if not data:
            raise Skip("empty model")
        return _mutate_bytes(kind, data, other or data, rng)
    model = onnx.ModelProto()
    model.ParseFromString(data)
    description = GRAPH_MUTATIONS[kind](model, rng)
    return model.SerializeToString(deterministic=True), description
