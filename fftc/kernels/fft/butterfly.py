"""Complex arithmetic on TIR expressions, and small DFTs written out as expressions.

TVM has no complex dtype, so a complex value is a pair of real ``PrimExpr``s
(:class:`Cx`).  ``None`` stands for an exact zero (the imaginary part of a
real input), so multiplications and additions with it disappear at build
time instead of being left to the compiler.

:class:`DFTBuilder` returns the expression of one output ``X[r]`` of an
``R``-point DFT of ``R`` input expressions, with every coefficient a
compile-time constant.  Trivial coefficients (``1, -1, i, -i``) become
additions, subtractions and swaps; ``(±1±i)/√2`` costs two multiplications.
The expressions are built by a recursive Cooley-Tukey split (decimation in
time by the smallest prime factor ``p`` of ``R``, ``R = p*m``)::

    X[r1 + m*r2] = sum_{j<p} w_p^(j*r2) * (w_R^(j*r1) * D_j[r1]),  D_j = DFT_m(x[j::p])

and an odd prime ``p`` uses the symmetric form (``a_t = y_t + y_{p-t}``,
``b_t = y_t - y_{p-t}``, ``theta = 2*pi*r*t/p``)::

    Y[r] = y_0 + sum_{t=1}^{(p-1)/2} cos(theta)*a_t + sign*i*sin(theta)*b_t

Sub-results are memoised per :class:`DFTBuilder`, so the ``R`` outputs of one
butterfly share their common sub-expressions as Python (and TIR) objects.  A
schedule unrolls the loop over ``r``; LLVM's value numbering then computes
the shared parts once, giving the operation count of a real radix-``R`` FFT
butterfly instead of the ``R**2`` of a matrix-vector product.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from fftc.codegen.tvm_api import tirx

from .plan import prime_factors

#: |c - round(c)| below this makes a constant coefficient exactly 0 or ±1
_EXACT = 1e-12

PrimExpr = Any  # TVM is untyped


@dataclass(frozen=True)
class Cx:
    """A complex value as two real TIR expressions; ``None`` means exactly 0."""

    re: PrimExpr | None
    im: PrimExpr | None


def _add(a: PrimExpr | None, b: PrimExpr | None) -> PrimExpr | None:
    if a is None:
        return b
    if b is None:
        return a
    return a + b


def _neg(a: PrimExpr | None) -> PrimExpr | None:
    return None if a is None else -a


def _sub(a: PrimExpr | None, b: PrimExpr | None) -> PrimExpr | None:
    if b is None:
        return a
    if a is None:
        return -b
    return a - b


def _scale(a: PrimExpr | None, c: float, dtype: str) -> PrimExpr | None:
    """``a * c`` for a constant real ``c``, folding 0 and ±1."""
    if a is None or abs(c) < _EXACT:
        return None
    if abs(c - 1.0) < _EXACT:
        return a
    if abs(c + 1.0) < _EXACT:
        return -a
    return a * tirx.const(c, dtype)


def cadd(a: Cx, b: Cx) -> Cx:
    return Cx(_add(a.re, b.re), _add(a.im, b.im))


def csub(a: Cx, b: Cx) -> Cx:
    return Cx(_sub(a.re, b.re), _sub(a.im, b.im))


def conj(a: Cx) -> Cx:
    return Cx(a.re, _neg(a.im))


def cmul(a: Cx, b: Cx) -> Cx:
    """The product of two run-time complex values."""
    re = _sub(_mul(a.re, b.re), _mul(a.im, b.im))
    im = _add(_mul(a.re, b.im), _mul(a.im, b.re))
    return Cx(re, im)


def _mul(a: PrimExpr | None, b: PrimExpr | None) -> PrimExpr | None:
    if a is None or b is None:
        return None
    return a * b


def cmul_const(a: Cx, c: complex, dtype: str) -> Cx:
    """``a * c`` for a compile-time constant ``c``.

    ``c`` in ``{1, -1, i, -i}`` costs nothing; a real or imaginary ``c`` two
    multiplications; ``c = s*(±1±i)`` (the eighth roots of unity) two
    multiplications and two additions; anything else four and two.
    """
    cr, ci = c.real, c.imag
    if abs(ci) < _EXACT:
        return Cx(_scale(a.re, cr, dtype), _scale(a.im, cr, dtype))
    if abs(cr) < _EXACT:  # (x + iy) * i*ci = -ci*y + i*ci*x
        return Cx(_scale(a.im, -ci, dtype), _scale(a.re, ci, dtype))
    if abs(abs(cr) - abs(ci)) < _EXACT:  # c = cr*(1 ± i)
        s = 1.0 if ci * cr > 0 else -1.0  # c = cr*(1 + s*i)
        # (x + iy)*cr*(1 + s*i) = cr*(x - s*y) + i*cr*(y + s*x)
        re = _add(a.re, _scale(a.im, -s, dtype))
        im = _add(a.im, _scale(a.re, s, dtype))
        return Cx(_scale(re, cr, dtype), _scale(im, cr, dtype))
    re = _sub(_scale(a.re, cr, dtype), _scale(a.im, ci, dtype))
    im = _add(_scale(a.re, ci, dtype), _scale(a.im, cr, dtype))
    return Cx(re, im)


def root_of_unity(k: int, n: int, sign: int) -> complex:
    """``exp(sign * 2*pi*i * k / n)``, exact for multiples of a quarter turn."""
    k %= n
    if (4 * k) % n == 0:
        return (1 + 0j, 1j, -1 + 0j, -1j)[(4 * k // n) * (1 if sign > 0 else -1) % 4]
    angle = sign * 2.0 * math.pi * k / n
    return complex(math.cos(angle), math.sin(angle))


class LetScope:
    """The ``let`` bindings of one block body, in evaluation order.

    A value used more than once (each part of a complex intermediate is used
    by both parts of the next one) is bound to a variable, so expression trees
    grow linearly with the butterfly's size instead of doubling per level.
    """

    def __init__(self, dtype: str) -> None:
        self.dtype = dtype
        self._bindings: list[tuple[Any, PrimExpr]] = []

    def bind(self, value: Cx) -> Cx:
        """``value`` with each computed part replaced by a bound variable."""
        return Cx(self._bind_part(value.re), self._bind_part(value.im))

    def _bind_part(self, value: PrimExpr | None) -> PrimExpr | None:
        if value is None or isinstance(value, tirx.Var | tirx.FloatImm):
            return value
        var = tirx.Var(f"v{len(self._bindings)}", self.dtype)
        self._bindings.append((var, value))
        return var

    def wrap(self, body: PrimExpr) -> PrimExpr:
        """``body`` inside all the bindings made so far."""
        for var, value in reversed(self._bindings):
            body = tirx.Let(var, value, body)
        return body


class DFTBuilder:
    """Builds the outputs of one ``R``-point DFT of ``R`` input expressions.

    ``sign`` is -1 for the forward transform (``w = exp(-2*pi*i/R)``) and +1
    for the inverse (unscaled).  Intermediate values are bound in ``scope``.
    """

    def __init__(self, inputs: Sequence[Cx], sign: int, scope: LetScope) -> None:
        self.inputs = list(inputs)
        self.sign = sign
        self.scope = scope
        self.dtype = scope.dtype
        self._memo: dict[tuple[object, ...], Cx] = {}

    def output(self, r: int) -> Cx:
        """The expression of ``X[r]``."""
        return self._dft(tuple(range(len(self.inputs))), r)

    def _dft(self, idx: tuple[int, ...], r: int) -> Cx:
        """``DFT(inputs[idx])[r]``, split by the smallest prime factor of its size."""
        key = ("dft", idx, r)
        if key in self._memo:
            return self._memo[key]
        size = len(idx)
        if size == 1:
            result = self.inputs[idx[0]]
        else:
            p = prime_factors(size)[0]
            m = size // p
            r1, r2 = r % m, r // m
            ys = [
                self._memo_get(("y", idx, r1, j), partial(self._twiddled, idx[j::p], r1, j, size))
                for j in range(p)
            ]
            result = self.scope.bind(self._prime_dft(("y", idx, r1), ys, r2))
        self._memo[key] = result
        return result

    def _twiddled(self, idx: tuple[int, ...], r1: int, j: int, size: int) -> Cx:
        """``w_size^(j*r1) * DFT(inputs[idx])[r1]``."""
        twiddle = root_of_unity(j * r1, size, self.sign)
        return cmul_const(self._dft(idx, r1), twiddle, self.dtype)

    def _prime_dft(self, key: tuple[object, ...], ys: list[Cx], r: int) -> Cx:
        """Output ``r`` of the ``p``-point DFT of ``ys`` (``p`` prime)."""
        p = len(ys)
        if p == 2:
            return cadd(ys[0], ys[1]) if r == 0 else csub(ys[0], ys[1])
        half = (p - 1) // 2
        sums = [
            self._memo_get((*key, "a", t), partial(cadd, ys[t], ys[p - t]))
            for t in range(1, half + 1)
        ]
        if r == 0:
            total = ys[0]
            for a in sums:
                total = cadd(total, a)
            return total
        rr = min(r, p - r)
        cos_part = self._memo_get((*key, "c", rr), lambda: self._cos_sum(ys[0], sums, rr, p))
        sin_part = self._memo_get((*key, "s", rr), lambda: self._sin_sum(ys, rr, p, key))
        # sign*i*S: multiply by i (or -i), folded into a swap
        direction = self.sign if r == rr else -self.sign
        turned = (
            Cx(_neg(sin_part.im), sin_part.re)
            if direction > 0
            else Cx(sin_part.im, _neg(sin_part.re))
        )
        return cadd(cos_part, turned)

    def _cos_sum(self, y0: Cx, sums: list[Cx], rr: int, p: int) -> Cx:
        total = y0
        for t, a in enumerate(sums, start=1):
            total = cadd(
                total, cmul_const(a, complex(math.cos(2 * math.pi * rr * t / p)), self.dtype)
            )
        return total

    def _sin_sum(self, ys: list[Cx], rr: int, p: int, key: tuple[object, ...]) -> Cx:
        total = Cx(None, None)
        for t in range(1, (p - 1) // 2 + 1):
            b = self._memo_get((*key, "b", t), partial(csub, ys[t], ys[p - t]))
            total = cadd(
                total, cmul_const(b, complex(math.sin(2 * math.pi * rr * t / p)), self.dtype)
            )
        return total

    def _memo_get(self, key: tuple[object, ...], make: Callable[[], Cx]) -> Cx:
        """The memoised, bound value of ``make()``."""
        if key not in self._memo:
            self._memo[key] = self.scope.bind(make())
        return self._memo[key]
