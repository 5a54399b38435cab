"""spectral-fusion: spectral mixing written with DFT ops becomes fused spectral ops.

Seven small rules, applied until nothing changes (the two-axis ones live in
``spectral_fusion_2d``, the shared matching helpers in ``spectral_common``):

1. ``complex product => cmul``: the four-multiply form exporters emit for a
   complex product on a trailing dim of 2 (``concat(ar*br - ai*bi, ar*bi +
   ai*br)`` with ``ar``/``ai`` slices ``[0:1]``/``[1:2]`` of one tensor or
   constants), in any operand order, becomes ``cmul(a, b)``;
2. ``irfft(cmul(rfft(x), K)) => fft_conv(x, K)``: a one-sided forward DFT of a
   real signal (optionally zero padded at the end), a product with a spectrum
   ``K`` (constant, or computed at run time as in Hyena's implicit filters),
   and the one-sided inverse DFT of the same length, whose trailing unit dim
   is reshaped away.  Differing norms are folded into ``K``;
3. ``irfft2(cmul(rfft2(x), K)) => fft_conv2d(x, K)``: the same over two
   adjacent axes (GFNet's global filter), with scalar multiplications and
   divisions between the DFTs (the ``ortho`` norm as exporters write it out)
   folded into ``K``;
4. ``Re(fft2(x)) => mirror_real(fft(rfft(x)))``: the real part of a 2-D DFT of
   a real signal (FNet) computes the second DFT on the one-sided half only and
   mirrors the rest (``Re X[j, k] = Re X[-j, n - k]``);
5. ``slice(fft_conv) => fft_conv``: a slice ``[0:e:s]`` of the last axis is
   absorbed as the kernel's ``out_length`` and ``stride`` (the causal
   convolution keeps the first half);
6. ``complex einsum => freq_mix``: channel mixing per frequency written as four
   real einsums (FNO's spectral convolution; ``spectral_mixing``);
7. ``fft_conv(u, K) + D*u => fft_conv(u, K + D)``: the skip term of Hyena/H3
   folded into a constant spectrum (``spectral_residual``).

Every application and every refusal on a candidate is a decision for
``fftc inspect --explain``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from fftc.ir import Node
from fftc.ir.ops.dft import DFTAttrs
from fftc.ir.ops.movement import ConcatAttrs, SliceAttrs
from fftc.ir.ops.spectral import FFTConvAttrs
from fftc.passes.rewrite import Match, RewritePass, RewriteRule
from fftc.passes.spectral_common import (
    dft_scale,
    real_signal,
    refusal,
    scaled_spectrum,
    whole_leading_axes,
)
from fftc.passes.spectral_fusion_2d import FFT_CONV2D, REAL_FFT2
from fftc.passes.spectral_mixing import COMPLEX_EINSUM
from fftc.passes.spectral_residual import RESIDUAL_FFT_CONV

# --- 1. complex product -------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """An operand of the four-multiply form: component ``k`` of ``tensor``
    (a ``[k:k+1]`` slice of its trailing dim of 2), or a constant ``(..., 1)``."""

    tensor: str
    k: int | None  # None: ``tensor`` is itself a (..., 1) constant


def _part(m: Match, name: str | None) -> Part | None:
    if name is None:
        return None
    node = m.producer(name)
    if node is not None and node.op == "slice" and isinstance(node.attrs, SliceAttrs):
        src = node.inputs[0] or ""
        shape = m.b.type_of(src).shape
        a = node.attrs
        one = a.steps[-1] == 1 and a.ends[-1] - a.starts[-1] == 1
        if whole_leading_axes(a, shape) and shape[-1] == 2 and one:
            return Part(src, a.starts[-1])
    if m.b.const_value(name) is not None and m.b.type_of(name).shape[-1:] == (1,):
        return Part(name, None)
    return None


def _product_terms(m: Match, name: str | None, op: str) -> tuple[tuple[Part, Part], ...] | None:
    """``op(mul(a, b), mul(c, d))`` as ((a, b), (c, d)) parts, or None."""
    node = m.producer(name)
    if node is None or node.op != op or len(node.inputs) != 2:
        return None
    terms = []
    for term in node.inputs:
        mul = m.producer(term)
        if mul is None or mul.op != "mul":
            return None
        a, b = _part(m, mul.inputs[0]), _part(m, mul.inputs[1])
        if a is None or b is None:
            return None
        terms.append((a, b))
    return (terms[0], terms[1])


def _operand(m: Match, re: Part, im: Part, name: str) -> str | None:
    """The complex tensor whose parts are ``re`` and ``im``."""
    if re.k == 0 and im.k == 1 and re.tensor == im.tensor:
        return re.tensor
    if re.k is None and im.k is None:
        a, b = m.b.const_value(re.tensor), m.b.const_value(im.tensor)
        assert a is not None
        assert b is not None
        if a.shape != b.shape:
            return None
        return m.b.constant(np.concatenate([a, b], axis=-1), f"{name}_spectrum")
    return None


def _complex_product(m: Match) -> tuple[str, str] | str:
    """``(a, b)`` of the matched complex product, or why it is not one."""
    n = m.node
    assert isinstance(n.attrs, ConcatAttrs)
    if len(n.inputs) != 2 or n.attrs.axis != n.output.type.rank - 1 or n.output.type.shape[-1] != 2:
        return "not a concat of two parts on a trailing dim of 2"
    real = _product_terms(m, n.inputs[0], "sub")
    imag = _product_terms(m, n.inputs[1], "add")
    if real is None or imag is None:
        return "parts are not sub(mul, mul) and add(mul, mul) of slices or constants"
    (p, q), (r, s) = real
    wanted = {frozenset(t) for t in imag}
    for a_re, b_re in ((p, q), (q, p)):
        for a_im, b_im in ((r, s), (s, r)):
            if {frozenset((a_re, b_im)), frozenset((a_im, b_re))} != wanted:
                continue
            a = _operand(m, a_re, a_im, n.name)
            b = _operand(m, b_re, b_im, n.name)
            if a is not None and b is not None:
                return a, b
    return "the products do not pair up as (ar*br - ai*bi, ar*bi + ai*br)"


def _cmul_check(m: Match) -> str | None:
    found = _complex_product(m)
    if isinstance(found, str):
        return found
    a, b = found
    shape = np.broadcast_shapes(m.b.type_of(a).shape[:-1], m.b.type_of(b).shape[:-1])
    if (*shape, 2) != m.node.output.type.shape:
        return "the operands do not broadcast to the product's shape"
    return None


def _cmul_rewrite(m: Match) -> Sequence[str]:
    found = _complex_product(m)
    assert not isinstance(found, str)
    return [m.b.node1("cmul", list(found), name=m.node.name)]


CMUL = RewriteRule("complex product => cmul", ("concat",), _cmul_check, _cmul_rewrite)

# --- 2. rfft -> product -> irfft ----------------------------------------------


@dataclass(frozen=True)
class SpectralConv:
    """The pieces of a matched ``irfft(cmul(rfft(x), K))``."""

    x: str  # the real signal, before its zero padding
    spectrum: str
    length: int
    scale: float  # the product of both DFTs' scales, times length


def _spectral_conv(m: Match) -> SpectralConv | str:
    n = m.node
    inv = m.producer(n.inputs[0])
    if inv is None or inv.op != "dft":
        return "input is not a DFT"
    ia = inv.attrs
    assert isinstance(ia, DFTAttrs)
    rank = inv.output.type.rank
    if not (ia.inverse and ia.onesided and ia.axis == rank - 2):
        return "not an inverse one-sided DFT of the last signal axis"
    if n.output.type.shape != inv.output.type.shape[:-1]:
        return "the reshape does not just drop the trailing unit dim"
    prod = m.producer(inv.inputs[0])
    if prod is None or prod.op != "cmul":
        return "the inverse DFT's input is not a complex product"
    out_shape = inv.output.type.shape
    for i in (0, 1):
        fwd = m.producer(prod.inputs[i])
        spectrum = prod.inputs[1 - i] or ""
        if fwd is None or fwd.op != "dft":
            continue
        fa = fwd.attrs
        assert isinstance(fa, DFTAttrs)
        if fa.inverse or not fa.onesided or fa.axis != ia.axis or fa.length != ia.length:
            continue
        if m.b.type_of(prod.inputs[i] or "").shape != prod.output.type.shape:
            continue  # the spectrum would broadcast the signal
        if ia.length % 2:
            return f"odd FFT length {ia.length} (the fused kernel needs an even length)"
        x = real_signal(m, fwd.inputs[0])
        if x is None:
            return "the forward DFT's input is not a reshaped real signal"
        if m.b.type_of(x).shape[:-1] != out_shape[:-2]:
            return "signal and result rows differ"
        return SpectralConv(x, spectrum, ia.length, dft_scale(fa) * dft_scale(ia) * ia.length)
    return "no operand of the product is a one-sided forward DFT of the same axis and length"


def _fft_conv_check(m: Match) -> str | None:
    return refusal(_spectral_conv(m))


def _fft_conv_rewrite(m: Match) -> Sequence[str]:
    found = _spectral_conv(m)
    assert not isinstance(found, str)
    spectrum = scaled_spectrum(m, found.spectrum, found.scale)
    attrs = FFTConvAttrs(found.length, found.length)
    return [m.b.node1("fft_conv", [found.x, spectrum], attrs, name=m.node.name)]


def _fft_conv_why(m: Match) -> str:
    found = _spectral_conv(m)
    assert not isinstance(found, str)
    kind = "constant" if m.b.const_value(found.spectrum) is not None else "run-time"
    return f"rfft -> product with a {kind} spectrum -> irfft, n={found.length}: one fused kernel"


def _after_inverse_dft(m: Match) -> bool:
    node = m.producer(m.node.inputs[0])
    return node is not None and node.op == "dft"


FFT_CONV = RewriteRule(
    "irfft(rfft(x) * K) => fft_conv",
    ("reshape",),
    _fft_conv_check,
    _fft_conv_rewrite,
    explain=True,
    why=_fft_conv_why,
    candidate=_after_inverse_dft,
)

# --- 3. slice of an fft_conv --------------------------------------------------


def _slice_source(m: Match) -> Node | str:
    n = m.node
    conv = m.producer(n.inputs[0])
    if conv is None or conv.op != "fft_conv":
        return "input is not an fft_conv"
    a = n.attrs
    assert isinstance(a, SliceAttrs)
    if not whole_leading_axes(a, conv.output.type.shape):
        return "slices more than the last axis"
    if a.starts[-1] != 0 or a.steps[-1] < 1:
        return "does not start at 0 going forward"
    return conv


def _slice_check(m: Match) -> str | None:
    return refusal(_slice_source(m))


def _slice_rewrite(m: Match) -> Sequence[str]:
    conv = _slice_source(m)
    assert isinstance(conv, Node)
    a, ca = m.node.attrs, conv.attrs
    assert isinstance(a, SliceAttrs)
    assert isinstance(ca, FFTConvAttrs)
    out = m.node.output.type.shape[-1]
    attrs = replace(ca, out_length=out, stride=ca.stride * a.steps[-1])
    return [m.b.node1("fft_conv", list(conv.inputs), attrs, name=conv.name)]


SLICE_FFT_CONV = RewriteRule(
    "slice(fft_conv) => fft_conv", ("slice",), _slice_check, _slice_rewrite
)


SPECTRAL_FUSION = RewritePass(
    "spectral-fusion",
    "DFT-written spectral mixing (rfft, complex product, irfft) becomes fused fft_conv ops",
    (CMUL, FFT_CONV, FFT_CONV2D, REAL_FFT2, SLICE_FFT_CONV, RESIDUAL_FFT_CONV, COMPLEX_EINSUM),
    requires=frozenset({"imported"}),
    ensures=frozenset({"spectral-fused"}),
)

__all__ = ["SPECTRAL_FUSION"]
