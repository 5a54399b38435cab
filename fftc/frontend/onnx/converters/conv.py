"""Conv, ConvTranspose, CausalConvWithState and pooling.

``auto_pad`` and ``output_shape`` are resolved into explicit pads here, so the
IR ops carry only explicit, static geometry.
"""

from __future__ import annotations

import math

import numpy as np

from fftc.frontend.onnx.context import NodeContext
from fftc.frontend.onnx.registry import converter
from fftc.ir.ops.conv import ConvAttrs, ConvTransposeAttrs, PoolAttrs
from fftc.ir.ops.movement import ConcatAttrs, SliceAttrs
from fftc.ir.ops.reduce import ReduceAttrs


def same_pads(
    sizes: list[int], kernel: list[int], strides: list[int], dils: list[int], upper: bool
) -> list[int]:
    """Pads for auto_pad SAME_UPPER/SAME_LOWER: output = ceil(input / stride)."""
    begins, ends = [], []
    for size, k, s, d in zip(sizes, kernel, strides, dils, strict=True):
        out = math.ceil(size / s)
        total = max(0, (out - 1) * s + (k - 1) * d + 1 - size)
        small, big = total // 2, total - total // 2
        begins.append(small if upper else big)
        ends.append(big if upper else small)
    return begins + ends


def _geometry(
    ctx: NodeContext, rank: int, kernel: list[int]
) -> tuple[list[int], list[int], list[int]]:
    strides = ctx.attr_ints("strides", [1] * rank) or []
    dils = ctx.attr_ints("dilations", [1] * rank) or []
    if len(strides) != rank or len(dils) != rank or len(kernel) != rank:
        ctx.fail(f"strides/dilations/kernel_shape must have {rank} values")
    auto_pad = ctx.attr("auto_pad", "NOTSET")
    sizes = list(ctx.shape(ctx.input(0))[2:])
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        pads = same_pads(sizes, kernel, strides, dils, auto_pad == "SAME_UPPER")
    elif auto_pad == "VALID":
        pads = [0] * (2 * rank)
    elif auto_pad == "NOTSET":
        pads = ctx.attr_ints("pads", [0] * (2 * rank)) or []
    else:
        ctx.fail(f"unknown auto_pad {auto_pad!r}")
    if len(pads) != 2 * rank:
        ctx.fail(f"pads must have {2 * rank} values, got {pads}")
    return strides, pads, dils


def _rank_and_kernel(ctx: NodeContext) -> tuple[int, list[int]]:
    x_shape, w_shape = ctx.shape(ctx.input(0)), ctx.shape(ctx.input(1))
    rank = len(x_shape) - 2
    if rank < 1:
        ctx.fail(f"input must have rank >= 3, got shape {list(x_shape)}")
    kernel = ctx.attr_ints("kernel_shape", list(w_shape[2:])) or []
    if kernel != list(w_shape[2:]):
        ctx.fail(f"kernel_shape {kernel} disagrees with the weight shape {list(w_shape)}")
    return rank, kernel


@converter("Conv")
def conv(ctx: NodeContext) -> list[str | None]:
    rank, kernel = _rank_and_kernel(ctx)
    strides, pads, dils = _geometry(ctx, rank, kernel)
    attrs = ConvAttrs(tuple(strides), tuple(pads), tuple(dils), int(ctx.attr("group", 1)))
    return [ctx.emit("conv", [ctx.input(0), ctx.input(1), ctx.optional(2)], attrs)]


@converter("ConvTranspose")
def conv_transpose(ctx: NodeContext) -> list[str | None]:
    rank, kernel = _rank_and_kernel(ctx)
    strides = ctx.attr_ints("strides", [1] * rank) or []
    dils = ctx.attr_ints("dilations", [1] * rank) or []
    out_pad = ctx.attr_ints("output_padding", [0] * rank) or []
    sizes = list(ctx.shape(ctx.input(0))[2:])
    auto_pad = ctx.attr("auto_pad", "NOTSET")
    output_shape = ctx.attr_ints("output_shape")
    if output_shape is not None and len(output_shape) > rank:
        output_shape = output_shape[-rank:]  # some exporters give the full NCHW shape
    if output_shape is None and auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        output_shape = [s * st for s, st in zip(sizes, strides, strict=True)]
    if output_shape is not None:
        begins, ends = [], []
        for i in range(rank):
            total = (
                strides[i] * (sizes[i] - 1)
                + out_pad[i]
                + (kernel[i] - 1) * dils[i]
                + 1
                - output_shape[i]
            )
            small, big = total // 2, total - total // 2
            upper = auto_pad == "SAME_UPPER"
            begins.append(small if upper else big)
            ends.append(big if upper else small)
        pads = begins + ends
    else:
        pads = ctx.attr_ints("pads", [0] * (2 * rank)) or []
    attrs = ConvTransposeAttrs(
        tuple(strides), tuple(pads), tuple(dils), int(ctx.attr("group", 1)), tuple(out_pad)
    )
    return [ctx.emit("conv_transpose", [ctx.input(0), ctx.input(1), ctx.optional(2)], attrs)]


@converter("CausalConvWithState", since=27)
def causal_conv_with_state(ctx: NodeContext) -> list[str | None]:
    """concat(past or zeros, x) -> depthwise conv (no padding) [+ silu]; state = last k-1."""
    x, w = ctx.input(0), ctx.input(1)
    n, c, length = ctx.shape(x)
    k = ctx.shape(w)[-1]
    if ctx.shape(w) != (c, 1, k):
        ctx.fail(f"weight must have shape ({c}, 1, k), got {list(ctx.shape(w))}")
    past = ctx.optional(3)
    if past is None:
        past = ctx.constant(np.zeros((n, c, k - 1)), ctx.type(x).dtype)
    padded = ctx.emit("concat", [past, x], ConcatAttrs(2)) if k > 1 else x
    y = ctx.emit("conv", [padded, w, ctx.optional(2)], ConvAttrs((1,), (0, 0), (1,), c))
    act = ctx.attr("activation", "none")
    if act in ("silu", "swish"):
        y = ctx.emit("mul", [y, ctx.emit("sigmoid", [y])])
    elif act != "none":
        ctx.fail(f"unknown activation {act!r}")
    total = length + k - 1
    state = ctx.emit(
        "slice", [padded], SliceAttrs((0, 0, total - (k - 1)), (n, c, total), (1, 1, 1))
    )
    return [y, state]


def _pool(ctx: NodeContext, kind: str) -> list[str | None]:
    if len(ctx.node.output) > 1 and ctx.node.output[1]:
        ctx.fail("the Indices output of MaxPool is not supported")
    x = ctx.input(0)
    rank = len(ctx.shape(x)) - 2
    kernel = ctx.attr_ints("kernel_shape")
    if kernel is None or len(kernel) != rank:
        ctx.fail(f"kernel_shape must have {rank} values")
    assert kernel is not None
    strides, pads, dils = _geometry(ctx, rank, kernel)
    if ctx.attr("auto_pad", "NOTSET") in ("SAME_UPPER", "SAME_LOWER") and ctx.attr("ceil_mode", 0):
        ctx.fail("auto_pad SAME with ceil_mode is not supported")
    attrs = PoolAttrs(
        kind,
        tuple(kernel),
        tuple(strides),
        tuple(pads),
        tuple(dils),
        bool(ctx.attr("ceil_mode", 0)),
        bool(ctx.attr("count_include_pad", 0)),
    )
    return [ctx.emit("pool", [x], attrs)]


@converter("MaxPool")
def max_pool(ctx: NodeContext) -> list[str | None]:
    if ctx.attr("storage_order", 0):
        ctx.fail("storage_order=1 is not supported")
    return _pool(ctx, "max")


@converter("AveragePool")
def average_pool(ctx: NodeContext) -> list[str | None]:
    return _pool(ctx, "avg")


@converter("GlobalAveragePool", "GlobalMaxPool")
def global_pool(ctx: NodeContext) -> list[str | None]:
    x = ctx.input(0)
    axes = tuple(range(2, len(ctx.shape(x))))
    kind = "mean" if ctx.node.op_type == "GlobalAveragePool" else "max"
    return [ctx.emit("reduce", [x], ReduceAttrs(kind, axes, True))]
