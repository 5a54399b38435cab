"""Normalizations: LayerNormalization and GroupNormalization map to IR ops;
InstanceNormalization is a group norm; BatchNormalization (inference),
LpNormalization and LRN are written with elementwise ops, reductions and pool."""

from __future__ import annotations

import numpy as np

from fftc.frontend.onnx.context import NodeContext
from fftc.frontend.onnx.converters.movement import reshape_to
from fftc.frontend.onnx.registry import converter
from fftc.ir.ops.conv import PoolAttrs
from fftc.ir.ops.norm import GroupNormAttrs, LayerNormAttrs
from fftc.ir.ops.reduce import ReduceAttrs


@converter("LayerNormalization")
def layer_norm(ctx: NodeContext) -> list[str | None]:
    """The normalised output; Mean and InvStdDev (when used) with reductions."""
    x = ctx.input(0)
    rank = len(ctx.shape(x))
    axis = ctx.axis(int(ctx.attr("axis", -1)), rank)
    eps = float(ctx.attr("epsilon", 1e-5))
    y = ctx.emit("layer_norm", [x, ctx.input(1), ctx.optional(2)], LayerNormAttrs(axis, eps))
    if not any(o for o in ctx.node.output[1:]):
        return [y]
    axes = tuple(range(axis, rank))
    mean = ctx.emit("reduce", [x], ReduceAttrs("mean", axes, True))
    centered = ctx.emit("sub", [x, mean])
    var = ctx.emit(
        "reduce", [ctx.emit("mul", [centered, centered])], ReduceAttrs("mean", axes, True)
    )
    std = ctx.emit("sqrt", [ctx.emit("add", [var, ctx.scalar_like(eps, var)])])
    return [y, mean, ctx.emit("reciprocal", [std])]


@converter("GroupNormalization", since=18)
def group_norm(ctx: NodeContext) -> list[str | None]:
    x, scale, bias = ctx.input(0), ctx.input(1), ctx.input(2)
    groups = ctx.required("num_groups", int)
    channels = ctx.shape(x)[1]
    if ctx.opset < 21 and ctx.shape(scale) == (groups,) and groups != channels:
        # opset 18: scale/bias per group -> repeat them per channel
        reps = channels // groups
        scale, bias = (
            ctx.constant(np.repeat(ctx.require_const(i, name), reps))
            for i, name in ((1, "scale"), (2, "bias"))
        )
    attrs = GroupNormAttrs(groups, float(ctx.attr("epsilon", 1e-5)))
    return [ctx.emit("group_norm", [x, scale, bias], attrs)]


@converter("InstanceNormalization")
def instance_norm(ctx: NodeContext) -> list[str | None]:
    x = ctx.input(0)
    attrs = GroupNormAttrs(ctx.shape(x)[1], float(ctx.attr("epsilon", 1e-5)))
    return [ctx.emit("group_norm", [x, ctx.input(1), ctx.input(2)], attrs)]


def _per_channel(ctx: NodeContext, name: str, rank: int) -> str:
    """Reshape a (C,) tensor to (1, C, 1, ...) for broadcasting over NC... data."""
    return reshape_to(ctx, name, (1, ctx.shape(name)[0]) + (1,) * (rank - 2))


@converter("BatchNormalization")
def batch_norm(ctx: NodeContext) -> list[str | None]:
    if ctx.attr("training_mode", 0) or any(o for o in ctx.node.output[1:]):
        ctx.fail("training-mode BatchNormalization is not supported")
    x = ctx.input(0)
    rank = len(ctx.shape(x))
    eps = float(ctx.attr("epsilon", 1e-5))
    consts = [ctx.const(ctx.input(i)) for i in range(1, 5)]
    dtype = ctx.type(x).dtype.numpy()
    if all(c is not None for c in consts):  # fold into y = x * a + b
        scale, bias, mean, var = (np.asarray(c, np.float64) for c in consts if c is not None)
        a = scale / np.sqrt(var + eps)
        b = bias - mean * a
        shape = (1, a.shape[0]) + (1,) * (rank - 2)
        mul = ctx.constant(a.reshape(shape).astype(dtype))
        add = ctx.constant(b.reshape(shape).astype(dtype))
        return [ctx.emit("add", [ctx.emit("mul", [x, mul]), add])]
    s, b_, m, v = (_per_channel(ctx, ctx.input(i), rank) for i in range(1, 5))
    std = ctx.emit("sqrt", [ctx.emit("add", [v, ctx.scalar_like(eps, v)])])
    norm = ctx.emit("div", [ctx.emit("sub", [x, m]), std])
    return [ctx.emit("add", [ctx.emit("mul", [norm, s]), b_])]


@converter("LpNormalization")
def lp_norm(ctx: NodeContext) -> list[str | None]:
    """x / ||x||_p along an axis; 0 where the norm is 0."""
    x = ctx.input(0)
    axis = ctx.axis(int(ctx.attr("axis", -1)), len(ctx.shape(x)))
    p = int(ctx.attr("p", 2))
    if p not in (1, 2):
        ctx.fail(f"p must be 1 or 2, got {p}")
    norm = ctx.emit("reduce", [x], ReduceAttrs("l1" if p == 1 else "l2", (axis,), True))
    zero = ctx.scalar_like(0.0, norm)
    is_zero = ctx.emit("equal", [norm, zero])
    safe = ctx.emit("where", [is_zero, ctx.scalar_like(1.0, norm), norm])
    return [ctx.emit("where", [is_zero, zero, ctx.emit("div", [x, safe])])]


@converter("LRN")
def lrn(ctx: NodeContext) -> list[str | None]:
    """x / (bias + alpha/size * sum of squares over a window of channels) ** beta."""
    x = ctx.input(0)
    shape = ctx.shape(x)
    n, c = shape[0], shape[1]
    rest = int(np.prod(shape[2:]))
    size = ctx.required("size", int)
    alpha, beta = float(ctx.attr("alpha", 1e-4)), float(ctx.attr("beta", 0.75))
    bias = float(ctx.attr("bias", 1.0))
    sq = reshape_to(ctx, ctx.emit("mul", [x, x]), (n, 1, c, rest))
    lo, hi = (size - 1) // 2, size - 1 - (size - 1) // 2
    pool = PoolAttrs("avg", (size, 1), (1, 1), (lo, 0, hi, 0), (1, 1), False, True)
    mean = reshape_to(ctx, ctx.emit("pool", [sq], pool), shape)
    # avg * size = window sum;  base = bias + alpha/size * sum = bias + alpha * avg
    base = ctx.emit(
        "add", [ctx.emit("mul", [mean, ctx.scalar_like(alpha, x)]), ctx.scalar_like(bias, x)]
    )
    return [ctx.emit("div", [x, ctx.emit("pow", [base, ctx.scalar_like(beta, x)])])]
