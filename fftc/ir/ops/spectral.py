"""Spectral-domain ops the FFT passes produce: ``cmul`` and ``fft_conv``.

``cmul(a, b)``: the complex product of two tensors in ONNX's complex layout (a
trailing dimension of 2: real, imaginary), with broadcasting over the other
dimensions.  ``spectral-fusion`` recognises the four-multiply pattern
exporters emit for it.

``fft_conv(x, spectrum)``: a circular convolution along the last axis computed
with real FFTs of ``length`` points::

    y[..., t] = irfft(rfft(x, length) * K, length)[..., t * stride]     (t < out_length)

``x`` is real ``(..., L)`` with ``L <= length`` (zero padded to ``length``);
``spectrum`` is ``(..., length//2 + 1, 2)`` (re, im) and broadcasts against
``x.shape[:-1]`` (one spectrum per channel, or one for all); the inverse
transform carries numpy's ``backward`` scale ``1/length``.  ``bands`` (kept bin
ranges ``[lo, hi)``, sorted and disjoint; empty: every bin) makes it
frequency-sparse: ``K`` counts as zero outside them, and the kernel skips the
work for those bins (``fftc.kernels.fft_conv_bands``).  This is the whole
FFT convolution in one op: one fused kernel (forward FFT, product, inverse FFT
and the elementwise epilogue) per row, so no spectrum ever goes to memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fftc.ir.graph import Attrs, IRError, NoAttrs
from fftc.ir.ops.common import arr, broadcast_shapes, need, same_dtype
from fftc.ir.ops.dft import check_factors
from fftc.ir.ops.registry import OpDef, OpKind, register_op
from fftc.ir.types import TensorType


def _cmul_infer(ts: Sequence[TensorType | None], a: Attrs) -> list[TensorType]:
    x, y = need(ts[0], "a"), need(ts[1], "b")
    same_dtype("cmul", [x, y])
    if not x.dtype.is_float:
        raise IRError(f"cmul: operands must be floating point, got {x.dtype.value}")
    for t in (x, y):
        if t.rank < 1 or t.shape[-1] != 2:
            raise IRError(f"cmul: operands must end in a dim of 2 (re, im), got {t}")
    shape = broadcast_shapes("cmul", x.shape[:-1], y.shape[:-1])
    return [x.with_shape((*shape, 2))]


def complex_of(x: np.ndarray) -> np.ndarray:
    """A ``(..., 2)`` real array as complex128."""
    x64 = x.astype(np.float64)
    return x64[..., 0] + 1j * x64[..., 1]


def planar_of(z: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """complex -> ``(..., 2)`` real array of ``dtype``."""
    return np.stack([z.real, z.imag], axis=-1).astype(dtype)


def _cmul_ref(xs: Sequence[np.ndarray | None], a: Attrs) -> list[np.ndarray]:
    x, y = arr(xs[0]), arr(xs[1])
    return [planar_of(complex_of(x) * complex_of(y), x.dtype)]


register_op(
    OpDef(
        "cmul",
        ("a", "b"),
        _cmul_infer,
        _cmul_ref,
        NoAttrs,
        kind=OpKind.elementwise,
        doc="Complex product of (..., 2) tensors (re, im), broadcasting.",
    )
)


@dataclass(frozen=True)
class FFTConvAttrs(Attrs):
    length: int  # FFT points (even)
    out_length: int
    stride: int = 1
    factors: tuple[int, ...] = ()  # radices of the core FFT (length // 2); () = not planned
    bands: tuple[tuple[int, int], ...] = ()  # kept bin ranges [lo, hi); () = all (module doc)


def _fft_conv_infer(ts: Sequence[TensorType | None], a: Attrs) -> list[TensorType]:
    assert isinstance(a, FFTConvAttrs)
    x, k = need(ts[0], "x"), need(ts[1], "spectrum")
    same_dtype("fft_conv", [x, k])
    if not x.dtype.is_float:
        raise IRError(f"fft_conv: input must be floating point, got {x.dtype.value}")
    if a.length < 2 or a.length % 2:
        raise IRError(f"fft_conv: length must be even and >= 2, got {a.length}")
    check_factors("fft_conv", a.factors, (a.length // 2,))
    _check_bands(a.bands, a.length // 2 + 1)
    if x.rank < 1 or x.shape[-1] > a.length:
        raise IRError(f"fft_conv: input {x} is longer than the FFT length {a.length}")
    half = a.length // 2 + 1
    if k.rank < 2 or k.shape[-2:] != (half, 2):
        raise IRError(f"fft_conv: spectrum must be (..., {half}, 2) for length {a.length}, got {k}")
    if k.rank - 1 > x.rank:
        raise IRError(f"fft_conv: spectrum {k} has more batch dims than input {x}")
    if broadcast_shapes("fft_conv", x.shape[:-1], k.shape[:-2]) != x.shape[:-1]:
        raise IRError(f"fft_conv: spectrum {k} does not broadcast to the rows of {x}")
    if a.stride < 1 or a.out_length < 1 or (a.out_length - 1) * a.stride >= a.length:
        raise IRError(
            f"fft_conv: {a.out_length} outputs with stride {a.stride} exceed length {a.length}"
        )
    return [x.with_shape((*x.shape[:-1], a.out_length))]


def _check_bands(bands: tuple[tuple[int, int], ...], bins: int) -> None:
    previous = 0
    for lo, hi in bands:
        if not (previous <= lo < hi <= bins):
            raise IRError(
                f"fft_conv: bands must be sorted, disjoint, non-empty [lo, hi) ranges within "
                f"[0, {bins}), got {[list(b) for b in bands]}"
            )
        previous = hi


def band_mask(bands: tuple[tuple[int, int], ...], bins: int) -> np.ndarray:
    """1.0 for the kept bins of ``bands`` (all of them for no bands), 0.0 elsewhere."""
    if not bands:
        return np.ones(bins)
    mask = np.zeros(bins)
    for lo, hi in bands:
        mask[lo:hi] = 1.0
    return mask


def fft_conv_reference(x: np.ndarray, spectrum: np.ndarray, a: FFTConvAttrs) -> np.ndarray:
    """float64 NumPy FFTs, result in ``x``'s dtype (bins outside ``bands`` dropped)."""
    xf = np.fft.rfft(x.astype(np.float64), n=a.length, axis=-1)
    kept = complex_of(spectrum) * band_mask(a.bands, a.length // 2 + 1)
    y = np.fft.irfft(xf * kept, n=a.length, axis=-1)
    return y[..., : (a.out_length - 1) * a.stride + 1 : a.stride].astype(x.dtype)


def _fft_conv_ref(xs: Sequence[np.ndarray | None], a: Attrs) -> list[np.ndarray]:
    assert isinstance(a, FFTConvAttrs)
    return [fft_conv_reference(arr(xs[0]), arr(xs[1]), a)]


register_op(
    OpDef(
        "fft_conv",
        ("x", "spectrum"),
        _fft_conv_infer,
        _fft_conv_ref,
        FFTConvAttrs,
        kind=OpKind.spectral,
        doc="irfft(rfft(x, length) * spectrum)[::stride][:out_length] along the last axis.",
    )
)


@dataclass(frozen=True)
class FFTConv2DAttrs(Attrs):
    lengths: tuple[int, int]  # FFT points along (axis, axis + 1); the second even
    out_shape: tuple[int, int]
    strides: tuple[int, int] = (1, 1)
    axis: int = -2  # the first of the two transformed axes (NCHW: -2; NHWC: -3)
    #: per axis, radices of its core FFT (lengths[0], lengths[1] // 2); () = not planned
    factors: tuple[tuple[int, ...], ...] = ()


def fft2_axes(rank: int, a: FFTConv2DAttrs) -> tuple[int, int]:
    """The two transformed axes of a rank-``rank`` input, non-negative."""
    first = a.axis + rank if a.axis < 0 else a.axis
    return first, first + 1


def _fft_conv2d_infer(ts: Sequence[TensorType | None], a: Attrs) -> list[TensorType]:
    assert isinstance(a, FFTConv2DAttrs)
    x, k = need(ts[0], "x"), need(ts[1], "spectrum")
    same_dtype("fft_conv2d", [x, k])
    if not x.dtype.is_float:
        raise IRError(f"fft_conv2d: input must be floating point, got {x.dtype.value}")
    first, second = fft2_axes(x.rank, a)
    if not (first >= 0 and second < x.rank):
        raise IRError(f"fft_conv2d: axis {a.axis} leaves no two axes in input {x}")
    (nh, nw), (oh, ow) = a.lengths, a.out_shape
    if nh < 1 or nw < 2 or nw % 2:
        raise IRError(f"fft_conv2d: lengths must be >= 1 and even >= 2, got {a.lengths}")
    if a.factors and len(a.factors) != 2:
        raise IRError(f"fft_conv2d: factors must be one tuple per axis (2), got {a.factors}")
    for i, (axis_factors, core) in enumerate(zip(a.factors, (nh, nw // 2), strict=False)):
        check_factors("fft_conv2d", axis_factors, (core,), f" of axis {i}")
    if x.shape[first] > nh or x.shape[second] > nw:
        raise IRError(f"fft_conv2d: input {x} is larger than the FFT lengths {a.lengths}")
    spectral = list(x.shape)
    spectral[first], spectral[second] = nh, nw // 2 + 1
    if k.rank < 3 or k.shape[-1] != 2 or k.rank - 1 > x.rank:
        raise IRError(f"fft_conv2d: spectrum must be (..., {nh}, {nw // 2 + 1}, ..., 2), got {k}")
    kdims = k.shape[:-1]
    lead = x.rank - len(kdims)
    if first < lead or tuple(kdims[first - lead : second - lead + 1]) != (nh, nw // 2 + 1):
        raise IRError(f"fft_conv2d: spectrum {k} has no ({nh}, {nw // 2 + 1}) at the FFT axes")
    if broadcast_shapes("fft_conv2d", tuple(spectral), kdims) != tuple(spectral):
        raise IRError(f"fft_conv2d: spectrum {k} does not broadcast to {tuple(spectral)}")
    for n, o, s in zip(a.lengths, a.out_shape, a.strides, strict=True):
        if s < 1 or o < 1 or (o - 1) * s >= n:
            raise IRError(
                f"fft_conv2d: {a.out_shape} outputs with strides {a.strides} exceed {a.lengths}"
            )
    out = list(x.shape)
    out[first], out[second] = oh, ow
    return [x.with_shape(tuple(out))]


def fft_conv2d_reference(x: np.ndarray, spectrum: np.ndarray, a: FFTConv2DAttrs) -> np.ndarray:
    """float64 NumPy FFTs, result in ``x``'s dtype."""
    axes = fft2_axes(x.ndim, a)
    xf = np.fft.rfft2(x.astype(np.float64), s=a.lengths, axes=axes)
    y = np.fft.irfft2(xf * complex_of(spectrum), s=a.lengths, axes=axes)
    index = [slice(None)] * x.ndim
    for axis, o, s in zip(axes, a.out_shape, a.strides, strict=True):
        index[axis] = slice(0, (o - 1) * s + 1, s)
    return y[tuple(index)].astype(x.dtype)


def _fft_conv2d_ref(xs: Sequence[np.ndarray | None], a: Attrs) -> list[np.ndarray]:
    assert isinstance(a, FFTConv2DAttrs)
    return [fft_conv2d_reference(arr(xs[0]), arr(xs[1]), a)]


register_op(
    OpDef(
        "fft_conv2d",
        ("x", "spectrum"),
        _fft_conv2d_infer,
        _fft_conv2d_ref,
        FFTConv2DAttrs,
        kind=OpKind.spectral,
        doc="irfft2(rfft2(x, lengths) * spectrum)[::strides][:out_shape] over axes (axis, axis+1).",
    )
)


@dataclass(frozen=True)
class MirrorRealAttrs(Attrs):
    axis: int  # the one-sided axis (length // 2 + 1 bins in, ``length`` points out)
    length: int
    flip_axis: int  # the other transformed axis: index j reads (-j) mod extent


def _mirror_real_infer(ts: Sequence[TensorType | None], a: Attrs) -> list[TensorType]:
    assert isinstance(a, MirrorRealAttrs)
    x = need(ts[0], "x")
    if not x.dtype.is_float or x.rank < 3 or x.shape[-1] != 2:
        raise IRError(f"mirror_real: input must be a complex (..., 2) float tensor, got {x}")
    axes = {a.axis, a.flip_axis}
    if len(axes) != 2 or not all(0 <= ax < x.rank - 1 for ax in axes):
        raise IRError(f"mirror_real: axes {a.axis}, {a.flip_axis} must differ, in 0..{x.rank - 2}")
    if a.length < 1 or x.shape[a.axis] != a.length // 2 + 1:
        raise IRError(
            f"mirror_real: axis {a.axis} of {x} must hold {a.length // 2 + 1} bins for length "
            f"{a.length}"
        )
    shape = list(x.shape[:-1])
    shape[a.axis] = a.length
    return [x.with_shape(tuple(shape))]


def mirror_real_reference(x: np.ndarray, a: MirrorRealAttrs) -> np.ndarray:
    """``Re X`` over ``length`` points on ``axis`` from the one-sided ``X``: bins above
    ``length // 2`` are ``Re X[.., (-j) mod M (flip_axis), length - k (axis), ..]``."""
    real = x[..., 0]
    bins = np.arange(a.length // 2 + 1, a.length)
    mirrored = np.take(real, a.length - bins, axis=a.axis)
    rows = real.shape[a.flip_axis]
    mirrored = np.take(mirrored, (-np.arange(rows)) % rows, axis=a.flip_axis)
    return np.concatenate([real, mirrored], axis=a.axis)


def _mirror_real_ref(xs: Sequence[np.ndarray | None], a: Attrs) -> list[np.ndarray]:
    assert isinstance(a, MirrorRealAttrs)
    return [mirror_real_reference(arr(xs[0]), a)]


register_op(
    OpDef(
        "mirror_real",
        ("x",),
        _mirror_real_infer,
        _mirror_real_ref,
        MirrorRealAttrs,
        kind=OpKind.spectral,
        doc="Re of a 2-D spectrum of a real signal, its other half mirrored from the one-sided "
        "half (FNet's Re(fft2(x))).",
    )
)
