"""Reductions, ArgMax/ArgMin, CumSum, Softmax/LogSoftmax."""

from __future__ import annotations

from fftc.frontend.onnx.context import NodeContext
from fftc.frontend.onnx.registry import converter
from fftc.ir.ops.reduce import ArgReduceAttrs, CumSumAttrs, ReduceAttrs, SoftmaxAttrs

_REDUCE = {
    "ReduceSum": "sum",
    "ReduceMean": "mean",
    "ReduceMax": "max",
    "ReduceMin": "min",
    "ReduceProd": "prod",
    "ReduceSumSquare": "sum_square",
    "ReduceL1": "l1",
    "ReduceL2": "l2",
    "ReduceLogSum": "log_sum",
    "ReduceLogSumExp": "log_sum_exp",
}


@converter(*_REDUCE)
def reduce(ctx: NodeContext) -> list[str | None]:
    x = ctx.input(0)
    rank = len(ctx.shape(x))
    if ctx.has_input(1):
        raw: list[int] | None = ctx.ints(1, "axes")
    else:
        raw = ctx.attr_ints("axes")
    if not raw:
        if ctx.attr("noop_with_empty_axes", 0):
            return [x]
        raw = list(range(rank))
    axes = tuple(sorted({ctx.axis(a, rank) for a in raw}))
    keepdims = bool(ctx.attr("keepdims", 1))
    if rank == 0:
        return [x]
    return [ctx.emit("reduce", [x], ReduceAttrs(_REDUCE[ctx.node.op_type], axes, keepdims))]


@converter("ArgMax", "ArgMin")
def arg_reduce(ctx: NodeContext) -> list[str | None]:
    x = ctx.input(0)
    axis = ctx.axis(int(ctx.attr("axis", 0)), len(ctx.shape(x)))
    kind = "max" if ctx.node.op_type == "ArgMax" else "min"
    attrs = ArgReduceAttrs(
        kind, axis, bool(ctx.attr("keepdims", 1)), bool(ctx.attr("select_last_index", 0))
    )
    return [ctx.emit("arg_reduce", [x], attrs)]


@converter("CumSum")
def cumsum(ctx: NodeContext) -> list[str | None]:
    x = ctx.input(0)
    axis = ctx.axis(ctx.ints(1, "axis")[0], len(ctx.shape(x)))
    attrs = CumSumAttrs(axis, bool(ctx.attr("exclusive", 0)), bool(ctx.attr("reverse", 0)))
    return [ctx.emit("cumsum", [x], attrs)]


@converter("Softmax", "LogSoftmax")
def softmax(ctx: NodeContext) -> list[str | None]:
    x = ctx.input(0)
    axis = ctx.axis(int(ctx.attr("axis", -1)), len(ctx.shape(x)))
    op = "softmax" if ctx.node.op_type == "Softmax" else "log_softmax"
    return [ctx.emit(op, [x], SoftmaxAttrs(axis))]
