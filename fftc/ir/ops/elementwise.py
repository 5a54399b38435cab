"""Elementwise ops: unary math, activations, broadcasting binary ops, where, cast."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fftc.ir.graph import Attrs, IRError
from fftc.ir.ops.common import arr, broadcast_shapes, need, same_dtype
from fftc.ir.ops.registry import OpDef, OpKind, register_op
from fftc.ir.types import DType, TensorType

_erf = np.frompyfunc(math.erf, 1, 1)


def _np_erf(x: np.ndarray) -> np.ndarray:
    return np.asarray(_erf(x.astype(np.float64)), dtype=np.float64).astype(x.dtype)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return np.asarray(1.0 / (1.0 + np.exp(-x)), dtype=x.dtype)


#: unary ops whose NumPy meaning is exact (the IR name is the ONNX name, snake_case)
UNARY: dict[str, Callable[[np.ndarray], Any]] = {
    "abs": np.abs,
    "acos": np.arccos,
    "acosh": np.arccosh,
    "asin": np.arcsin,
    "asinh": np.arcsinh,
    "atan": np.arctan,
    "atanh": np.arctanh,
    "ceil": np.ceil,
    "cos": np.cos,
    "cosh": np.cosh,
    "erf": _np_erf,
    "exp": np.exp,
    "floor": np.floor,
    "log": np.log,
    "neg": np.negative,
    "reciprocal": np.reciprocal,
    "relu": lambda x: np.maximum(x, np.zeros((), x.dtype)),
    "round": np.round,  # half to even, as ONNX
    "sigmoid": _sigmoid,
    "sign": np.sign,
    "sin": np.sin,
    "sinh": np.sinh,
    "sqrt": np.sqrt,
    "tan": np.tan,
    "tanh": np.tanh,
}
#: unary ops with a boolean result
PREDICATES: dict[str, Callable[[np.ndarray], Any]] = {
    "isnan": np.isnan,
    "isinf": np.isinf,
}


def _int_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """ONNX integer Div truncates toward zero."""
    return np.asarray(np.trunc(a / b), dtype=np.result_type(a, b))


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if np.issubdtype(a.dtype, np.integer):
        return _int_div(a, b)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(np.divide(a, b))


BINARY: dict[str, Callable[[np.ndarray, np.ndarray], Any]] = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": _div,
    "pow": np.power,
    "max": np.maximum,
    "min": np.minimum,
}
COMPARE: dict[str, Callable[[np.ndarray, np.ndarray], Any]] = {
    "equal": np.equal,
    "less": np.less,
    "less_equal": np.less_equal,
    "greater": np.greater,
    "greater_equal": np.greater_equal,
}
LOGICAL: dict[str, Callable[[np.ndarray, np.ndarray], Any]] = {
    "and": np.logical_and,
    "or": np.logical_or,
    "xor": np.logical_xor,
}


def _same(ts: Sequence[TensorType | None], _a: Attrs) -> list[TensorType]:
    return [need(ts[0], "x")]


def _as_bool(ts: Sequence[TensorType | None], _a: Attrs) -> list[TensorType]:
    return [need(ts[0], "x").with_dtype(DType.bool)]


def _binary_infer(op: str, result: DType | None) -> Callable[..., list[TensorType]]:
    def infer(ts: Sequence[TensorType | None], _a: Attrs) -> list[TensorType]:
        a, b = need(ts[0], "a"), need(ts[1], "b")
        same_dtype(op, [a, b])
        shape = broadcast_shapes(op, a.shape, b.shape)
        return [TensorType(shape, result or a.dtype)]

    return infer


def _unary_ref(fn: Callable[[np.ndarray], Any]) -> Callable[..., list[np.ndarray]]:
    def ref(xs: Sequence[np.ndarray | None], _a: Attrs) -> list[np.ndarray]:
        x = arr(xs[0])
        with np.errstate(all="ignore"):
            return [np.asarray(fn(x)).astype(x.dtype, copy=False)]

    return ref


def _pred_ref(fn: Callable[[np.ndarray], Any]) -> Callable[..., list[np.ndarray]]:
    def ref(xs: Sequence[np.ndarray | None], _a: Attrs) -> list[np.ndarray]:
        return [np.asarray(fn(arr(xs[0])), dtype=np.bool_)]

    return ref


def _binary_ref(fn: Callable[..., Any], boolean: bool) -> Callable[..., list[np.ndarray]]:
    def ref(xs: Sequence[np.ndarray | None], _a: Attrs) -> list[np.ndarray]:
        a, b = arr(xs[0]), arr(xs[1])
        with np.errstate(all="ignore"):
            out = np.asarray(fn(a, b))
        return [out.astype(np.bool_ if boolean else a.dtype, copy=False)]

    return ref


for _name, _unary in UNARY.items():
    register_op(OpDef(_name, ("x",), _same, _unary_ref(_unary), kind=OpKind.elementwise))
for _name, _unary in PREDICATES.items():
    register_op(OpDef(_name, ("x",), _as_bool, _pred_ref(_unary), kind=OpKind.elementwise))
for _table, _result in ((BINARY, None), (COMPARE, DType.bool), (LOGICAL, DType.bool)):
    for _name, _binary in _table.items():
        register_op(
            OpDef(
                _name,
                ("a", "b"),
                _binary_infer(_name, _result),
                _binary_ref(_binary, _result is DType.bool),
                kind=OpKind.elementwise,
            )
        )


def _not_ref(xs: Sequence[np.ndarray | None], _a: Attrs) -> list[np.ndarray]:
    return [np.logical_not(arr(xs[0]))]


register_op(OpDef("not", ("x",), _same, _not_ref, kind=OpKind.elementwise))


# --- mod -------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModAttrs(Attrs):
    """``fmod``: C fmod (sign of the dividend) instead of Python's % (sign of divisor)."""

    fmod: bool = False


def _mod_ref(xs: Sequence[np.ndarray | None], a: Attrs) -> list[np.ndarray]:
    assert isinstance(a, ModAttrs)
    x, y = arr(xs[0]), arr(xs[1])
    with np.errstate(all="ignore"):
        out = np.fmod(x, y) if a.fmod else np.mod(x, y)
    return [np.asarray(out).astype(x.dtype, copy=False)]


register_op(
    OpDef(
        "mod", ("a", "b"), _binary_infer("mod", None), _mod_ref, ModAttrs, kind=OpKind.elementwise
    )
)


# --- gelu ------------------------------------------------------------------------------
@dataclass(frozen=True)
class GeluAttrs(Attrs):
    """``approximate``: "none" (exact, with erf) or "tanh"."""

    approximate: str = "none"


def _gelu_infer(ts: Sequence[TensorType | None], a: Attrs) -> list[TensorType]:
    assert isinstance(a, GeluAttrs)
    if a.approximate not in ("none", "tanh"):
        raise IRError(f"gelu: approximate must be 'none' or 'tanh', got {a.approximate!r}")
    return _same(ts, a)


def _gelu_ref(xs: Sequence[np.ndarray | None], a: Attrs) -> list[np.ndarray]:
    assert isinstance(a, GeluAttrs)
    x = arr(xs[0])
    x64 = x.astype(np.float64)
    if a.approximate == "tanh":
        y = 0.5 * x64 * (1 + np.tanh(math.sqrt(2 / math.pi) * (x64 + 0.044715 * x64**3)))
    else:
        y = 0.5 * x64 * (1 + _np_erf(x64 / math.sqrt(2)))
    return [y.astype(x.dtype)]


register_op(OpDef("gelu", ("x",), _gelu_infer, _gelu_ref, GeluAttrs, kind=OpKind.elementwise))


# --- clip ------------------------------------------------------------------------------
@dataclass(frozen=True)
class ClipAttrs(Attrs):
    """Bounds (None: unbounded on that side)."""

    min: float | None = None
    max: float | None = None


def _clip_ref(xs: Sequence[np.ndarray | None], a: Attrs) -> list[np.ndarray]:
    assert isinstance(a, ClipAttrs)
    x = arr(xs[0])
    lo = -np.inf if a.min is None else a.min
    hi = np.inf if a.max is None else a.max
    return [np.clip(x, lo, hi).astype(x.dtype)]


register_op(OpDef("clip", ("x",), _same, _clip_ref, ClipAttrs, kind=OpKind.elementwise))


# --- where, cast -----------------------------------------------------------------------
def _where_infer(ts: Sequence[TensorType | None], _a: Attrs) -> list[TensorType]:
    c, x, y = need(ts[0], "condition"), need(ts[1], "x"), need(ts[2], "y")
    if c.dtype is not DType.bool:
        raise IRError(f"where: condition must be bool, got {c.dtype.value}")
    same_dtype("where", [x, y])
    return [TensorType(broadcast_shapes("where", c.shape, x.shape, y.shape), x.dtype)]


def _where_ref(xs: Sequence[np.ndarray | None], _a: Attrs) -> list[np.ndarray]:
    return [np.where(arr(xs[0]), arr(xs[1]), arr(xs[2]))]


register_op(
    OpDef("where", ("condition", "x", "y"), _where_infer, _where_ref, kind=OpKind.elementwise)
)


@dataclass(frozen=True)
class CastAttrs(Attrs):
    to: DType = DType.float32


def _cast_infer(ts: Sequence[TensorType | None], a: Attrs) -> list[TensorType]:
    assert isinstance(a, CastAttrs)
    return [need(ts[0], "x").with_dtype(a.to)]


def _cast_ref(xs: Sequence[np.ndarray | None], a: Attrs) -> list[np.ndarray]:
    assert isinstance(a, CastAttrs)
    with np.errstate(all="ignore"):
        return [arr(xs[0]).astype(a.to.numpy())]


register_op(OpDef("cast", ("x",), _cast_infer, _cast_ref, CastAttrs, kind=OpKind.elementwise))
