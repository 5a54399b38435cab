"""Real-input FFTs: the half-length trick, and the Hermitian extension.

**rfft of even length** ``n = 2h`` (forward, ``w = exp(-2*pi*i/n)``): the
even and odd samples are packed into one complex signal of half the length,
``z[j] = x[2j] + i*x[2j+1]`` (the core FFT's source), ``Z = FFT_h(z)``, and
for ``k = 0..h`` (indices of ``Z`` mod ``h``)::

    X[k] = conj(Z[h-k]) + A[k] * (Z[k] - conj(Z[h-k])),     A[k] = (1 - i*w^k) / 2

**irfft of even length** (inverse, numpy semantics: the imaginary parts of
``X[0]`` and ``X[h]`` are ignored): for ``k = 0..h-1``, with ``X[k]`` and
``conj(X[h-k])`` taken with those imaginary parts zeroed::

    Z[k] = (X[k] + conj(X[h-k])) + T[k] * (X[k] - conj(X[h-k])),   T[k] = i*exp(2*pi*i*k/n)

(computed ahead by an ``fft.pack`` block: its reversed loads would slow the
first stage down), ``z = IFFT_h(Z)`` unscaled, and ``x[2j] = Re z[j]``,
``x[2j+1] = Im z[j]`` (times the norm's scale).  Both cost one complex FFT of
length ``h`` and ``O(n)`` extra work; the tables ``A`` ``(2, h+1)`` and ``T``
``(2, h)`` are precomputed.

**irfft of odd length** (or with ``fft.real_half`` off): the Hermitian
extension ``X[n-k] = conj(X[k])`` (also computed ahead) is the source of a
full complex inverse FFT, whose real part is the result.
"""

from __future__ import annotations

import numpy as np

from fftc.codegen.tvm_api import te, tirx

from .butterfly import Cx, PrimExpr, cadd, cmul, conj, csub
from .plan import planar, root_table
from .stockham import Source


def rfft_table(length: int) -> np.ndarray:
    """``A[k] = (1 - i*w^k) / 2`` for ``k = 0..h``, planar ``(2, h+1)``."""
    k = np.arange(length // 2 + 1)
    return planar((1 - 1j * root_table(k, length, -1)) / 2)


def irfft_table(length: int) -> np.ndarray:
    """``T[k] = i*exp(2*pi*i*k/n)`` for ``k = 0..h-1``, planar ``(2, h)``."""
    k = np.arange(length // 2)
    return planar(1j * root_table(k, length, 1))


def packed_real_source(read_real: Source) -> Source:
    """``z[j] = x[2j] + i*x[2j+1]`` from a real source."""
    return lambda b, j: Cx(read_real(b, 2 * j).re, read_real(b, 2 * j + 1).re)


def rfft_result(spectrum: Source, half: int, table: te.Tensor) -> Source:
    """``X[k]`` for ``k = 0..h`` from the half-length spectrum ``Z``.

    ``X[0]`` and ``X[h]`` of a real signal are real: their imaginary parts are
    set to exactly zero (the formula gives a difference of two roundings of
    the same value, which LLVM's FMA contraction can make nonzero).
    """

    def result(b: PrimExpr, k: PrimExpr) -> Cx:
        z = spectrum(b, k % half)
        mirror = conj(spectrum(b, (half - k) % half))
        x = cadd(mirror, cmul(Cx(table[0, k], table[1, k]), csub(z, mirror)))
        assert x.im is not None
        real_bin = k % half == 0
        return Cx(x.re, tirx.Select(real_bin, tirx.const(0.0, table.dtype), x.im))

    return result


def real_signal_result(spectrum: Source, length: int, dtype: str) -> Source:
    """The full spectrum of a real signal by the complex FFT, with the imaginary
    parts of ``X[0]`` and (``n`` even) ``X[n/2]``, which are exactly zero, set so."""
    zero = tirx.const(0.0, dtype)

    def result(b: PrimExpr, k: PrimExpr) -> Cx:
        x = spectrum(b, k)
        real_bin = tirx.Or(k == 0, k * 2 == length)
        return Cx(x.re, zero if x.im is None else tirx.Select(real_bin, zero, x.im))

    return result


def irfft_source(spectrum: Source, half: int, table: te.Tensor, dtype: str) -> Source:
    """``Z[k]`` for ``k = 0..h-1`` from the onesided spectrum ``X`` (``h+1`` values)."""
    zero = tirx.const(0.0, dtype)

    def source(b: PrimExpr, k: PrimExpr) -> Cx:
        x = spectrum(b, k)
        mirror = conj(spectrum(b, half - k))
        edge = k == 0  # X[0] and X[h] enter only here: drop their imaginary parts
        x = Cx(x.re, tirx.Select(edge, zero, x.im))
        mirror = Cx(mirror.re, tirx.Select(edge, zero, mirror.im))
        return cadd(cadd(x, mirror), cmul(Cx(table[0, k], table[1, k]), csub(x, mirror)))

    return source


def irfft_result(signal: Source) -> Source:
    """``x[2j] = Re z[j]``, ``x[2j+1] = Im z[j]`` as a real signal."""

    def result(b: PrimExpr, j: PrimExpr) -> Cx:
        z = signal(b, j // 2)
        return Cx(tirx.Select(j % 2 == 0, z.re, z.im), None)

    return result


def hermitian_source(spectrum: Source, length: int, dtype: str) -> Source:
    """The full spectrum ``X[k]``, ``k < n``, from its first ``n//2 + 1`` values.

    ``X[k] = conj(X[n-k])`` for ``k > n//2``; the imaginary parts of ``X[0]``
    and (``n`` even) ``X[n/2]`` are dropped.  Load indices are clamped so that
    both select branches stay in bounds.
    """
    last = length // 2
    zero = tirx.const(0.0, dtype)

    def source(b: PrimExpr, k: PrimExpr) -> Cx:
        low = spectrum(b, tirx.min(k, last))
        high = conj(spectrum(b, tirx.min(length - k, last)))
        real_only = tirx.Or(k == 0, k == length - k)
        low_im = tirx.Select(real_only, zero, low.im)
        in_low = k <= last
        return Cx(
            tirx.Select(in_low, low.re, high.re),
            tirx.Select(in_low, low_im, high.im),
        )

    return source
