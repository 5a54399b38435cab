"""Mixed-radix Stockham FFT stages as TE computes.

A complex signal of ``B`` batches of length ``N`` is held *planar*: a tensor
``Y[b, c, n]`` of shape ``(B, 2, N)`` with ``c = 0`` the real and ``c = 1``
the imaginary part, so that the ``n`` axis is contiguous for both parts and
vectorises.

With radices ``R_1, ..., R_S`` (``N = R_1 * ... * R_S``) and
``L_s = R_1 * ... * R_s`` (``L_0 = 1``), ``Q_s = N / L_s``, the data after
stage ``s`` are the ``L_s``-point DFTs of the ``Q_s`` decimated sequences::

    Y_s[q*L_s + k] = sum_{m < L_s} x[q + Q_s*m] * w^(m*k)        (q < Q_s, k < L_s)

where ``w = exp(sign*2*pi*i / L_s)``.  ``Y_0 = x`` and ``Y_S = DFT(x)`` in
natural order (Stockham autosort: no bit reversal).  Stage ``s`` (radix
``R = R_s``, span ``L = L_{s-1}``, ``M = N / R``) is, for ``f = (q*R + r)*L + k``::

    Y_s[f] = sum_{t < R} w_R^(r*t) * (tw_s[t, k] * Y_{s-1}[t*M + q*L + k])
    tw_s[t, k] = exp(sign*2*pi*i * t*k / (R*L))                     (a constant table)

One stage is one TE compute over ``(b, c, f)``; its body is a ``Select`` over
the ``R`` outputs ``r`` of a radix-``R`` butterfly (:mod:`.butterfly`) and over
``c``.  The CPU template splits ``f`` into ``(q, r, k)``, unrolls ``r`` and
``c`` (the selects fold away, the butterfly's shared terms are computed once)
and vectorises ``k`` (or ``q`` while ``L`` is small).  The loads
``Y_{s-1}[t*M + q*L + k]`` and stores ``Y_s[(q*R + r)*L + k]`` are contiguous in
``k``, and the twiddles are read from ``tw_s`` (never sin/cos at run time).

The first stage reads its input through a *source* function instead of a
tensor, so packing the caller's layout (interleaved complex, real input, the
rfft's even/odd packing, the Bluestein chirp) costs no separate pass; only
sources with reversed or clamped loads are computed ahead by
:func:`materialize`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from fftc.codegen.tvm_api import te, tirx
from fftc.schedules.base import KERNEL_ATTR

from .butterfly import Cx, DFTBuilder, LetScope, PrimExpr, cmul

#: ``source(b, n) -> x[b, n]``: a complex value of the signal being transformed
Source = Callable[[PrimExpr, PrimExpr], Cx]

#: block annotation keys the schedule templates read
RADIX_ATTR = "fftc.fft.radix"
SPAN_ATTR = "fftc.fft.span"


#: a batch: one extent, or several (a multi-dimensional batch index ``b``, a tuple)
Batch = int | tuple[int, ...]


def batch_dims(batch: Batch) -> tuple[int, ...]:
    """The batch extents as a tuple."""
    return batch if isinstance(batch, tuple) else (batch,)


def batch_index(b: PrimExpr | tuple[PrimExpr, ...]) -> tuple[PrimExpr, ...]:
    """A batch index (one expression, or a tuple for a multi-dimensional batch) as a tuple."""
    return b if isinstance(b, tuple) else (b,)


def _compute(batch: Batch, length: int, body: Callable[..., PrimExpr], name: str,
             attrs: dict[str, object]) -> te.Tensor:  # fmt: skip
    """A ``(*batch, 2, length)`` compute whose ``body(b, c, f)`` sees the batch as one index."""
    dims = batch_dims(batch)

    def flat(*index: PrimExpr) -> PrimExpr:
        b = index[0] if len(dims) == 1 else tuple(index[: len(dims)])
        return body(b, index[-2], index[-1])

    return te.compute((*dims, 2, length), flat, name=name, attrs=attrs)


def planar_source(y: te.Tensor) -> Source:
    """Read a planar ``(*B, 2, N)`` tensor as a source."""
    return lambda b, n: Cx(y[(*batch_index(b), 0, n)], y[(*batch_index(b), 1, n)])


def part(value: PrimExpr | None, dtype: str) -> PrimExpr:
    """A real or imaginary part, with an exact zero made explicit."""
    return tirx.const(0.0, dtype) if value is None else value


def select_index(index: PrimExpr, values: Sequence[PrimExpr]) -> PrimExpr:
    """``values[index]`` as a chain of selects (folded once ``index`` is a constant)."""
    result = values[-1]
    for i in range(len(values) - 2, -1, -1):
        result = tirx.Select(index == i, values[i], result)
    return result


def stockham_stage(
    source: Source,
    batch: Batch,
    length: int,
    radix: int,
    span: int,
    sign: int,
    twiddle: te.Tensor | None,
    dtype: str,
    name: str,
    tag: str = "fft",
    nonzero: int | None = None,
) -> te.Tensor:
    """One radix-``radix`` stage with span ``L = span`` (see the module docstring).

    ``twiddle`` is the ``(2, radix - 1, span)`` table of ``tw_s[t, k]`` for
    ``t >= 1`` (``None`` when ``span == 1``: all twiddles are 1).  ``nonzero``
    (first stage only): the source is zero from that index on (a zero-padded
    signal), so the butterfly inputs ``t`` with ``t*M >= nonzero`` are exact
    zeros at build time and the one straddling the boundary is guarded (with a
    clamped load, so both branches stay in bounds).
    """
    m = length // radix
    if nonzero is not None and span != 1:
        raise ValueError("nonzero applies to the first stage only")

    def load(b: PrimExpr, t: int, index: PrimExpr) -> Cx:
        if nonzero is None or (t + 1) * m <= nonzero:
            return source(b, index)
        if t * m >= nonzero:
            return Cx(None, None)
        value = source(b, tirx.min(index, nonzero - 1))
        inside = index < nonzero
        zero = tirx.const(0.0, dtype)
        return Cx(
            None if value.re is None else tirx.Select(inside, value.re, zero),
            None if value.im is None else tirx.Select(inside, value.im, zero),
        )

    def body(b: PrimExpr, c: PrimExpr, f: PrimExpr) -> PrimExpr:
        q = f // (radix * span)
        r = (f // span) % radix
        k = f % span
        scope = LetScope(dtype)
        inputs = []
        for t in range(radix):
            value = scope.bind(load(b, t, t * m + q * span + k))
            if t > 0 and twiddle is not None:
                value = scope.bind(cmul(value, Cx(twiddle[0, t - 1, k], twiddle[1, t - 1, k])))
            inputs.append(value)
        butterfly = DFTBuilder(inputs, sign, scope)
        outputs = [butterfly.output(i) for i in range(radix)]
        re = select_index(r, [part(o.re, dtype) for o in outputs])
        im = select_index(r, [part(o.im, dtype) for o in outputs])
        return scope.wrap(tirx.Select(c == 0, re, im))

    attrs = {KERNEL_ATTR: f"{tag}.stage", RADIX_ATTR: radix, SPAN_ATTR: span}
    return _compute(batch, length, body, name, attrs)


def materialize(
    source: Source,
    batch: Batch,
    length: int,
    dtype: str,
    name: str,
    tag: str = "fft",
    attrs: Mapping[str, object] | None = None,
) -> Source:
    """``source`` computed once into a planar ``(B, 2, N)`` tensor (block tag ``fft.pack``).

    The first stage reads its inputs through the source ``R`` times per
    butterfly; a source with reversed or clamped loads (the irfft
    pre-processing, the Hermitian extension) is cheaper as a separate
    vectorised pass than inside the stage.  ``attrs``: more block annotations.
    """

    def body(b: PrimExpr, c: PrimExpr, n: PrimExpr) -> PrimExpr:
        scope = LetScope(dtype)
        value = scope.bind(source(b, n))
        return scope.wrap(tirx.Select(c == 0, part(value.re, dtype), part(value.im, dtype)))

    annotations: dict[str, object] = {KERNEL_ATTR: f"{tag}.pack", **(attrs or {})}
    return planar_source(_compute(batch, length, body, name, annotations))


def stockham_fft(
    source: Source,
    batch: Batch,
    length: int,
    radices: Sequence[int],
    sign: int,
    twiddles: Sequence[te.Tensor | None],
    dtype: str,
    name: str,
    tag: str = "fft",
    nonzero: int | None = None,
) -> Source:
    """All stages of a mixed-radix FFT; returns the result as a source.

    ``twiddles[s]`` is stage ``s``'s table (see :func:`stockham_stage`);
    ``tag`` prefixes the blocks' kernel tags; ``nonzero``: see the first stage.
    """
    span = 1
    for s, (radix, twiddle) in enumerate(zip(radices, twiddles, strict=True)):
        y = stockham_stage(source, batch, length, radix, span, sign, twiddle, dtype,
                           f"{name}_s{s}", tag, nonzero if s == 0 else None)  # fmt: skip
        source = planar_source(y)
        span *= radix
    return source
