"""DFT (opset 17 and 20 forms), STFT, and the window generators.

Zero padding / truncation to ``dft_length`` become explicit pad / slice ops
in front of the IR ``dft``; STFT becomes framing (a gather with constant
indices), the window product, and a ``dft`` over each frame.
"""

from __future__ import annotations

import numpy as np

from fftc.frontend.onnx.context import NodeContext, onnx_dtype
from fftc.frontend.onnx.converters.movement import slice_axis
from fftc.frontend.onnx.registry import converter
from fftc.ir.ops.dft import DFTAttrs
from fftc.ir.ops.movement import AxisAttrs, PadAttrs, ReshapeAttrs


def fit_axis(ctx: NodeContext, x: str, axis: int, extent: int) -> str:
    """Truncate or zero-pad ``x`` along ``axis`` to ``extent``."""
    shape = ctx.shape(x)
    if shape[axis] > extent:
        return slice_axis(ctx, x, axis, 0, extent)
    if shape[axis] < extent:
        pads = [0] * (2 * len(shape))
        pads[len(shape) + axis] = extent - shape[axis]
        return ctx.emit("pad", [x], PadAttrs(tuple(pads)))
    return x


@converter("DFT", since=17)
def dft(ctx: NodeContext) -> list[str | None]:
    x = ctx.input(0)
    shape = ctx.shape(x)
    rank = len(shape)
    if rank < 2 or shape[-1] not in (1, 2):
        ctx.fail(f"input must end in a dim of 1 (real) or 2 (complex), got {list(shape)}")
    if ctx.opset >= 20:
        raw_axis = ctx.ints(2, "axis")[0] if ctx.has_input(2) else -2
    else:
        raw_axis = int(ctx.attr("axis", 1))
    axis = ctx.axis(raw_axis, rank)
    if axis == rank - 1:
        ctx.fail("axis must not be the last (complex) dimension")
    inverse = bool(ctx.attr("inverse", 0))
    onesided = bool(ctx.attr("onesided", 0))
    if onesided and not inverse and shape[-1] != 1:
        ctx.fail("a one-sided forward DFT needs real input (last dim 1)")
    if onesided and inverse and shape[-1] != 2:
        ctx.fail("a one-sided inverse DFT needs complex input (last dim 2)")
    if ctx.has_input(1):
        length = ctx.ints(1, "dft_length")[0]
    else:
        length = 2 * (shape[axis] - 1) if (inverse and onesided) else shape[axis]
    if length < 1:
        ctx.fail(f"dft_length must be >= 1, got {length}")
    attrs = DFTAttrs(axis, length, inverse, onesided)
    x = fit_axis(ctx, x, axis, attrs.input_extent)
    return [ctx.emit("dft", [x], attrs)]


@converter("STFT", since=17)
def stft(ctx: NodeContext) -> list[str | None]:
    signal = ctx.input(0)
    shape = ctx.shape(signal)
    if len(shape) != 3 or shape[-1] not in (1, 2):
        ctx.fail(f"signal must have shape [batch, length, 1 or 2], got {list(shape)}")
    step = ctx.ints(1, "frame_step")[0]
    window = ctx.optional(2)
    if ctx.has_input(3):
        frame_length = ctx.ints(3, "frame_length")[0]
    elif window is not None:
        frame_length = ctx.shape(window)[0]
    else:
        frame_length = shape[1]
    if window is not None and ctx.shape(window) != (frame_length,):
        ctx.fail(f"window must have shape [{frame_length}], got {list(ctx.shape(window))}")
    if step < 1 or not 1 <= frame_length <= shape[1]:
        ctx.fail(f"frame_step {step} / frame_length {frame_length} invalid for {shape[1]} samples")
    onesided = bool(ctx.attr("onesided", 1))
    if onesided and shape[-1] != 1:
        ctx.fail("a one-sided STFT needs a real signal (last dim 1)")
    frames = (shape[1] - frame_length) // step + 1
    index = np.arange(frames)[:, None] * step + np.arange(frame_length)[None, :]
    framed = ctx.emit("gather", [signal, ctx.constant(index.astype(np.int64))], AxisAttrs(1))
    if window is not None:
        w = ctx.emit("reshape", [window], ReshapeAttrs((1, 1, frame_length, 1)))
        framed = ctx.emit("mul", [framed, w])
    return [ctx.emit("dft", [framed], DFTAttrs(2, frame_length, False, onesided))]


_WINDOWS = {
    "HannWindow": (0.5, 0.5, 0.0),
    "HammingWindow": (25.0 / 46.0, 21.0 / 46.0, 0.0),
    "BlackmanWindow": (0.42, 0.5, 0.08),
}


@converter(*_WINDOWS, since=17)
def window(ctx: NodeContext) -> list[str | None]:
    size = ctx.ints(0, "size")[0]
    a0, a1, a2 = _WINDOWS[ctx.node.op_type]
    periodic = bool(ctx.attr("periodic", 1))
    n = np.arange(size, dtype=np.float64)
    denom = size if periodic else max(size - 1, 1)
    w = a0 - a1 * np.cos(2 * np.pi * n / denom) + a2 * np.cos(4 * np.pi * n / denom)
    dtype = onnx_dtype(int(ctx.attr("output_datatype", 1)), "output_datatype")
    return [ctx.constant(w, dtype)]
