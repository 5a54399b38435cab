"""Convolution ops: ``conv``, ``conv_transpose`` and ``pool`` (N-D, NC[D]HW layout).

Pads are explicit in ONNX order ``[x1_begin, x2_begin, ..., x1_end, x2_end, ...]``;
the importer resolves ``auto_pad`` and ``output_shape`` into them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fftc.ir.graph import Attrs, IRError
from fftc.ir.ops.common import arr, need, same_dtype
from fftc.ir.ops.registry import OpDef, OpKind, register_op
from fftc.ir.types import TensorType


@dataclass(frozen=True)
class ConvAttrs(Attrs):
    strides: tuple[int, ...]
    pads: tuple[int, ...]
    dilations: tuple[int, ...]
    groups: int = 1

    def check(self, op: str, rank: int) -> None:
        if len(self.strides) != rank or len(self.dilations) != rank or len(self.pads) != 2 * rank:
            raise IRError(
                f"{op}: strides/dilations need {rank} values and pads {2 * rank}, got "
                f"{list(self.strides)}, {list(self.dilations)}, {list(self.pads)}"
            )
        if min(self.strides + self.dilations) < 1 or self.groups < 1:
            raise IRError(f"{op}: strides, dilations and groups must be >= 1")


@dataclass(frozen=True)
class ConvTransposeAttrs(ConvAttrs):
    output_padding: tuple[int, ...] = ()


def conv_out_dim(size: int, k: int, stride: int, dil: int, pb: int, pe: int) -> int:
    return (size + pb + pe - dil * (k - 1) - 1) // stride + 1


def _operands(
    op: str, ts: Sequence[TensorType | None], a: ConvAttrs
) -> tuple[TensorType, TensorType, int]:
    """Input, weight and spatial rank, checked against each other and the attributes."""
    x, w = need(ts[0], "x"), need(ts[1], "w")
    same_dtype(op, [x, w])
    rank = x.rank - 2
    if rank < 1 or w.rank != x.rank:
        raise IRError(f"{op}: input {x} and weight {w} must both be rank >= 3 and equal")
    a.check(op, rank)
    return x, w, rank


def _result(op: str, x: TensorType, m: int, out: list[int], bias: TensorType | None) -> TensorType:
    if bias is not None and bias.shape != (m,):
        raise IRError(f"{op}: bias must have shape ({m},), got {bias.shape}")
    if min(out) < 1:
        raise IRError(f"{op}: output spatial shape {out} is empty")
    return TensorType((x.shape[0], m, *out), x.dtype)


def _conv_infer(ts: Sequence[TensorType | None], a: Attrs) -> list[TensorType]:
    assert isinstance(a, ConvAttrs)
    x, w, rank = _operands("conv", ts, a)
    m, cg = w.shape[0], w.shape[1]
    if x.shape[1] != cg * a.groups or m % a.groups:
        raise IRError(
            f"conv: {x.shape[1]} input channels, weight {w.shape} and groups={a.groups} disagree"
        )
    out = [
        conv_out_dim(
            x.shape[2 + i],
            w.shape[2 + i],
            a.strides[i],
            a.dilations[i],
            a.pads[i],
            a.pads[rank + i],
        )
        for i in range(rank)
    ]
    return [_result("conv", x, m, out, ts[2])]


def _windows(
    x: np.ndarray,
    kernel: Sequence[int],
    strides: Sequence[int],
    dils: Sequence[int],
    out: Sequence[int],
) -> np.ndarray:
    """View (N, C, *out, *kernel) of an already padded (N, C, *spatial) array."""
    rank = len(kernel)
    st = x.strides
    shape = (*x.shape[:2], *out, *kernel)
    strides = (
        *st[:2],
        *(st[2 + i] * strides[i] for i in range(rank)),
        *(st[2 + i] * dils[i] for i in range(rank)),
    )
    return np.lib.stride_tricks.as_strided(x, shape, strides, writeable=False)


def _pad(x: np.ndarray, pads: Sequence[int], value: float = 0.0) -> np.ndarray:
    """Pad (or crop, for negative pads) the spatial dims of an NC... array."""
    rank = x.ndim - 2
    before, after = pads[:rank], pads[rank:]
    width = [(0, 0), (0, 0)] + [(max(b, 0), max(e, 0)) for b, e in zip(before, after, strict=True)]
    x = np.pad(x, width, constant_values=value)
    crop = tuple(
        slice(max(-b, 0), x.shape[2 + i] - max(-e, 0))
        for i, (b, e) in enumerate(zip(before, after, strict=True))
    )
    return x[(slice(None), slice(None), *crop)]


def conv_reference(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, a: ConvAttrs) -> np.ndarray:
    rank = x.ndim - 2
    xp = _pad(x, a.pads)
    kernel = w.shape[2:]
    out = [
        conv_out_dim(
            x.shape[2 + i], kernel[i], a.strides[i], a.dilations[i], a.pads[i], a.pads[rank + i]
        )
        for i in range(rank)
    ]
    win = _windows(np.ascontiguousarray(xp), kernel, a.strides, a.dilations, out)
    n, c = x.shape[:2]
    g = a.groups
    win = win.reshape(n, g, c // g, *out, *kernel)
    wg = w.reshape(g, w.shape[0] // g, w.shape[1], *kernel)
    letters = "pqrs"[:rank]
    klet = "wxyz"[:rank]
    eq = f"ngc{letters}{klet},gmc{klet}->ngm{letters}"
    y = np.einsum(eq, win, wg, optimize=True).reshape(n, w.shape[0], *out)
    if b is not None:
        y = y + b.reshape(1, -1, *([1] * rank))
    return y.astype(x.dtype)


def _conv_ref(xs: Sequence[np.ndarray | None], a: Attrs) -> list[np.ndarray]:
    assert isinstance(a, ConvAttrs)
    return [conv_reference(arr(xs[0]), arr(xs[1]), xs[2], a)]


register_op(
    OpDef(
        "conv",
        ("x", "w", "b?"),
        _conv_infer,
        _conv_ref,
        ConvAttrs,
        kind=OpKind.convolution,
        doc="N-D grouped convolution, ONNX Conv semantics with explicit pads.",
    )
)


def conv_transpose_out_dim(
    size: int, k: int, stride: int, dil: int, pb: int, pe: int, out_pad: int
) -> int:
    return stride * (size - 1) + out_pad + (k - 1) * dil + 1 - pb - pe


def _convt_infer(ts: Sequence[TensorType | None], a: Attrs) -> list[TensorType]:
    assert isinstance(a, ConvTransposeAttrs)
    x, w, rank = _operands("conv_transpose", ts, a)
    if len(a.output_padding) != rank:
        raise IRError(f"conv_transpose: output_padding needs {rank} values")
    if x.shape[1] != w.shape[0] or x.shape[1] % a.groups:
        raise IRError(
            f"conv_transpose: {x.shape[1]} input channels, weight {w.shape}, groups={a.groups}"
        )
    m = w.shape[1] * a.groups
    out = [
        conv_transpose_out_dim(
            x.shape[2 + i],
            w.shape[2 + i],
            a.strides[i],
            a.dilations[i],
            a.pads[i],
            a.pads[rank + i],
            a.output_padding[i],
        )
        for i in range(rank)
    ]
    return [_result("conv_transpose", x, m, out, ts[2])]


def conv_transpose_reference(
    x: np.ndarray, w: np.ndarray, b: np.ndarray | None, a: ConvTransposeAttrs
) -> np.ndarray:
    """A transposed conv is a conv of the stride-dilated input with the flipped kernel."""
    rank = x.ndim - 2
    n, c = x.shape[:2]
    g = a.groups
    kernel = w.shape[2:]
    up_shape = (n, c, *((x.shape[2 + i] - 1) * a.strides[i] + 1 for i in range(rank)))
    up = np.zeros(up_shape, x.dtype)
    up[(slice(None), slice(None), *(slice(None, None, s) for s in a.strides))] = x
    # (C, M/g, k) -> (g, C/g, M/g, k) -> (g, M/g, C/g, k) -> (M, C/g, k), flipped
    wt = w.reshape(g, c // g, w.shape[1], *kernel).swapaxes(1, 2)
    wt = wt.reshape(g * w.shape[1], c // g, *kernel)[
        (slice(None), slice(None)) + (slice(None, None, -1),) * rank
    ]
    full = [a.dilations[i] * (kernel[i] - 1) for i in range(rank)]
    pads = tuple(full[i] - a.pads[i] for i in range(rank)) + tuple(
        full[i] - a.pads[rank + i] + a.output_padding[i] for i in range(rank)
    )
    conv = ConvAttrs((1,) * rank, pads, a.dilations, g)
    return conv_reference(up, np.ascontiguousarray(wt), b, conv)


def _convt_ref(xs: Sequence[np.ndarray | None], a: Attrs) -> list[np.ndarray]:
    assert isinstance(a, ConvTransposeAttrs)
    return [conv_transpose_reference(arr(xs[0]), arr(xs[1]), xs[2], a)]


register_op(
    OpDef(
        "conv_transpose",
        ("x", "w", "b?"),
        _convt_infer,
        _convt_ref,
        ConvTransposeAttrs,
        kind=OpKind.convolution,
        doc="N-D grouped transposed convolution (ONNX ConvTranspose).",
    )
)


@dataclass(frozen=True)
class PoolAttrs(Attrs):
    kind: str  # "max" | "avg"
    kernel: tuple[int, ...]
    strides: tuple[int, ...]
    pads: tuple[int, ...]
    dilations: tuple[int, ...]
    ceil_mode: bool = False
    count_include_pad: bool = False


def pool_out_dims(shape: Sequence[int], a: PoolAttrs) -> list[int]:
    rank = len(a.kernel)
    out = []
    for i in range(rank):
        size, pb, pe = shape[i], a.pads[i], a.pads[rank + i]
        span = size + pb + pe - a.dilations[i] * (a.kernel[i] - 1) - 1
        o = (math.ceil(span / a.strides[i]) if a.ceil_mode else span // a.strides[i]) + 1
        if a.ceil_mode and (o - 1) * a.strides[i] >= size + pb:
            o -= 1  # the last window must start inside the input or the begin padding
        out.append(o)
    return out


def _pool_infer(ts: Sequence[TensorType | None], a: Attrs) -> list[TensorType]:
    assert isinstance(a, PoolAttrs)
    x = need(ts[0], "x")
    rank = x.rank - 2
    if a.kind not in ("max", "avg"):
        raise IRError(f"pool: kind must be 'max' or 'avg', got {a.kind!r}")
    if rank < 1 or len(a.kernel) != rank:
        raise IRError(f"pool: kernel {list(a.kernel)} does not match input {x}")
    ConvAttrs(a.strides, a.pads, a.dilations).check("pool", rank)
    out = pool_out_dims(x.shape[2:], a)
    if min(out) < 1:
        raise IRError(f"pool: output spatial shape {out} is empty")
    return [x.with_shape((x.shape[0], x.shape[1], *out))]


def _pool_ref(xs: Sequence[np.ndarray | None], a: Attrs) -> list[np.ndarray]:
    assert isinstance(a, PoolAttrs)
    x = arr(xs[0])
    rank = x.ndim - 2
    out = pool_out_dims(x.shape[2:], a)
    # extra end padding so ceil-mode windows stay in bounds
    extra = [
        max(
            0,
            (out[i] - 1) * a.strides[i]
            + a.dilations[i] * (a.kernel[i] - 1)
            + 1
            - (x.shape[2 + i] + a.pads[i] + a.pads[rank + i]),
        )
        for i in range(rank)
    ]
    pads = (*a.pads[:rank], *(a.pads[rank + i] + extra[i] for i in range(rank)))
    x64 = x.astype(np.float64)
    if a.kind == "max":
        xp = _pad(x64, pads, -np.inf)
        y = _windows(xp, a.kernel, a.strides, a.dilations, out).max(axis=tuple(range(-rank, 0)))
        return [y.astype(x.dtype)]
    xp = _pad(x64, pads, 0.0)
    total = _windows(xp, a.kernel, a.strides, a.dilations, out).sum(axis=tuple(range(-rank, 0)))
    ones = np.ones((1, 1, *x.shape[2:]))
    if a.count_include_pad:  # count the declared padding, never the ceil-mode overhang
        ones = _pad(ones, a.pads, 1.0)
        cnt_pads = (*(0,) * rank, *extra)
    else:
        cnt_pads = pads
    count = _windows(_pad(ones, cnt_pads, 0.0), a.kernel, a.strides, a.dilations, out)
    return [(total / count.sum(axis=tuple(range(-rank, 0)))).astype(x.dtype)]


register_op(
    OpDef(
        "pool",
        ("x",),
        _pool_infer,
        _pool_ref,
        PoolAttrs,
        kind=OpKind.reduction,
        doc="N-D max or average pooling (ONNX MaxPool/AveragePool).",
    )
)
