"""Reductions, scans, softmax, normalizations, matmul and einsum -> Relax ops."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from fftc.codegen.lower.registry import Expr, LowerContext, accumulate_in_f32, lowers
from fftc.codegen.tvm_api import relax, te, tirx
from fftc.ir import DType, Node
from fftc.ir.ops.linalg import EinsumAttrs
from fftc.ir.ops.norm import GroupNormAttrs, LayerNormAttrs
from fftc.ir.ops.reduce import ArgReduceAttrs, CumSumAttrs, ReduceAttrs, SoftmaxAttrs

op = relax.op


@lowers("reduce")
@accumulate_in_f32
def reduce(ctx: LowerContext, node: Node, args: Sequence[Expr | None]) -> list[Expr]:
    a = node.attrs
    assert isinstance(a, ReduceAttrs)
    x, axes, keep = args[0], list(a.axes), a.keepdims
    simple = {"sum": op.sum, "mean": op.mean, "max": op.max, "min": op.min, "prod": op.prod}
    dtype = node.output.type.dtype
    if dtype is DType.bool:  # max = any, min = all: reduce as uint8
        y = simple[a.kind](op.astype(x, "uint8"), axes, keep)
        return [ctx.emit(op.astype(y, "bool"))]
    if dtype.is_float and a.kind in ("max", "min"):
        # TVM's max/min start from the lowest/highest *finite* value: a row of -inf
        # (a fully masked attention row) would come out finite.  Start from -inf/+inf.
        return [ctx.bb.emit_te(_extreme, x, kind=a.kind, axes=axes, keepdims=keep)]
    if a.kind in simple:
        return [ctx.emit(simple[a.kind](x, axes, keep))]
    if a.kind == "sum_square":
        return [ctx.emit(op.sum(op.multiply(x, x), axes, keep))]
    if a.kind == "l1":
        return [ctx.emit(op.sum(op.abs(x), axes, keep))]
    if a.kind == "l2":
        return [ctx.emit(op.sqrt(op.sum(op.multiply(x, x), axes, keep)))]
    if a.kind == "log_sum":
        return [ctx.emit(op.log(op.sum(x, axes, keep)))]
    # log_sum_exp, shifted by the max for stability
    m = ctx.emit(op.max(x, axes, True))
    s = ctx.emit(op.log(op.sum(op.exp(op.subtract(x, m)), axes, True)))
    y = ctx.emit(op.add(s, m))
    if not keep:
        y = ctx.emit(op.squeeze(y, axes))
    return [y]


def _extreme(x: Any, kind: str, axes: list[int], keepdims: bool) -> Any:
    """max/min over ``axes`` with an infinite identity (TE)."""
    shape = [int(d) for d in x.shape]
    inf = tirx.const(float("inf") if kind == "min" else float("-inf"), x.dtype)
    combine = tirx.min if kind == "min" else tirx.max
    reducer = te.comm_reducer(lambda a, b: combine(a, b), lambda t: inf, name=f"inf_{kind}")
    raxes = [te.reduce_axis((0, shape[d]), f"r{d}") for d in axes]
    out_dims = [1 if d in axes else n for d, n in enumerate(shape) if keepdims or d not in axes]

    def body(*idx: Any) -> Any:
        it = iter(idx)
        full = []
        ri = iter(raxes)
        for d in range(len(shape)):
            if d in axes:
                full.append(next(ri))
                if keepdims:
                    next(it)
            else:
                full.append(next(it))
        return reducer(x[tuple(full)], axis=raxes)

    return te.compute(out_dims, body, name=f"reduce_{kind}")


@lowers("arg_reduce")
def arg_reduce(ctx: LowerContext, node: Node, args: Sequence[Expr | None]) -> list[Expr]:
    a = node.attrs
    assert isinstance(a, ArgReduceAttrs)
    fn = op.argmax if a.kind == "max" else op.argmin
    x = args[0]
    if not a.select_last_index:
        return [ctx.emit(op.astype(fn(x, a.axis, a.keepdims), "int64"))]
    dim = ctx.input_type(node, 0).shape[a.axis]
    idx = ctx.emit(op.astype(fn(op.flip(x, a.axis), a.axis, a.keepdims), "int64"))
    return [ctx.emit(op.subtract(relax.const(dim - 1, "int64"), idx))]


@lowers("cumsum")
@accumulate_in_f32
def cumsum(ctx: LowerContext, node: Node, args: Sequence[Expr | None]) -> list[Expr]:
    a = node.attrs
    assert isinstance(a, CumSumAttrs)
    x = args[0]
    if a.reverse:
        x = ctx.emit(op.flip(x, a.axis))
    y = ctx.emit(op.cumsum(x, a.axis, exclusive=a.exclusive))
    if a.reverse:
        y = ctx.emit(op.flip(y, a.axis))
    return [y]


@lowers("softmax", "log_softmax")
@accumulate_in_f32
def softmax(ctx: LowerContext, node: Node, args: Sequence[Expr | None]) -> list[Expr]:
    assert isinstance(node.attrs, SoftmaxAttrs)
    fn = op.nn.softmax if node.op == "softmax" else op.nn.log_softmax
    return [ctx.emit(fn(args[0], node.attrs.axis))]


def _affine_param(
    param: Expr | None, have: tuple[int, ...], shape: tuple[int, ...], dtype: str, fill: float
) -> Expr:
    """Scale/bias with exactly ``shape`` (Relax's norms need full-shaped params)."""
    if param is None:
        return relax.const(np.full(shape, fill, dtype=dtype))
    if have == shape:
        return param
    return op.broadcast_to(op.reshape(param, (1,) * (len(shape) - len(have)) + have), shape)


@lowers("layer_norm")
@accumulate_in_f32
def layer_norm(ctx: LowerContext, node: Node, args: Sequence[Expr | None]) -> list[Expr]:
    a = node.attrs
    assert isinstance(a, LayerNormAttrs)
    t = node.output.type
    tail = t.shape[a.axis :]
    shapes = [ctx.input_type(node, i).shape if args[i] is not None else () for i in (1, 2)]
    gamma = ctx.emit(_affine_param(args[1], shapes[0], tail, t.dtype.value, 1.0))
    beta = ctx.emit(_affine_param(args[2], shapes[1], tail, t.dtype.value, 0.0))
    axes = list(range(a.axis, t.rank))
    return [ctx.emit(op.nn.layer_norm(args[0], gamma, beta, axes, a.epsilon))]


@lowers("group_norm")
@accumulate_in_f32
def group_norm(ctx: LowerContext, node: Node, args: Sequence[Expr | None]) -> list[Expr]:
    a = node.attrs
    assert isinstance(a, GroupNormAttrs)
    rank = node.output.type.rank
    y = op.nn.group_norm(
        args[0], args[1], args[2], a.num_groups, 1, list(range(2, rank)), a.epsilon
    )
    return [ctx.emit(y)]


@lowers("matmul")
@accumulate_in_f32
def matmul(ctx: LowerContext, node: Node, args: Sequence[Expr | None]) -> list[Expr]:
    return [ctx.emit(op.matmul(args[0], args[1]))]


@lowers("einsum")
@accumulate_in_f32
def einsum(ctx: LowerContext, node: Node, args: Sequence[Expr | None]) -> list[Expr]:
    assert isinstance(node.attrs, EinsumAttrs)
    return [ctx.emit(op.einsum(list(args), node.attrs.equation))]
