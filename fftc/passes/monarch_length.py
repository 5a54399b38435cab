"""monarch-length: on CUDA, FFT convolutions whose lengths the Monarch kernel lacks
are widened to lengths it has, computing the same outputs.

The tensor-core Monarch kernel (``fftc.kernels.cuda``) needs ``N = n1 x n2`` (or
``n0 x n1 x n2``) with every factor a multiple of the 16-wide tile: 1024, 2048,
768 = 16 x 48 ... but not 2000, the FFT size of a length-1000 convolution
exported as ``irfft(rfft(u, 2L) * rfft(k, 2L))[:L]``; its 2-D form needs both
image lengths multiples of 16.  Such lengths would fall back to the generic FFT
kernels, and with ``--dtype fp16``/``bf16`` nothing would run in half precision.

Along one axis, the outputs of an FFT convolution read the circular kernel
``k = irfft(K, N)`` only at the lags ``d = i*stride - j`` (``i`` an output,
``j < X`` an input point), ``d`` in ``[lo, hi] = [-(X - 1), (O - 1)*stride]``:
``y[i] = sum_j x[j] k[(i*stride - j) mod N]``.  Of those, the kernel is nonzero
on ``[a, b]`` (beyond it, at most float32's eps times its largest value: the
rounding of the spectrum constant).  With ``k'[d mod N'] = k[d mod N]`` for ``d``
in ``[a, b]`` and zero elsewhere, a length ``N' > max(hi - a, b - lo)`` gives
the same outputs: no lag the outputs read aliases another of the support.  This
holds for any ``N``: a causal zero-padded convolution (``[a, b] = [0, L-1]``)
needs ``2L - 1``, a "same" one ``X + K/2``, and even a circular one (GFNet's
global filters, every lag) is the linear convolution with the periodic
kernel, at about twice the length.  ``N'`` is the shortest length from that
bound with a Monarch plan in the compute dtype (pass option ``compute_dtype``;
1-D: multiples of 256, 2-D: each axis a multiple of 16), and ``K' = rfft(k')``
the new constant spectrum (float64 from the float32 one: exact to rounding).

Refused, with the reason in ``--explain``: spectra computed at run time (the
kernel's support is not known), frequency bands already set, and lengths with
no plan (1-D beyond 1048576, images beyond 4096 points).  Other targets keep
every length (the generic FFT kernels take any smooth length).
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from fftc.errors import UsageError
from fftc.ir.ops.spectral import FFTConv2DAttrs, FFTConvAttrs, complex_of, fft2_axes, planar_of
from fftc.kernels.cuda.fft_conv2d import image_plan
from fftc.kernels.cuda.limits import TILE
from fftc.passes.rewrite import Match, RewritePass, RewriteRule

PASS_NAME = "monarch-length"
#: every Monarch length is a multiple of 16 x 16 (its two or three factors are)
STEP = TILE * TILE


def _has_plan(n: int, dtype: str) -> bool:
    from fftc.kernels.cuda.outer import fft_conv_plan

    try:
        fft_conv_plan(n, dtype)
    except UsageError:
        return False
    return True


def monarch_length(least: int, dtype: str) -> int | None:
    """The shortest length ``>= least`` with a Monarch plan in ``dtype``, or None."""
    from fftc.kernels.cuda.outer import MAX_OUTER_N

    start = -(-least // STEP) * STEP
    return next((n for n in range(start, MAX_OUTER_N + 1, STEP) if _has_plan(n, dtype)), None)


@dataclass(frozen=True)
class Window:
    """Along one axis: the lags ``[lo, hi]`` the outputs read and the kernel's support
    ``[a, b]`` among them."""

    lo: int
    hi: int
    a: int
    b: int

    @property
    def least(self) -> int:
        """The shortest length on which the support aliases no lag the outputs read."""
        return max(self.hi - self.a, self.b - self.lo) + 1

    def describe(self) -> str:
        return f"lags [{self.lo}, {self.hi}], kernel nonzero on [{self.a}, {self.b}]"


def axis_window(kernel: np.ndarray, axis: int, extent: int, out: int, stride: int,
                floor: float) -> Window:  # fmt: skip
    """The :class:`Window` of ``kernel`` (circular along ``axis``) for ``out`` outputs
    with ``stride`` on ``extent`` input points; values up to ``floor`` count as zero."""
    lo, hi = -(extent - 1), (out - 1) * stride
    lagged = np.take(kernel, np.arange(lo, hi + 1) % kernel.shape[axis], axis=axis)
    others = tuple(i for i in range(kernel.ndim) if i != axis)
    nonzero = np.flatnonzero(np.abs(lagged).max(axis=others, initial=0.0) > floor)
    if not nonzero.size:
        return Window(lo, hi, 0, 0)
    return Window(lo, hi, lo + int(nonzero[0]), lo + int(nonzero[-1]))


def noise_floor(kernel: np.ndarray) -> float:
    """What counts as zero in a kernel from a float32 spectrum: eps times its largest."""
    return float(np.finfo(np.float32).eps * np.abs(kernel).max(initial=0.0))


def rewindow(kernel: np.ndarray, axis: int, window: Window, n: int) -> np.ndarray:
    """``kernel`` (circular along ``axis``) moved onto ``n`` points: equal on the window's
    support (lags mod each length), zero elsewhere."""
    lags = np.arange(window.a, window.b + 1)
    wide = np.zeros((*kernel.shape[:axis], n, *kernel.shape[axis + 1 :]))
    index: list[Any] = [slice(None)] * kernel.ndim
    index[axis] = lags % n
    wide[tuple(index)] = np.take(kernel, lags % kernel.shape[axis], axis=axis)
    return wide


def _kernel(m: Match) -> np.ndarray:
    value = m.b.const_value(m.node.inputs[1])
    assert value is not None
    spectrum = complex_of(value.astype(np.float64))
    a = m.node.attrs
    if isinstance(a, FFTConvAttrs):
        return np.fft.irfft(spectrum, n=a.length, axis=-1)
    assert isinstance(a, FFTConv2DAttrs)
    return np.fft.irfft2(spectrum, s=a.lengths, axes=_spectrum_axes(m, spectrum.ndim))


def _spectrum_axes(m: Match, ndim: int) -> tuple[int, int]:
    """The transformed axes of an fft_conv2d's spectrum (aligned right with ``x``)."""
    a = m.node.attrs
    assert isinstance(a, FFTConv2DAttrs)
    x = m.b.type_of(m.node.inputs[0] or "")
    first, second = fft2_axes(x.rank, a)
    return first - (x.rank - ndim), second - (x.rank - ndim)


#: the widened lengths, the windows and the kernel of a node, or why it keeps its lengths
Found = tuple[tuple[int, ...], tuple[Window, ...], np.ndarray]
#: the last match asked about (weakly: a graph is not kept alive) and its answer
_memo: list[tuple[weakref.ref[Match], Found | str]] = []


def _found(m: Match) -> Found | str:
    """:func:`_target` once per match (check, reason and rewrite ask in turn; the
    rewrite lets go of the answer, whose kernel may be large)."""
    if not _memo or _memo[0][0]() is not m:
        _memo[:] = [(weakref.ref(m), _target(m))]
    return _memo[0][1]


def _target(m: Match) -> Found | str:
    a = m.node.attrs
    dtype = str(m.options.get("compute_dtype", "float32"))
    if isinstance(a, FFTConvAttrs) and a.bands:
        return "frequency bands are set"
    if m.b.const_value(m.node.inputs[1]) is None:
        return "the spectrum is computed at run time (the kernel's support is not known)"
    kernel = _kernel(m)
    floor = noise_floor(kernel)
    x = m.b.type_of(m.node.inputs[0] or "")
    if isinstance(a, FFTConvAttrs):
        window = axis_window(kernel, kernel.ndim - 1, x.shape[-1], a.out_length, a.stride, floor)
        n = monarch_length(window.least, dtype)
        if n is None:
            return f"no length from {window.least} has a Monarch plan in {dtype}"
        return (n,), (window,), kernel
    assert isinstance(a, FFTConv2DAttrs)
    axes = _spectrum_axes(m, kernel.ndim)
    windows = tuple(
        axis_window(kernel, k_axis, x.shape[x_axis], o, s, floor)
        for k_axis, x_axis, o, s in zip(axes, fft2_axes(x.rank, a), a.out_shape, a.strides,
                                        strict=True)
    )  # fmt: skip
    lengths = tuple(-(-w.least // TILE) * TILE for w in windows)
    try:
        image_plan((lengths[0], lengths[1]), dtype)
    except UsageError as err:
        return f"widened to {lengths[0]}x{lengths[1]}: {err}"
    return lengths, windows, kernel


def _needs(m: Match) -> bool:
    """A CUDA FFT convolution whose lengths the Monarch kernel lacks."""
    a = m.node.attrs
    if m.options.get("target_kind") != "cuda":
        return False
    if isinstance(a, FFTConvAttrs):
        return not _has_plan(a.length, str(m.options.get("compute_dtype", "float32")))
    assert isinstance(a, FFTConv2DAttrs)
    return any(n % TILE for n in a.lengths)


def _check(m: Match) -> str | None:
    if not _needs(m):
        return "the Monarch kernel has these lengths (or not a CUDA target)"
    found = _found(m)
    return found if isinstance(found, str) else None


def _why(m: Match) -> str:
    found = _found(m)
    assert not isinstance(found, str)
    lengths, windows, _ = found
    return (
        f"no Monarch plan for the old lengths; {'; '.join(w.describe() for w in windows)}: "
        f"{'x'.join(map(str, lengths))} aliases none of them, the outputs are the same"
    )


def _rewrite(m: Match) -> Sequence[str]:
    found = _found(m)
    _memo.clear()
    assert not isinstance(found, str)
    lengths, windows, kernel = found
    a, x, spectrum = m.node.attrs, m.node.inputs[0], m.node.inputs[1]
    value = m.b.const_value(spectrum)
    assert value is not None
    if isinstance(a, FFTConvAttrs):
        wide = rewindow(kernel, kernel.ndim - 1, windows[0], lengths[0])
        planar = planar_of(np.fft.rfft(wide, axis=-1), value.dtype)
        attrs: FFTConvAttrs | FFTConv2DAttrs = replace(a, length=lengths[0])
    else:
        assert isinstance(a, FFTConv2DAttrs)
        axes = _spectrum_axes(m, kernel.ndim)
        for axis, window, n in zip(axes, windows, lengths, strict=True):
            kernel = rewindow(kernel, axis, window, n)
        planar = planar_of(np.fft.rfft2(kernel, axes=axes), value.dtype)
        attrs = replace(a, lengths=(lengths[0], lengths[1]), factors=())
    name = m.b.constant(planar, f"{spectrum}_{'x'.join(map(str, lengths))}")
    return [m.b.node1(m.node.op, [x, name], attrs, name=m.node.name)]


WIDEN = RewriteRule(
    "FFT convolution lengths => Monarch lengths",
    ("fft_conv", "fft_conv2d"),
    _check,
    _rewrite,
    explain=True,
    why=_why,
    candidate=_needs,
)

MONARCH_LENGTH = RewritePass(
    PASS_NAME,
    "cuda: fft_conv lengths without a Monarch plan widened to one (linear convolutions)",
    (WIDEN,),
    requires=frozenset({"spectral-fused", "fft-conv"}),
    ensures=frozenset({"monarch-lengths"}),
    max_sweeps=1,  # a widened node has a plan: nothing for a second sweep
)
