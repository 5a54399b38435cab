"""Data movement: reshape, transpose, slice, pad, concat, broadcast_to, tile,
gather, gather_elements, scatter_nd.

All shape-like attributes are static and normalised by the importer (no -1
or 0 in reshape targets, non-negative axes, clamped slice bounds).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fftc.ir.graph import Attrs, IRError
from fftc.ir.ops.common import arr, need, norm_axis, same_dtype
from fftc.ir.ops.registry import InferFn, OpDef, OpKind, ReferenceFn, register_op
from fftc.ir.types import DType, TensorType


def _reg(
    name: str,
    inputs: tuple[str, ...],
    infer: InferFn,
    ref: ReferenceFn,
    attrs: type[Attrs],
    doc: str,
) -> None:
    register_op(OpDef(name, inputs, infer, ref, attrs, kind=OpKind.injective, doc=doc))


# --- reshape ---------------------------------------------------------------------------
@dataclass(frozen=True)
class ReshapeAttrs(Attrs):
    shape: tuple[int, ...]


def _reshape_infer(ts: Sequence[TensorType | None], a: Attrs) -> list[TensorType]:
    assert isinstance(a, ReshapeAttrs)
    x = need(ts[0], "x")
    out = TensorType(a.shape, x.dtype)
    if out.size != x.size:
        raise IRError(f"reshape: cannot reshape {x} ({x.size} elements) to {list(a.shape)}")
    return [out]


def _reshape_ref(xs: Sequence[np.ndarray | None], a: Attrs) -> list[np.ndarray]:
    assert isinstance(a, ReshapeAttrs)
    return [arr(xs[0]).reshape(a.shape)]


_reg("reshape", ("x",), _reshape_infer, _reshape_ref, ReshapeAttrs, "Row-major reshape.")


# --- transpose -------------------------------------------------------------------------
@dataclass(frozen=True)
class TransposeAttrs(Attrs):
    perm: tuple[int, ...]


def _transpose_infer(ts: Sequence[TensorType | None], a: Attrs) -> list[TensorType]:
    assert isinstance(a, TransposeAttrs)
    x = need(ts[0], "x")
    if sorted(a.perm) != list(range(x.rank)):
        raise IRError(f"transpose: perm {list(a.perm)} is not a permutation of rank {x.rank}")
    return [x.with_shape(tuple(x.shape[p] for p in a.perm))]


def _transpose_ref(xs: Sequence[np.ndarray | None], a: Attrs) -> list[np.ndarray]:
    assert isinstance(a, TransposeAttrs)
    return [np.transpose(arr(xs[0]), a.perm)]


_reg("transpose", ("x",), _transpose_infer, _transpose_ref, TransposeAttrs, "Permute axes.")


# --- slice -----------------------------------------------------------------------------
@dataclass(frozen=True)
class SliceAttrs(Attrs):
    """One (start, end, step) per axis of the input, already clamped.

    For a negative step, ``end == -1`` means "through index 0".
    """

    starts: tuple[int, ...]
    ends: tuple[int, ...]
    steps: tuple[int, ...]


def slice_extent(start: int, end: int, step: int) -> int:
    if step > 0:
        return max(0, -(-(end - start) // step))
    return max(0, -(-(start - end) // -step))


def _slice_infer(ts: Sequence[TensorType | None], a: Attrs) -> list[TensorType]:
    assert isinstance(a, SliceAttrs)
    x = need(ts[0], "x")
    if not len(a.starts) == len(a.ends) == len(a.steps) == x.rank:
        raise IRError(f"slice: needs one start/end/step per axis of {x}")
    shape = []
    for d, s, e, st in zip(x.shape, a.starts, a.ends, a.steps, strict=True):
        lo = -1 if st < 0 else 0
        if st == 0 or not (0 <= s <= d) or not (lo <= e <= d):
            raise IRError(f"slice: bounds ({s}, {e}, {st}) invalid for a dim of {d}")
        shape.append(slice_extent(s, e, st))
    return [x.with_shape(tuple(shape))]


def _slice_ref(xs: Sequence[np.ndarray | None], a: Attrs) -> list[np.ndarray]:
    assert isinstance(a, SliceAttrs)
    idx = tuple(
        slice(s, None if (st < 0 and e == -1) else e, st)
        for s, e, st in zip(a.starts, a.ends, a.steps, strict=True)
    )
    return [arr(xs[0])[idx]]


_reg("slice", ("x",), _slice_infer, _slice_ref, SliceAttrs, "Strided slice of every axis.")


# --- pad -------------------------------------------------------------------------------
@dataclass(frozen=True)
class PadAttrs(Attrs):
    """``pads`` = begins then ends for every axis (>= 0); mode constant/reflect/edge/wrap."""

    pads: tuple[int, ...]
    mode: str = "constant"
    value: float = 0.0


def _pad_infer(ts: Sequence[TensorType | None], a: Attrs) -> list[TensorType]:
    assert isinstance(a, PadAttrs)
    x = need(ts[0], "x")
    r = x.rank
    if len(a.pads) != 2 * r or min(a.pads, default=0) < 0:
        raise IRError(f"pad: needs {2 * r} non-negative pads, got {list(a.pads)}")
    if a.mode not in ("constant", "reflect", "edge", "wrap"):
        raise IRError(f"pad: unknown mode {a.mode!r}")
    return [x.with_shape(tuple(x.shape[i] + a.pads[i] + a.pads[r + i] for i in range(r)))]


def _pad_ref(xs: Sequence[np.ndarray | None], a: Attrs) -> list[np.ndarray]:
    assert isinstance(a, PadAttrs)
    x = arr(xs[0])
    r = x.ndim
    width = [(a.pads[i], a.pads[r + i]) for i in range(r)]
    if a.mode == "constant":
        return [np.pad(x, width, constant_values=np.asarray(a.value).astype(x.dtype))]
    mode: Any = a.mode  # one of NumPy's modes, checked by the shape rule
    return [np.pad(x, width, mode=mode)]


_reg("pad", ("x",), _pad_infer, _pad_ref, PadAttrs, "Pad every axis (ONNX Pad).")


# --- concat ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ConcatAttrs(Attrs):
    axis: int


def _concat_infer(ts: Sequence[TensorType | None], a: Attrs) -> list[TensorType]:
    assert isinstance(a, ConcatAttrs)
    types = [need(t, f"operand {i}") for i, t in enumerate(ts)]
    same_dtype("concat", types)
    first = types[0]
    norm_axis("concat", a.axis, first.rank)
    total = 0
    for t in types:
        rest = [d for i, d in enumerate(t.shape) if i != a.axis]
        if t.rank != first.rank or rest != [d for i, d in enumerate(first.shape) if i != a.axis]:
            raise IRError(f"concat: {t} does not match {first} off axis {a.axis}")
        total += t.shape[a.axis]
    shape = list(first.shape)
    shape[a.axis] = total
    return [first.with_shape(tuple(shape))]


def _concat_ref(xs: Sequence[np.ndarray | None], a: Attrs) -> list[np.ndarray]:
    assert isinstance(a, ConcatAttrs)
    return [np.concatenate([arr(x) for x in xs], axis=a.axis)]


_reg("concat", ("operands*",), _concat_infer, _concat_ref, ConcatAttrs, "Join along an axis.")


# --- broadcast_to, tile ----------------------------------------------------------------
@dataclass(frozen=True)
class BroadcastToAttrs(Attrs):
    shape: tuple[int, ...]


def _bcast_infer(ts: Sequence[TensorType | None], a: Attrs) -> list[TensorType]:
    assert isinstance(a, BroadcastToAttrs)
    x = need(ts[0], "x")
    try:
        shape = np.broadcast_shapes(x.shape, a.shape)
    except ValueError:
        raise IRError(f"broadcast_to: {x} does not broadcast to {list(a.shape)}") from None
    if tuple(shape) != a.shape:
        raise IRError(f"broadcast_to: {x} broadcasts to {list(shape)}, not {list(a.shape)}")
    return [x.with_shape(a.shape)]


def _bcast_ref(xs: Sequence[np.ndarray | None], a: Attrs) -> list[np.ndarray]:
    assert isinstance(a, BroadcastToAttrs)
    return [np.broadcast_to(arr(xs[0]), a.shape).copy()]


_reg("broadcast_to", ("x",), _bcast_infer, _bcast_ref, BroadcastToAttrs, "ONNX Expand.")


@dataclass(frozen=True)
class TileAttrs(Attrs):
    repeats: tuple[int, ...]


def _tile_infer(ts: Sequence[TensorType | None], a: Attrs) -> list[TensorType]:
    assert isinstance(a, TileAttrs)
    x = need(ts[0], "x")
    if len(a.repeats) != x.rank or min(a.repeats, default=1) < 0:
        raise IRError(f"tile: needs {x.rank} non-negative repeats, got {list(a.repeats)}")
    return [x.with_shape(tuple(d * r for d, r in zip(x.shape, a.repeats, strict=True)))]


def _tile_ref(xs: Sequence[np.ndarray | None], a: Attrs) -> list[np.ndarray]:
    assert isinstance(a, TileAttrs)
    return [np.tile(arr(xs[0]), a.repeats)]


_reg("tile", ("x",), _tile_infer, _tile_ref, TileAttrs, "Repeat along every axis.")


# --- gather, gather_elements, scatter_nd -------------------------------------------------
@dataclass(frozen=True)
class AxisAttrs(Attrs):
    axis: int


def _int_indices(op: str, t: TensorType) -> None:
    if t.dtype not in (DType.int64, DType.int32):
        raise IRError(f"{op}: indices must be int32/int64, got {t.dtype.value}")


def _gather_infer(ts: Sequence[TensorType | None], a: Attrs) -> list[TensorType]:
    assert isinstance(a, AxisAttrs)
    x, idx = need(ts[0], "data"), need(ts[1], "indices")
    norm_axis("gather", a.axis, x.rank)
    _int_indices("gather", idx)
    return [x.with_shape(x.shape[: a.axis] + idx.shape + x.shape[a.axis + 1 :])]


def _gather_ref(xs: Sequence[np.ndarray | None], a: Attrs) -> list[np.ndarray]:
    assert isinstance(a, AxisAttrs)
    return [np.take(arr(xs[0]), arr(xs[1]), axis=a.axis)]


_reg("gather", ("data", "indices"), _gather_infer, _gather_ref, AxisAttrs, "ONNX Gather.")


def _gather_el_infer(ts: Sequence[TensorType | None], a: Attrs) -> list[TensorType]:
    assert isinstance(a, AxisAttrs)
    x, idx = need(ts[0], "data"), need(ts[1], "indices")
    norm_axis("gather_elements", a.axis, x.rank)
    _int_indices("gather_elements", idx)
    if idx.rank != x.rank:
        raise IRError(f"gather_elements: indices {idx} must have the rank of data {x}")
    return [x.with_shape(idx.shape)]


def _gather_el_ref(xs: Sequence[np.ndarray | None], a: Attrs) -> list[np.ndarray]:
    assert isinstance(a, AxisAttrs)
    x, idx = arr(xs[0]), arr(xs[1])
    idx = np.where(idx < 0, idx + x.shape[a.axis], idx)
    return [np.take_along_axis(x, idx, axis=a.axis)]


_reg(
    "gather_elements",
    ("data", "indices"),
    _gather_el_infer,
    _gather_el_ref,
    AxisAttrs,
    "ONNX GatherElements.",
)


@dataclass(frozen=True)
class ScatterNDAttrs(Attrs):
    reduction: str = "none"


def _scatter_infer(ts: Sequence[TensorType | None], a: Attrs) -> list[TensorType]:
    assert isinstance(a, ScatterNDAttrs)
    x, idx, upd = need(ts[0], "data"), need(ts[1], "indices"), need(ts[2], "updates")
    _int_indices("scatter_nd", idx)
    same_dtype("scatter_nd", [x, upd])
    k = idx.shape[-1] if idx.rank else 0
    if a.reduction not in ("none", "add", "mul", "max", "min"):
        raise IRError(f"scatter_nd: unknown reduction {a.reduction!r}")
    if k > x.rank or upd.shape != idx.shape[:-1] + x.shape[k:]:
        raise IRError(f"scatter_nd: updates {upd} do not fit data {x} with indices {idx}")
    return [x]


def _scatter_ref(xs: Sequence[np.ndarray | None], a: Attrs) -> list[np.ndarray]:
    assert isinstance(a, ScatterNDAttrs)
    out = arr(xs[0]).copy()
    idx, upd = arr(xs[1]), arr(xs[2])
    k = idx.shape[-1]
    flat_idx = idx.reshape(-1, k)
    flat_upd = upd.reshape(flat_idx.shape[0], *upd.shape[idx.ndim - 1 :])
    for i, j in zip(flat_idx, flat_upd, strict=True):
        pos = tuple(int(v) for v in i)
        if a.reduction == "none":
            out[pos] = j
        elif a.reduction == "add":
            out[pos] += j
        elif a.reduction == "mul":
            out[pos] *= j
        elif a.reduction == "max":
            out[pos] = np.maximum(out[pos], j)
        else:
            out[pos] = np.minimum(out[pos], j)
    return [out]


_reg(
    "scatter_nd",
    ("data", "indices", "updates"),
    _scatter_infer,
    _scatter_ref,
    ScatterNDAttrs,
    "ONNX ScatterND.",
)
