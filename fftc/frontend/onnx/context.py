"""What converters see: the graph being built and the ONNX node being converted.

Nodes whose inputs are all constants are folded as they are emitted (with the
ops' NumPy references), so the Shape -> Gather -> Concat -> Reshape chains
that exporters write become plain constants, and converters can ask for the
value of a shape-like input with :meth:`NodeContext.const`.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any, NoReturn

import numpy as np
import onnx
from onnx import helper, numpy_helper

from fftc.ir import Attrs, DType, GraphBuilder, IRError, TensorType
from fftc.ir.graph import Node, Value
from fftc.ir.interpreter import run_node
from fftc.ir.ops import get_op

#: constants larger than this (elements) are not produced by folding
FOLD_LIMIT = 1 << 22
#: fftc refuses tensors with more elements than this (a malformed or hostile model)
MAX_ELEMENTS = 1 << 34

ONNX_DTYPES: dict[int, DType] = {
    onnx.TensorProto.FLOAT: DType.float32,
    onnx.TensorProto.FLOAT16: DType.float16,
    onnx.TensorProto.BFLOAT16: DType.bfloat16,
    onnx.TensorProto.DOUBLE: DType.float64,
    onnx.TensorProto.INT8: DType.int8,
    onnx.TensorProto.INT16: DType.int16,
    onnx.TensorProto.INT32: DType.int32,
    onnx.TensorProto.INT64: DType.int64,
    onnx.TensorProto.UINT8: DType.uint8,
    onnx.TensorProto.UINT16: DType.uint16,
    onnx.TensorProto.UINT32: DType.uint32,
    onnx.TensorProto.UINT64: DType.uint64,
    onnx.TensorProto.BOOL: DType.bool,
}


class ConversionError(Exception):
    """One node cannot be converted (collected and reported with all others)."""


def onnx_dtype(elem_type: int, what: str) -> DType:
    if elem_type not in ONNX_DTYPES:
        if elem_type in onnx.TensorProto.DataType.values():
            name = onnx.TensorProto.DataType.Name(elem_type)
        else:
            name = f"{elem_type} (not an ONNX element type)"
        raise ConversionError(f"{what} has element type {name}, which fftc does not support")
    return ONNX_DTYPES[elem_type]


def tensor_to_numpy(t: onnx.TensorProto, what: str) -> np.ndarray:
    onnx_dtype(t.data_type, what)
    try:
        return np.asarray(numpy_helper.to_array(t))
    except Exception as err:  # malformed tensor payloads
        raise ConversionError(f"{what}: cannot read tensor data ({err})") from None


def nonfinite_problem(what: str, data: np.ndarray, allow_inf: bool = False) -> str | None:
    """A message if a float tensor holds NaN (or, unless ``allow_inf``, Inf) values."""
    if data.dtype.kind != "f" or data.size == 0:
        return None
    bad = int(np.count_nonzero(np.isnan(data) if allow_inf else ~np.isfinite(data)))
    if not bad:
        return None
    kind = "NaN" if allow_inf else "NaN/Inf"
    return (
        f"{what} has {bad} {kind} value{'s' if bad > 1 else ''}; if intended pass "
        "--allow-nonfinite-weights (allow_nonfinite=True)"
    )


class ImportContext:
    """Graph-level state: the builder and the ONNX-name -> IR-name bindings."""

    def __init__(self, builder: GraphBuilder, opset: int, allow_nonfinite: bool = False) -> None:
        self.b = builder
        self.opset = opset
        self.allow_nonfinite = allow_nonfinite
        self.bindings: dict[str, str] = {}

    def bind(self, onnx_name: str, ir_name: str) -> None:
        self.bindings[onnx_name] = ir_name

    def lookup(self, onnx_name: str) -> str:
        return self.bindings[onnx_name]

    def constant(self, data: np.ndarray, hint: str = "const") -> str:
        return self.b.constant(np.asarray(data), hint)

    def emit(
        self, op: str, inputs: Sequence[str | None], attrs: Attrs | None, origin: str, hint: str
    ) -> list[str]:
        """Add a node, or its folded value when every input is a constant."""
        consts = [None if i is None else self.b.const_value(i) for i in inputs]
        all_const = all(c is not None for c, i in zip(consts, inputs, strict=True) if i is not None)
        if all_const:
            opdef = get_op(op)
            types = [None if i is None else self.b.type_of(i) for i in inputs]
            out_types = opdef.infer(types, attrs or opdef.attrs())
            if all(t.size <= FOLD_LIMIT for t in out_types):
                outs = [Value(hint, t) for t in out_types]
                node = Node(op, tuple(inputs), tuple(outs), attrs or opdef.attrs())
                values = run_node(node, consts)
                return [
                    self.constant(np.asarray(v).astype(t.dtype.numpy()), hint)
                    for v, t in zip(values, out_types, strict=True)
                ]
        hints = [hint] * get_op(op).num_outputs
        return self.b.node(op, inputs, attrs, name=origin, outputs=hints)


#: ONNX attribute types accepted for each Python default type
_ATTR_KINDS: dict[type, tuple[int, ...]] = {
    int: (onnx.AttributeProto.INT,),
    float: (onnx.AttributeProto.FLOAT, onnx.AttributeProto.INT),
    str: (onnx.AttributeProto.STRING,),
}


class NodeContext:
    """One ONNX node under conversion."""

    def __init__(self, ctx: ImportContext, node: onnx.NodeProto) -> None:
        self.ctx = ctx
        self.node = node
        self.opset = ctx.opset
        self._protos = {a.name: a for a in node.attribute}
        self.attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        self._hint = (node.output[0] if node.output and node.output[0] else node.op_type) or "t"

    # -- inputs ------------------------------------------------------------------------
    @property
    def num_inputs(self) -> int:
        return len(self.node.input)

    def has_input(self, i: int) -> bool:
        return i < len(self.node.input) and self.node.input[i] != ""

    def input(self, i: int) -> str:
        if not self.has_input(i):
            self.fail(f"input {i} is required")
        return self.ctx.lookup(self.node.input[i])

    def optional(self, i: int) -> str | None:
        return self.input(i) if self.has_input(i) else None

    def inputs(self) -> list[str]:
        return [self.ctx.lookup(n) for n in self.node.input if n]

    def type(self, name: str) -> TensorType:
        return self.ctx.b.type_of(name)

    def shape(self, name: str) -> tuple[int, ...]:
        return self.type(name).shape

    def const(self, name: str | None) -> np.ndarray | None:
        return self.ctx.b.const_value(name)

    def require_const(self, i: int, what: str) -> np.ndarray:
        """The value of input ``i``, which must be known at compile time."""
        name = self.input(i)
        value = self.const(name)
        if value is None:
            self.fail(f"{what} (input {i}) must be a compile-time constant")
        return value

    def ints(self, i: int, what: str) -> list[int]:
        return [int(v) for v in self.require_const(i, what).reshape(-1)]

    # -- attributes --------------------------------------------------------------------
    def attr(self, name: str, default: Any = None) -> Any:
        """An attribute's value, checked against the type of ``default`` (int, float,
        str; None: any type)."""
        proto = self._protos.get(name)
        if proto is None:
            return default
        kind = type(default) if default is not None else None
        if kind is bool:
            kind = int
        if kind in _ATTR_KINDS and proto.type not in _ATTR_KINDS[kind]:
            got = onnx.AttributeProto.AttributeType.Name(proto.type)
            self.fail(f"attribute {name!r} must be {kind.__name__}, got {got}")
        value = self.attrs[name]
        if isinstance(value, bytes):
            try:
                value = value.decode()
            except UnicodeDecodeError:
                self.fail(f"attribute {name!r} is not valid UTF-8 text")
        return float(value) if kind is float else value

    def required(self, name: str, kind: builtins.type) -> Any:
        """A required attribute of type ``kind`` (int, float or str)."""
        if name not in self._protos:
            self.fail(f"attribute {name!r} is required")
        return self.attr(name, {int: 0, float: 0.0, str: ""}[kind])

    def attr_ints(self, name: str, default: Sequence[int] | None = None) -> list[int] | None:
        proto = self._protos.get(name)
        if proto is None:
            return None if default is None else list(default)
        if proto.type != onnx.AttributeProto.INTS:
            got = onnx.AttributeProto.AttributeType.Name(proto.type)
            self.fail(f"attribute {name!r} must be a list of ints, got {got}")
        return [int(v) for v in proto.ints]

    # -- outputs -----------------------------------------------------------------------
    def emit(self, op: str, inputs: Sequence[str | None], attrs: Attrs | None = None) -> str:
        try:
            return self.ctx.emit(op, inputs, attrs, self.node.name, self._hint)[0]
        except IRError as err:
            raise ConversionError(str(err)) from None

    def emit_multi(self, op: str, inputs: Sequence[str | None], attrs: Attrs | None) -> list[str]:
        try:
            return self.ctx.emit(op, inputs, attrs, self.node.name, self._hint)
        except IRError as err:
            raise ConversionError(str(err)) from None

    def constant(self, data: Any, dtype: DType | np.dtype | None = None) -> str:
        arr = np.asarray(data)
        if dtype is not None:
            arr = arr.astype(dtype.numpy() if isinstance(dtype, DType) else dtype)
        return self.ctx.constant(arr, self._hint + "_c")

    def scalar_like(self, value: float, like: str) -> str:
        """A 0-d constant with the dtype of ``like``."""
        return self.constant(np.asarray(value), self.type(like).dtype)

    def fail(self, message: str) -> NoReturn:
        raise ConversionError(message)

    def axis(self, axis: int, rank: int, what: str = "axis") -> int:
        """Normalise a possibly negative axis."""
        if not -rank <= axis < rank:
            self.fail(f"{what} {axis} is out of range for rank {rank}")
        return axis % rank
