"""The fused FFT convolution kernel: ``fft_conv`` as one PrimFunc.

Per row of ``x`` (every index but the last), with ``n`` the FFT length and
``h = n/2``:

1. ``z[j] = x[2j] + i*x[2j+1]`` (zero beyond ``len(x)``: the first stage of
   the forward FFT skips the butterfly inputs known to be zero);
2. ``Z = FFT_h(z)`` (mixed-radix Stockham stages, or Bluestein);
3. ``X[k]`` from ``Z`` (the real-FFT post-processing), ``P[k] = X[k]*K[k]/n``,
   and the inverse real-FFT pre-processing of ``P``: one ``fft_conv.pack`` block
   (with ``bands``, only the kept bins' products: :mod:`.fft_conv_bands`);
4. ``z' = IFFT_h(...)``; ``y[t] = z'[t*stride]`` (even/odd points are the
   real/imaginary parts) in the output block ``fft_conv.out``, into which
   Relax fuses the elementwise epilogue (bias, gates, ``D*u``, activation).

Every block is tagged ``fft_conv.*``; the CPU template
(``schedules/cpu/fft_conv.py``) computes all of them inside the parallel row
loop of the output block, so each row's intermediates stay in cache and no
spectrum is written to memory.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from fftc.codegen.tvm_api import relax, te, tirx
from fftc.schedules.base import KERNEL_ATTR, KnobValue

from .fft import with_op_pattern
from .fft.bluestein import build_core, core_tables
from .fft.butterfly import Cx, PrimExpr, cmul
from .fft.layout import ravel, unravel
from .fft.plan import CorePlan, MixedRadixPlan, plan_complex
from .fft.realfft import irfft_result, irfft_source, irfft_table, rfft_result, rfft_table
from .fft.stockham import materialize
from .fft_conv_bands import BLOCKS_ATTR, banded_irfft_source, kept_mask, pack_blocks

TAG = "fft_conv"
OUT_TAG = "fft_conv.out"
#: output block annotations for the template
STRIDE_ATTR = "fftc.fft_conv.stride"

#: relax OpPatternKind kOutEWiseFusable: elementwise consumers fuse into the output block
OUT_EWISE_FUSABLE = 4


def emit_fft_conv(
    bb: relax.BlockBuilder,
    x: relax.Expr,
    spectrum: relax.Expr,
    *,
    length: int,
    out_length: int,
    stride: int = 1,
    knobs: Mapping[str, KnobValue] | None = None,
    factors: Sequence[int] = (),
    bands: Sequence[tuple[int, int]] = (),
    lanes: int = 1,
) -> relax.Expr:
    """Emit ``fft_conv(x, spectrum)`` (see ``fftc.ir.ops.spectral``) into ``bb``;
    ``factors``: the radices of the length ``n/2`` core FFT (``()``: from ``knobs``);
    ``bands``: the kept bin ranges (``()``: all; the rest is skipped, see
    :mod:`.fft_conv_bands`); ``lanes``: the rows the CPU template computes
    together (a constant spectrum is then stored lane-interleaved, see
    :func:`lane_spectrum`)."""
    xshape = tuple(int(d) for d in x.ty.shape)
    kshape = tuple(int(d) for d in spectrum.ty.shape)
    dtype = str(x.ty.dtype)
    interleaved = lane_spectrum(spectrum, kshape, lanes)
    if interleaved is not None:
        spectrum = interleaved
    else:
        lanes = 1
    half = length // 2
    plan = plan_complex(half, knobs, factors)
    tables = {
        **core_tables(plan, -1, "fwd"),
        **core_tables(plan, 1, "inv"),
        "rfft": rfft_table(length),
        "irfft": irfft_table(length),
    }
    names = list(tables)
    consts = [relax.const(tables[k].astype(dtype), dtype) for k in names]

    def kernel(data: te.Tensor, spec: te.Tensor, *tabs: te.Tensor) -> te.Tensor:
        t = dict(zip(names, tabs, strict=True))
        return _build(data, spec, t, plan, xshape, kshape, length, out_length, stride, dtype,
                      kept_mask(bands, half), lanes)  # fmt: skip

    y = bb.emit_te(kernel, x, spectrum, *consts, primfunc_name_hint=f"fft_conv{length}")
    return with_op_pattern(bb, y, OUT_EWISE_FUSABLE)


def _build(
    data: te.Tensor,
    spec: te.Tensor,
    tables: Mapping[str, te.Tensor],
    plan: CorePlan,
    xshape: tuple[int, ...],
    kshape: tuple[int, ...],
    length: int,
    out_length: int,
    stride: int,
    dtype: str,
    kept: np.ndarray,
    lanes: int = 1,
) -> te.Tensor:
    rows_shape = xshape[:-1]
    rows = math.prod(rows_shape)
    size = xshape[-1]
    half = length // 2
    zero = tirx.const(0.0, dtype)

    def row_index(b: PrimExpr) -> tuple[PrimExpr, ...]:
        return tuple(unravel(b, rows_shape)) if rows_shape else ()

    nonzero = (size + 1) // 2
    # a mixed-radix first stage reads only j < nonzero (it skips and guards the
    # rest itself); Bluestein's reads every j < half: then the loads guard themselves
    self_guard = not isinstance(plan, MixedRadixPlan) and 2 * half > size

    def point(idx: tuple[PrimExpr, ...], n: PrimExpr, guard: bool) -> PrimExpr:
        if not guard:
            return data[(*idx, n)]
        return tirx.Select(n < size, data[(*idx, tirx.min(n, size - 1))], zero)

    def packed(b: PrimExpr, j: PrimExpr) -> Cx:
        idx = row_index(b)
        re = point(idx, 2 * j, self_guard)
        return Cx(re, point(idx, 2 * j + 1, self_guard or size % 2 == 1))

    fwd = build_core(plan, packed, rows, -1, tables, dtype, "fwd", TAG,
                     nonzero if nonzero < half else None)  # fmt: skip
    spectrum_of = rfft_result(fwd, half, tables["rfft"])
    scale = tirx.const(1.0 / length, dtype)

    def kernel_bin(b: PrimExpr, k: PrimExpr) -> Cx:
        kidx = spectrum_rows(row_index(b), kshape[:-2])
        if lanes == 1:
            return Cx(spec[(*kidx, k, 0)], spec[(*kidx, k, 1)])
        r = ravel(kidx, kshape[:-2])
        return Cx(spec[r // lanes, k, 0, r % lanes], spec[r // lanes, k, 1, r % lanes])

    def product(b: PrimExpr, k: PrimExpr) -> Cx:
        value = cmul(spectrum_of(b, k), kernel_bin(b, k))
        assert value.re is not None
        assert value.im is not None
        return Cx(value.re * scale, value.im * scale)

    if kept.all():  # dense: the kernel's TIR (and its tuning records) as before bands
        pre = materialize(irfft_source(product, half, tables["irfft"], dtype), rows, half,
                          dtype, "fft_conv_mid", TAG)  # fmt: skip
    else:
        blocks = pack_blocks(kept)
        banded = banded_irfft_source(product, kept, tables["irfft"], dtype, blocks)
        pre = materialize(banded, rows, half, dtype, "fft_conv_mid", TAG, {BLOCKS_ATTR: blocks})
    inv = build_core(plan, pre, rows, 1, tables, dtype, "inv", TAG)
    signal = irfft_result(inv)

    def body(*index: PrimExpr) -> PrimExpr:
        b = index[0] if len(rows_shape) == 1 else ravel(index[:-1], rows_shape)
        value = signal(b, index[-1] * stride)  # a select of two loads: no let needed
        assert value.re is not None  # (a let here breaks TVM's CSE once an epilogue fuses)
        return value.re

    attrs = {KERNEL_ATTR: OUT_TAG, STRIDE_ATTR: stride}
    return te.compute((*rows_shape, out_length), body, name="fft_conv_out", attrs=attrs)


def lane_spectrum(spectrum: relax.Expr, kshape: tuple[int, ...], lanes: int) -> relax.Expr | None:
    """A constant ``(*K, F, 2)`` spectrum stored as ``(R / lanes, F, 2, lanes)``
    (``R = prod(K)`` rows, ``lanes`` consecutive rows interleaved), or ``None``
    (not a constant, one row for all, or ``lanes`` does not divide ``R``).

    With the template's row lanes, the product then loads each bin of ``lanes``
    rows as one vector instead of gathering it from ``lanes`` rows (the gather
    took half the kernel's time at n = 8192 on Zen 5).
    """
    rows = math.prod(kshape[:-2])
    data = getattr(spectrum, "value", None)  # a relax constant: its tensor
    if lanes <= 1 or rows <= 1 or rows % lanes or data is None or not hasattr(data, "numpy"):
        return None
    values = data.numpy().reshape(rows // lanes, lanes, *kshape[-2:])
    return relax.const(np.ascontiguousarray(values.transpose(0, 2, 3, 1)))


def spectrum_rows(idx: Sequence[PrimExpr], kdims: Sequence[int]) -> tuple[PrimExpr, ...]:
    """The spectrum's index for row ``idx`` of ``x``: its batch dims ``kdims`` align with
    the row's trailing ones and broadcast where 1 (one spectrum per channel, or for all)."""
    offset = len(idx) - len(kdims)
    return tuple(0 if d == 1 else idx[offset + i] for i, d in enumerate(kdims))


def complex_product(a: te.Tensor, b: te.Tensor) -> te.Tensor:
    """``cmul``: the complex product of two ``(..., 2)`` tensors, broadcasting."""
    ashape = tuple(int(d) for d in a.shape)
    bshape = tuple(int(d) for d in b.shape)
    shape = (*np.broadcast_shapes(ashape[:-1], bshape[:-1]), 2)

    def at(t: te.Tensor, tshape: tuple[int, ...], index: tuple[PrimExpr, ...], c: int) -> PrimExpr:
        lead = index[len(index) - len(tshape) : -1]
        idx = tuple(0 if d == 1 else i for i, d in zip(lead, tshape[:-1], strict=True))
        return t[(*idx, c)]

    def body(*index: PrimExpr) -> PrimExpr:
        ar, ai = at(a, ashape, index, 0), at(a, ashape, index, 1)
        br, bi = at(b, bshape, index, 0), at(b, bshape, index, 1)
        return tirx.Select(index[-1] == 0, ar * br - ai * bi, ar * bi + ai * br)

    return te.compute(shape, body, name="cmul")
