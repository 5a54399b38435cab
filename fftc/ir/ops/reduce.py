"""Reductions and scans: reduce, arg_reduce, cumsum, softmax, log_softmax."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fftc.ir.graph import Attrs, IRError
from fftc.ir.ops.common import arr, check_axes, need, norm_axis
from fftc.ir.ops.registry import OpDef, OpKind, register_op
from fftc.ir.types import DType, TensorType

REDUCERS: dict[str, Callable[..., Any]] = {
    "sum": np.sum,
    "mean": np.mean,
    "max": np.max,
    "min": np.min,
    "prod": np.prod,
    "sum_square": lambda x, axis, keepdims: np.sum(x * x, axis=axis, keepdims=keepdims),
    "l1": lambda x, axis, keepdims: np.sum(np.abs(x), axis=axis, keepdims=keepdims),
    "l2": lambda x, axis, keepdims: np.sqrt(np.sum(x * x, axis=axis, keepdims=keepdims)),
    "log_sum": lambda x, axis, keepdims: np.log(np.sum(x, axis=axis, keepdims=keepdims)),
    "log_sum_exp": lambda x, axis, keepdims: np.log(
        np.sum(np.exp(x), axis=axis, keepdims=keepdims)
    ),
}


@dataclass(frozen=True)
class ReduceAttrs(Attrs):
    """``axes`` are non-negative and non-empty (the importer expands "all axes")."""

    kind: str
    axes: tuple[int, ...]
    keepdims: bool = True


def reduced_shape(shape: tuple[int, ...], axes: Sequence[int], keepdims: bool) -> tuple[int, ...]:
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def _reduce_infer(ts: Sequence[TensorType | None], a: Attrs) -> list[TensorType]:
    assert isinstance(a, ReduceAttrs)
    x = need(ts[0], "x")
    if a.kind not in REDUCERS:
        raise IRError(f"reduce: unknown kind {a.kind!r}")
    check_axes("reduce", a.axes, x.rank)
    return [x.with_shape(reduced_shape(x.shape, a.axes, a.keepdims))]


def _reduce_ref(xs: Sequence[np.ndarray | None], a: Attrs) -> list[np.ndarray]:
    assert isinstance(a, ReduceAttrs)
    x = arr(xs[0])
    with np.errstate(all="ignore"):
        y = REDUCERS[a.kind](x, axis=a.axes, keepdims=a.keepdims)
    return [np.asarray(y).astype(x.dtype)]


register_op(
    OpDef(
        "reduce",
        ("x",),
        _reduce_infer,
        _reduce_ref,
        ReduceAttrs,
        kind=OpKind.reduction,
        doc="Reduce over axes: sum, mean, max, min, prod, sum_square, l1, l2, log_sum, "
        "log_sum_exp.",
    )
)


@dataclass(frozen=True)
class ArgReduceAttrs(Attrs):
    kind: str  # "max" | "min"
    axis: int
    keepdims: bool = True
    select_last_index: bool = False


def _arg_infer(ts: Sequence[TensorType | None], a: Attrs) -> list[TensorType]:
    assert isinstance(a, ArgReduceAttrs)
    x = need(ts[0], "x")
    if a.kind not in ("max", "min"):
        raise IRError(f"arg_reduce: kind must be max or min, got {a.kind!r}")
    norm_axis("arg_reduce", a.axis, x.rank)
    return [TensorType(reduced_shape(x.shape, (a.axis,), a.keepdims), DType.int64)]


def _arg_ref(xs: Sequence[np.ndarray | None], a: Attrs) -> list[np.ndarray]:
    assert isinstance(a, ArgReduceAttrs)
    x = arr(xs[0])
    fn = np.argmax if a.kind == "max" else np.argmin
    if a.select_last_index:
        rev = np.flip(x, axis=a.axis)
        idx = x.shape[a.axis] - 1 - fn(rev, axis=a.axis)
    else:
        idx = fn(x, axis=a.axis)
    if a.keepdims:
        idx = np.expand_dims(idx, a.axis)
    return [np.asarray(idx, dtype=np.int64)]


register_op(
    OpDef(
        "arg_reduce",
        ("x",),
        _arg_infer,
        _arg_ref,
        ArgReduceAttrs,
        kind=OpKind.reduction,
        doc="ArgMax/ArgMin along one axis.",
    )
)


@dataclass(frozen=True)
class CumSumAttrs(Attrs):
    axis: int
    exclusive: bool = False
    reverse: bool = False


def _same_infer(ts: Sequence[TensorType | None], a: Attrs) -> list[TensorType]:
    x = need(ts[0], "x")
    axis = getattr(a, "axis", 0)
    norm_axis(type(a).__name__, axis, x.rank)
    return [x]


def _cumsum_ref(xs: Sequence[np.ndarray | None], a: Attrs) -> list[np.ndarray]:
    assert isinstance(a, CumSumAttrs)
    x = arr(xs[0])
    y = np.flip(x, a.axis) if a.reverse else x
    c = np.cumsum(y, axis=a.axis, dtype=x.dtype)
    if a.exclusive:
        c = c - y
    return [np.flip(c, a.axis) if a.reverse else c]


register_op(
    OpDef(
        "cumsum",
        ("x",),
        _same_infer,
        _cumsum_ref,
        CumSumAttrs,
        kind=OpKind.opaque,
        doc="Cumulative sum along an axis (ONNX CumSum).",
    )
)


@dataclass(frozen=True)
class SoftmaxAttrs(Attrs):
    axis: int


def _softmax(x: np.ndarray, axis: int, log: bool) -> np.ndarray:
    x64 = x.astype(np.float64)
    z = x64 - x64.max(axis=axis, keepdims=True)
    s = np.exp(z).sum(axis=axis, keepdims=True)
    y = z - np.log(s) if log else np.exp(z) / s
    return y.astype(x.dtype)


def _softmax_ref(xs: Sequence[np.ndarray | None], a: Attrs) -> list[np.ndarray]:
    assert isinstance(a, SoftmaxAttrs)
    return [_softmax(arr(xs[0]), a.axis, log=False)]


def _log_softmax_ref(xs: Sequence[np.ndarray | None], a: Attrs) -> list[np.ndarray]:
    assert isinstance(a, SoftmaxAttrs)
    return [_softmax(arr(xs[0]), a.axis, log=True)]


register_op(
    OpDef(
        "softmax",
        ("x",),
        _same_infer,
        _softmax_ref,
        SoftmaxAttrs,
        kind=OpKind.reduction,
        doc="Softmax along one axis (ONNX opset >= 13).",
    )
)
register_op(
    OpDef(
        "log_softmax",
        ("x",),
        _same_infer,
        _log_softmax_ref,
        SoftmaxAttrs,
        kind=OpKind.reduction,
        doc="Log-softmax along one axis.",
    )
)
