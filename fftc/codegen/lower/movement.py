"""Data-movement IR ops -> Relax ops."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fftc.codegen.lower.registry import Expr, LowerContext, lowers
from fftc.codegen.tvm_api import relax
from fftc.ir import Node
from fftc.ir.ops.movement import (
    AxisAttrs,
    BroadcastToAttrs,
    ConcatAttrs,
    PadAttrs,
    ReshapeAttrs,
    ScatterNDAttrs,
    SliceAttrs,
    TileAttrs,
    TransposeAttrs,
)

op = relax.op


@lowers("reshape")
def reshape(ctx: LowerContext, node: Node, args: Sequence[Expr | None]) -> list[Expr]:
    assert isinstance(node.attrs, ReshapeAttrs)
    return [ctx.emit(op.reshape(args[0], node.attrs.shape))]


@lowers("transpose")
def transpose(ctx: LowerContext, node: Node, args: Sequence[Expr | None]) -> list[Expr]:
    assert isinstance(node.attrs, TransposeAttrs)
    return [ctx.emit(op.permute_dims(args[0], list(node.attrs.perm)))]


@lowers("slice")
def slice_(ctx: LowerContext, node: Node, args: Sequence[Expr | None]) -> list[Expr]:
    """Negative steps are a flip followed by a positive-step slice."""
    a = node.attrs
    assert isinstance(a, SliceAttrs)
    x = args[0]
    in_shape = ctx.input_type(node, 0).shape
    axes, begins, ends, strides = [], [], [], []
    for axis, (dim, s, e, st) in enumerate(zip(in_shape, a.starts, a.ends, a.steps, strict=True)):
        if st < 0:
            x = ctx.emit(op.flip(x, axis))
            s, e, st = dim - 1 - s, dim - 1 - e, -st
        if (s, e, st) != (0, dim, 1):
            axes.append(axis)
            begins.append(s)
            ends.append(e)
            strides.append(st)
    if not axes:
        return [x]
    return [ctx.emit(op.strided_slice(x, axes, begins, ends, strides, assume_inbound=True))]


def pad_indices(size: int, before: int, after: int, mode: str) -> np.ndarray:
    """Source index of every output position along one axis for edge/reflect/wrap pads."""
    pos = np.arange(-before, size + after)
    if mode == "edge":
        return np.clip(pos, 0, size - 1)
    if mode == "wrap":
        return np.mod(pos, size)
    period = 2 * (size - 1)  # reflect without repeating the border element
    if period == 0:
        return np.zeros_like(pos)
    pos = np.mod(pos, period)
    return np.where(pos < size, pos, period - pos)


@lowers("pad")
def pad(ctx: LowerContext, node: Node, args: Sequence[Expr | None]) -> list[Expr]:
    """Constant pads are Relax's pad; edge/reflect/wrap gather along each padded axis."""
    a = node.attrs
    assert isinstance(a, PadAttrs)
    rank = len(a.pads) // 2
    x = args[0]
    if a.mode == "constant":
        width: list[int] = []
        for i in range(rank):
            width += [a.pads[i], a.pads[rank + i]]
        return [ctx.emit(op.nn.pad(x, width, "constant", a.value))]
    shape = ctx.input_type(node, 0).shape
    for axis in range(rank):
        before, after = a.pads[axis], a.pads[rank + axis]
        if before or after:
            idx = pad_indices(shape[axis], before, after, a.mode).astype("int64")
            x = ctx.emit(op.take(x, relax.const(idx), axis=axis))
    return [x]


@lowers("concat")
def concat(ctx: LowerContext, node: Node, args: Sequence[Expr | None]) -> list[Expr]:
    assert isinstance(node.attrs, ConcatAttrs)
    return [ctx.emit(op.concat(list(args), axis=node.attrs.axis))]


@lowers("broadcast_to")
def broadcast_to(ctx: LowerContext, node: Node, args: Sequence[Expr | None]) -> list[Expr]:
    assert isinstance(node.attrs, BroadcastToAttrs)
    return [ctx.emit(op.broadcast_to(args[0], node.attrs.shape))]


@lowers("tile")
def tile(ctx: LowerContext, node: Node, args: Sequence[Expr | None]) -> list[Expr]:
    assert isinstance(node.attrs, TileAttrs)
    return [ctx.emit(op.tile(args[0], list(node.attrs.repeats)))]


@lowers("gather")
def gather(ctx: LowerContext, node: Node, args: Sequence[Expr | None]) -> list[Expr]:
    assert isinstance(node.attrs, AxisAttrs)
    return [ctx.emit(op.take(args[0], args[1], axis=node.attrs.axis, mode="wrap"))]


@lowers("gather_elements")
def gather_elements(ctx: LowerContext, node: Node, args: Sequence[Expr | None]) -> list[Expr]:
    assert isinstance(node.attrs, AxisAttrs)
    return [ctx.emit(op.gather_elements(args[0], args[1], axis=node.attrs.axis))]


@lowers("scatter_nd")
def scatter_nd(ctx: LowerContext, node: Node, args: Sequence[Expr | None]) -> list[Expr]:
    assert isinstance(node.attrs, ScatterNDAttrs)
    reduction = {"none": "update"}.get(node.attrs.reduction, node.attrs.reduction)
    return [ctx.emit(op.scatter_nd(args[0], args[1], args[2], reduction))]
