"""spectral-fusion rules over two axes (see ``spectral_fusion``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from fftc.ir import Node
from fftc.ir.ops.dft import DFTAttrs
from fftc.ir.ops.movement import AxisAttrs
from fftc.ir.ops.spectral import FFTConv2DAttrs, MirrorRealAttrs
from fftc.passes.rewrite import Match, RewriteRule
from fftc.passes.spectral_common import (
    dft_attrs,
    dft_scale,
    real_signal,
    refusal,
    scaled_spectrum,
    through_scales,
    unscaled,
)

# --- 2b. rfft2 -> product -> irfft2 (GFNet's global filter) -----------------


@dataclass(frozen=True)
class SpectralConv2D:
    """The pieces of a matched ``irfft2(cmul(rfft2(x), K))`` over adjacent axes."""

    x: str
    spectrum: str
    axis: int
    lengths: tuple[int, int]
    scale: float  # every scalar factor and norm, times NH * NW


def _spectral_conv2d(m: Match) -> SpectralConv2D | str:
    n = m.node
    inv2, scale = through_scales(m, n.inputs[0])
    if inv2 is None or inv2.op != "dft":
        return "input is not a DFT"
    a2 = inv2.attrs
    assert isinstance(a2, DFTAttrs)
    axis = a2.axis - 1
    if not (a2.inverse and a2.onesided) or axis < 0:
        return "not an inverse one-sided DFT after another axis"
    if n.output.type.shape != inv2.output.type.shape[:-1]:
        return "the reshape does not just drop the trailing unit dim"
    inv1, f = through_scales(m, inv2.inputs[0])
    a1 = dft_attrs(inv1, inverse=True, onesided=False, axis=axis)
    if inv1 is None or a1 is None:
        return f"the one-sided inverse DFT's input is not an inverse DFT of axis {axis}"
    scale *= f
    prod, f = through_scales(m, inv1.inputs[0])
    if prod is None or prod.op != "cmul":
        return "the inverse DFTs' input is not a complex product"
    scale *= f
    for i in (0, 1):
        fwd1, f1 = through_scales(m, prod.inputs[i])
        b1 = dft_attrs(fwd1, inverse=False, onesided=False, axis=axis)
        if fwd1 is None or b1 is None or b1.length != a1.length:
            continue
        fwd2, f2 = through_scales(m, fwd1.inputs[0])
        b2 = dft_attrs(fwd2, inverse=False, onesided=True, axis=axis + 1)
        if fwd2 is None or b2 is None or b2.length != a2.length:
            continue
        spectrum = prod.inputs[1 - i] or ""
        if m.b.type_of(prod.inputs[i] or "").shape != prod.output.type.shape:
            return "the spectrum would broadcast the signal"
        kshape = m.b.type_of(spectrum).shape
        bins = (a1.length, a2.length // 2 + 1)
        at = len(kshape) - prod.output.type.rank + axis
        if at < 0 or kshape[at : at + 2] != bins:
            return f"the spectrum {kshape} is not {bins} along the FFT axes"
        if a2.length % 2:
            return f"odd FFT length {a2.length} (the fused kernel needs an even last length)"
        signal, f3 = unscaled(m, fwd2.inputs[0])
        x = real_signal(m, signal)
        if x is None:
            return "the forward DFT's input is not a reshaped real signal"
        xshape = m.b.type_of(x).shape
        if xshape[axis] > a1.length or xshape[axis + 1] > a2.length:
            return "the DFTs truncate the signal"
        norms = dft_scale(a1) * dft_scale(a2) * dft_scale(b1) * dft_scale(b2)
        total = scale * f1 * f2 * f3 * norms * a1.length * a2.length
        return SpectralConv2D(x, spectrum, axis, (a1.length, a2.length), total)
    return "no operand of the product is a forward DFT pair (one-sided last) of the same axes"


def _fft_conv2d_check(m: Match) -> str | None:
    return refusal(_spectral_conv2d(m))


def _fft_conv2d_rewrite(m: Match) -> Sequence[str]:
    found = _spectral_conv2d(m)
    assert not isinstance(found, str)
    spectrum = scaled_spectrum(m, found.spectrum, found.scale)
    nh, nw = found.lengths
    attrs = FFTConv2DAttrs((nh, nw), (nh, nw), (1, 1), found.axis)
    return [m.b.node1("fft_conv2d", [found.x, spectrum], attrs, name=m.node.name)]


def _fft_conv2d_why(m: Match) -> str:
    found = _spectral_conv2d(m)
    assert not isinstance(found, str)
    kind = "constant" if m.b.const_value(found.spectrum) is not None else "run-time"
    nh, nw = found.lengths
    return f"rfft2 -> product with a {kind} spectrum -> irfft2, {nh}x{nw}: one fused kernel"


def _after_inverse_dft_pair(m: Match) -> bool:
    node, _ = through_scales(m, m.node.inputs[0])
    if node is None or node.op != "dft":
        return False
    a = node.attrs
    assert isinstance(a, DFTAttrs)
    before, _ = through_scales(m, node.inputs[0])
    return a.inverse and a.onesided and before is not None and before.op == "dft"


FFT_CONV2D = RewriteRule(
    "irfft2(rfft2(x) * K) => fft_conv2d",
    ("reshape",),
    _fft_conv2d_check,
    _fft_conv2d_rewrite,
    explain=True,
    why=_fft_conv2d_why,
    candidate=_after_inverse_dft_pair,
)

# --- the real part of a 2-D FFT of a real signal (FNet) -------------------------


@dataclass(frozen=True)
class RealFFT2:
    """``Re(fft(fft(x, axis a), axis b))`` of a real ``x``: the two DFT nodes."""

    first: Node  # the DFT of the real input (axis a)
    second: Node  # the DFT of its result (axis b)


def _real_fft2(m: Match) -> RealFFT2 | str:
    n = m.node
    assert isinstance(n.attrs, AxisAttrs)
    index = m.b.const_value(n.inputs[1])
    data = m.b.type_of(n.inputs[0] or "")
    if (
        index is None
        or index.shape != ()
        or int(index) != 0
        or n.attrs.axis not in (-1, data.rank - 1)
    ):
        return "not the real part (index 0 of the trailing complex dim)"
    second = m.producer(n.inputs[0])
    if second is None or second.op != "dft":
        return "input is not a DFT"
    b = second.attrs
    assert isinstance(b, DFTAttrs)
    first = m.producer(second.inputs[0])
    if b.inverse or b.onesided or first is None or first.op != "dft":
        return "not a forward two-sided DFT of a forward DFT"
    a = first.attrs
    assert isinstance(a, DFTAttrs)
    if a.inverse or a.onesided or a.axis == b.axis:
        return "the inner DFT is not a forward two-sided DFT of another axis"
    if m.b.type_of(first.inputs[0] or "").shape[-1] != 1:
        return "the inner DFT's input is complex (the half-spectrum trick needs a real one)"
    return RealFFT2(first, second)


def _real_fft2_check(m: Match) -> str | None:
    return refusal(_real_fft2(m))


def _halved_first(m: Match, found: RealFFT2) -> tuple[DFTAttrs, DFTAttrs]:
    """(the axis made one-sided, the other): the DFTs commute, so the one-sided
    transform goes on the innermost axis when one of the two is innermost, whichever
    the model transforms first.  FNet (512 x 768), 2 threads: one-sided over the
    hidden axis 0.29-0.37 ms (its rfft and the 385-bin FFT compute transforms 8 and
    7 at a time), over the sequence axis 0.39-0.42 ms (the 768-point FFT over 257
    rows: no lane grouping)."""
    fa, sa = found.first.attrs, found.second.attrs
    assert isinstance(fa, DFTAttrs)
    assert isinstance(sa, DFTAttrs)
    innermost = m.b.type_of(found.first.inputs[0] or "").rank - 2
    return (sa, fa) if sa.axis == innermost else (fa, sa)


def _real_fft2_rewrite(m: Match) -> Sequence[str]:
    """One-sided DFT of one axis, the other's DFT on half the bins, then ``mirror_real``:
    the real part, the other half mirrored (``Re X[j, k] = Re X[-j, n - k]``, ``k > n/2``)."""
    found = _real_fft2(m)
    assert not isinstance(found, str)
    b, name = m.b, m.node.name
    halved, other = _halved_first(m, found)
    signal = found.first.inputs[0] or ""
    half = b.node1("dft", [signal], replace(halved, onesided=True), name=name)
    spectrum = b.node1("dft", [half], other, name=name)
    attrs = MirrorRealAttrs(halved.axis, halved.length, other.axis)
    return [b.node1("mirror_real", [spectrum], attrs, name=name)]


def _real_fft2_why(m: Match) -> str:
    found = _real_fft2(m)
    assert not isinstance(found, str)
    a, _ = _halved_first(m, found)
    return (
        f"real part of a 2-D FFT of a real signal: one-sided DFT of axis {a.axis} "
        f"({a.length // 2 + 1} of {a.length} bins), the rest mirrored"
    )


def _after_dft_pair(m: Match) -> bool:
    node = m.producer(m.node.inputs[0])
    inner = None if node is None or node.op != "dft" else m.producer(node.inputs[0])
    return inner is not None and inner.op == "dft"


REAL_FFT2 = RewriteRule(
    "Re(fft2(real x)) => half spectrum + mirror",
    ("gather",),
    _real_fft2_check,
    _real_fft2_rewrite,
    explain=True,
    why=_real_fft2_why,
    candidate=_after_dft_pair,
)
