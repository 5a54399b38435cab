"""Ops that lower to fftc's own TIR kernels (conv, conv_transpose, dft, fft_conv, cmul)
and pooling."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fftc.codegen.lower.cuda_kernels import (
    lower_dft_cuda,
    lower_fft_conv2d_cuda,
    lower_fft_conv_cuda,
)
from fftc.codegen.lower.registry import Expr, LowerContext, accumulate_in_f32, lowers
from fftc.codegen.tvm_api import relax, te, tirx
from fftc.ir import Node
from fftc.ir.ops.conv import ConvAttrs, ConvTransposeAttrs, PoolAttrs
from fftc.ir.ops.dft import DFTAttrs
from fftc.ir.ops.spectral import FFTConv2DAttrs, FFTConvAttrs, MirrorRealAttrs

op = relax.op


@lowers("conv")
def conv(ctx: LowerContext, node: Node, args: Sequence[Expr | None]) -> list[Expr]:
    from fftc.kernels.conv import emit_conv

    a = node.attrs
    assert isinstance(a, ConvAttrs)
    w = ctx.input_type(node, 1).shape
    ctx.notes.append(
        f"{node.label}: direct convolution kernel (weight {list(w)}, groups {a.groups}, "
        f"strides {list(a.strides)}, dilations {list(a.dilations)})"
    )
    y = emit_conv(
        ctx.bb,
        args[0],
        args[1],
        args[2],
        strides=a.strides,
        pads=a.pads,
        dilations=a.dilations,
        groups=a.groups,
        knobs=ctx.node_knobs(node),
    )
    return [y]


@lowers("conv_transpose")
def conv_transpose(ctx: LowerContext, node: Node, args: Sequence[Expr | None]) -> list[Expr]:
    from fftc.kernels.conv_transpose import emit_conv_transpose

    a = node.attrs
    assert isinstance(a, ConvTransposeAttrs)
    y = emit_conv_transpose(
        ctx.bb,
        args[0],
        args[1],
        args[2],
        strides=a.strides,
        pads=a.pads,
        dilations=a.dilations,
        groups=a.groups,
        output_padding=a.output_padding,
        knobs=ctx.node_knobs(node),
    )
    return [y]


@lowers("dft")
@accumulate_in_f32
def dft(ctx: LowerContext, node: Node, args: Sequence[Expr | None]) -> list[Expr]:
    if ctx.target_kind == "cuda" and (monarch := lower_dft_cuda(ctx, node, args)):
        return monarch  # two DFT matmul stages on tensor cores, if the length fits
    from fftc.kernels.fft import emit_dft, plan_dft

    a = node.attrs
    assert isinstance(a, DFTAttrs)
    real = ctx.input_type(node, 0).shape[-1] == 1
    plan = plan_dft(a.length, inverse=a.inverse, onesided=a.onesided, real_input=real,
                    norm=a.norm, knobs=ctx.node_knobs(node), factors=a.factors)  # fmt: skip
    ctx.notes.append(f"{node.label}: {plan.explain()}")
    y = emit_dft(
        ctx.bb,
        args[0],
        axis=a.axis,
        length=a.length,
        inverse=a.inverse,
        onesided=a.onesided,
        norm=a.norm,
        knobs=ctx.node_knobs(node),
        factors=a.factors,
    )
    return [y]


_POOLS = {
    ("max", 1): op.nn.max_pool1d,
    ("max", 2): op.nn.max_pool2d,
    ("max", 3): op.nn.max_pool3d,
    ("avg", 1): op.nn.avg_pool1d,
    ("avg", 2): op.nn.avg_pool2d,
    ("avg", 3): op.nn.avg_pool3d,
}


@lowers("pool")
def pool(ctx: LowerContext, node: Node, args: Sequence[Expr | None]) -> list[Expr]:
    a = node.attrs
    assert isinstance(a, PoolAttrs)
    fn = _POOLS[(a.kind, len(a.kernel))]
    layout = {1: "NCW", 2: "NCHW", 3: "NCDHW"}[len(a.kernel)]
    y = fn(
        args[0], a.kernel, a.strides, a.pads, a.dilations, a.ceil_mode, a.count_include_pad, layout
    )
    return [ctx.emit(y)]


@lowers("fft_conv")
@accumulate_in_f32
def fft_conv(ctx: LowerContext, node: Node, args: Sequence[Expr | None]) -> list[Expr]:
    if ctx.target_kind == "cuda" and (monarch := lower_fft_conv_cuda(ctx, node, args)):
        return monarch  # the tensor-core Monarch kernel (cuda_kernels.py), if the length fits
    from fftc.kernels.fft.plan import plan_complex
    from fftc.kernels.fft_conv import emit_fft_conv

    a = node.attrs
    assert isinstance(a, FFTConvAttrs)
    x = args[0]
    shape = ctx.input_type(node, 0).shape
    if len(shape) == 1:  # the kernel wants at least one row dimension
        x = ctx.emit(op.reshape(x, (1, shape[0])))
    plan = plan_complex(a.length // 2, ctx.node_knobs(node), a.factors)
    ctx.notes.append(
        f"{node.label}: fused FFT convolution n={a.length} (rfft/irfft through complex "
        f"{plan.describe()}), product and inverse in one kernel per row"
        + (f"; products of {sum(hi - lo for lo, hi in a.bands)} of {a.length // 2 + 1} bins "
           "(bands)" if a.bands else "")
    )  # fmt: skip
    y = emit_fft_conv(ctx.bb, x, args[1], length=a.length, out_length=a.out_length,
                      stride=a.stride, knobs=ctx.node_knobs(node), factors=a.factors,
                      bands=a.bands, lanes=_row_lanes(ctx))  # fmt: skip
    if len(shape) == 1:
        y = ctx.emit(op.reshape(y, (a.out_length,)))
    return [y]


def _row_lanes(ctx: LowerContext) -> int:
    """The rows the CPU template computes together by default (a constant spectrum is
    stored interleaved to match); other targets keep the plain layout."""
    from fftc.schedules.cpu.fft_conv import ROWS

    return int(ROWS.default) if ctx.target_kind == "llvm" else 1


@lowers("fft_conv2d")
@accumulate_in_f32
def fft_conv2d(ctx: LowerContext, node: Node, args: Sequence[Expr | None]) -> list[Expr]:
    if ctx.target_kind == "cuda" and (monarch := lower_fft_conv2d_cuda(ctx, node, args)):
        return monarch  # the Monarch kernel's stages without twiddles, if the lengths fit
    from fftc.kernels.fft.plan import plan_complex
    from fftc.kernels.fft_conv2d import emit_fft_conv2d

    a = node.attrs
    assert isinstance(a, FFTConv2DAttrs)
    knobs = ctx.node_knobs(node)
    col_factors, row_factors = a.factors if a.factors else ((), ())
    cols = plan_complex(a.lengths[0], knobs, col_factors)
    rows = plan_complex(a.lengths[1] // 2, knobs, row_factors)
    ctx.notes.append(
        f"{node.label}: fused 2-D FFT convolution {a.lengths[0]}x{a.lengths[1]} (columns "
        f"{cols.describe()}, rows real through complex {rows.describe()}), product and "
        "inverse in one kernel per image"
    )
    y = emit_fft_conv2d(ctx.bb, args[0], args[1], lengths=a.lengths, out_shape=a.out_shape,
                        strides=a.strides, axis=a.axis, knobs=knobs, factors=a.factors)  # fmt: skip
    return [y]


@lowers("mirror_real")
def mirror_real(ctx: LowerContext, node: Node, args: Sequence[Expr | None]) -> list[Expr]:
    a = node.attrs
    assert isinstance(a, MirrorRealAttrs)
    shape = ctx.input_type(node, 0).shape
    half, rows = a.length // 2, shape[a.flip_axis]

    def compute(x: te.Tensor) -> te.Tensor:
        def body(*index: Any) -> Any:
            k, j = index[a.axis], index[a.flip_axis]
            low = list(index)
            low[a.axis] = tirx.min(k, half)
            high = list(index)
            high[a.axis] = tirx.max(a.length - k, 0)
            high[a.flip_axis] = tirx.floormod(rows - j, rows)
            return tirx.Select(k <= half, x[(*low, 0)], x[(*high, 0)])

        out = list(shape[:-1])
        out[a.axis] = a.length
        return te.compute(tuple(out), body, name="mirror_real")

    return [ctx.bb.emit_te(compute, args[0], primfunc_name_hint="mirror_real")]


@lowers("cmul")
def cmul(ctx: LowerContext, node: Node, args: Sequence[Expr | None]) -> list[Expr]:
    from fftc.kernels.fft_conv import complex_product

    return [ctx.bb.emit_te(complex_product, args[0], args[1], primfunc_name_hint="cmul")]
