"""The fused 2-D FFT convolution kernel: ``fft_conv2d`` as one PrimFunc.

``x`` is viewed as rows ``b`` (every axis but the two transformed ones, in
order) of ``H x W`` images.  With FFT lengths ``(NH, NW)``, ``h = NW/2`` and
``bins = h + 1``, per row:

1. **rows forward**: each of the ``H`` image rows packed ``z[j] = x[2j] + i*x[2j+1]``
   (zero beyond ``W``; a mixed-radix first stage skips those inputs) and
   transformed by a complex FFT of ``h`` points (batch index ``b*H + y``);
2. **columns forward**: for each of the ``bins`` onesided bins ``k`` (batch index
   ``b*bins + k``), an FFT of ``NH`` points of the row spectra ``X[y, k]``
   (the real-FFT post-processing inlined into the first stage; zero for
   ``y >= H``, skipped likewise);
3. the product with the spectrum times ``1/(NH*NW)`` (inlined into the first
   inverse column stage), the inverse column FFT;
4. **rows inverse**: for each output row ``oy`` (batch index ``b*OH + oy``, reading
   column point ``oy*sh``) the irfft pre-processing (a ``fft_conv2d.pack`` block),
   the inverse complex FFT of ``h`` points, and the output block
   ``fft_conv2d.out`` reading point ``ox*sw`` (Relax fuses the elementwise
   epilogue into it).

Every batch index is row-major with the row ``b`` outermost, so the work of
``V`` consecutive rows is one contiguous range of every intermediate: the CPU
template (``schedules/cpu/fft_conv2d.py``) computes all blocks inside a
parallel loop over groups of ``V`` rows, with the rows as the vector lanes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from fftc.codegen.tvm_api import relax, te, tirx
from fftc.schedules.base import KERNEL_ATTR, KnobValue

from .fft import with_op_pattern
from .fft.bluestein import build_core, core_tables
from .fft.butterfly import Cx, PrimExpr, cmul
from .fft.layout import ravel, unravel
from .fft.plan import CorePlan, MixedRadixPlan, plan_complex
from .fft.realfft import irfft_result, irfft_source, irfft_table, rfft_result, rfft_table
from .fft.stockham import materialize
from .fft_conv import OUT_EWISE_FUSABLE

TAG = "fft_conv2d"
OUT_TAG = "fft_conv2d.out"
#: output block annotations for the template: the first transformed axis, the row count
AXIS_ATTR = "fftc.fft_conv2d.axis"
ROWS_ATTR = "fftc.fft_conv2d.rows"
#: complex points of one row's column spectra (NH x bins), for the template's cache budget
SPECTRUM_ATTR = "fftc.fft_conv2d.spectrum"


def emit_fft_conv2d(
    bb: relax.BlockBuilder,
    x: relax.Expr,
    spectrum: relax.Expr,
    *,
    lengths: tuple[int, int],
    out_shape: tuple[int, int],
    strides: tuple[int, int],
    axis: int,
    knobs: Mapping[str, KnobValue] | None = None,
    factors: Sequence[Sequence[int]] = (),
) -> relax.Expr:
    """Emit ``fft_conv2d(x, spectrum)`` (see ``fftc.ir.ops.spectral``) into ``bb``;
    ``factors``: per axis, the radices of its core FFT (``()``: from ``knobs``)."""
    xshape = tuple(int(d) for d in x.ty.shape)
    kshape = tuple(int(d) for d in spectrum.ty.shape)
    dtype = str(x.ty.dtype)
    nh, nw = lengths
    col_factors, row_factors = factors if factors else ((), ())
    cols, rows = plan_complex(nh, knobs, col_factors), plan_complex(nw // 2, knobs, row_factors)
    tables = {
        **core_tables(cols, -1, "cf"),
        **core_tables(cols, 1, "ci"),
        **core_tables(rows, -1, "rf"),
        **core_tables(rows, 1, "ri"),
        "rfft": rfft_table(nw),
        "irfft": irfft_table(nw),
    }
    names = list(tables)
    consts = [relax.const(tables[k].astype(dtype), dtype) for k in names]
    geometry = Geometry(xshape, kshape, axis, lengths, out_shape, strides)

    def kernel(data: te.Tensor, spec: te.Tensor, *tabs: te.Tensor) -> te.Tensor:
        t = dict(zip(names, tabs, strict=True))
        return _build(data, spec, t, cols, rows, geometry, dtype)

    y = bb.emit_te(kernel, x, spectrum, *consts, primfunc_name_hint=f"fft_conv2d_{nh}x{nw}")
    return with_op_pattern(bb, y, OUT_EWISE_FUSABLE)


class Geometry:
    """Index arithmetic between ``x``'s layout and the kernel's row-major batches."""

    def __init__(
        self,
        xshape: tuple[int, ...],
        kshape: tuple[int, ...],
        axis: int,
        lengths: tuple[int, int],
        out_shape: tuple[int, int],
        strides: tuple[int, int],
    ) -> None:
        self.first = axis + len(xshape) if axis < 0 else axis
        self.xshape, self.kshape = xshape, kshape
        self.outer, self.inner = xshape[: self.first], xshape[self.first + 2 :]
        self.row_dims = (*self.outer, *self.inner)
        self.rows = math.prod(self.row_dims)
        self.height, self.width = xshape[self.first], xshape[self.first + 1]
        self.lengths, self.out_shape, self.strides = lengths, out_shape, strides
        self.bins = lengths[1] // 2 + 1

    def row_digits(self, b: PrimExpr) -> tuple[list[PrimExpr], list[PrimExpr]]:
        digits = unravel(b, self.row_dims) if self.row_dims else []
        return digits[: len(self.outer)], digits[len(self.outer) :]

    def x_index(self, b: PrimExpr, y: PrimExpr, x: PrimExpr) -> tuple[PrimExpr, ...]:
        outer, inner = self.row_digits(b)
        return (*outer, y, x, *inner)

    def spectrum_index(self, b: PrimExpr, m: PrimExpr, k: PrimExpr) -> tuple[PrimExpr, ...]:
        outer, inner = self.row_digits(b)
        full = (*outer, m, k, *inner)
        dims = self.kshape[:-1]
        lead = len(full) - len(dims)
        return tuple(0 if d == 1 else full[lead + i] for i, d in enumerate(dims))

    def row_of_output(self, index: tuple[PrimExpr, ...]) -> PrimExpr:
        return ravel((*index[: self.first], *index[self.first + 2 :]), self.row_dims)


def _build(
    data: te.Tensor,
    spec: te.Tensor,
    tables: Mapping[str, te.Tensor],
    cols: CorePlan,
    rows: CorePlan,
    g: Geometry,
    dtype: str,
) -> te.Tensor:
    height, width, bins = g.height, g.width, g.bins
    (nh, nw), (oh, ow), (sh, sw) = g.lengths, g.out_shape, g.strides
    half = nw // 2
    zero = tirx.const(0.0, dtype)

    # 1. rows forward (batch b*H + y)
    nonzero_w = (width + 1) // 2
    guard_w = not isinstance(rows, MixedRadixPlan) and 2 * half > width

    def point(b: PrimExpr, y: PrimExpr, n: PrimExpr, guard: bool) -> PrimExpr:
        if not guard:
            return data[g.x_index(b, y, n)]
        return tirx.Select(n < width, data[g.x_index(b, y, tirx.min(n, width - 1))], zero)

    def packed(by: tuple[PrimExpr, PrimExpr], j: PrimExpr) -> Cx:
        b, y = by
        return Cx(point(b, y, 2 * j, guard_w), point(b, y, 2 * j + 1, guard_w or width % 2 == 1))

    row_fwd = build_core(rows, packed, (g.rows, height), -1, tables, dtype, "rf", TAG,
                         nonzero_w if nonzero_w < half else None)  # fmt: skip
    row_spectrum = rfft_result(row_fwd, half, tables["rfft"])

    # 2. columns forward (batch b*bins + k), zero for y >= H
    guard_h = not isinstance(cols, MixedRadixPlan) and nh > height

    def column(bk: tuple[PrimExpr, PrimExpr], y: PrimExpr) -> Cx:
        b, k = bk
        if not guard_h:
            return row_spectrum((b, y), k)
        value = row_spectrum((b, tirx.min(y, height - 1)), k)
        assert value.re is not None
        assert value.im is not None
        inside = y < height
        return Cx(tirx.Select(inside, value.re, zero), tirx.Select(inside, value.im, zero))

    col_fwd = build_core(cols, column, (g.rows, bins), -1, tables, dtype, "cf", TAG,
                         height if height < nh else None)  # fmt: skip

    # 3. product and inverse columns
    scale = tirx.const(1.0 / (nh * nw), dtype)

    def product(bk: tuple[PrimExpr, PrimExpr], m: PrimExpr) -> Cx:
        b, k = bk
        kidx = g.spectrum_index(b, m, k)
        value = cmul(col_fwd(bk, m), Cx(spec[(*kidx, 0)], spec[(*kidx, 1)]))
        assert value.re is not None
        assert value.im is not None
        return Cx(value.re * scale, value.im * scale)

    col_inv = build_core(cols, product, (g.rows, bins), 1, tables, dtype, "ci", TAG)

    # 4. rows inverse (batch b*OH + oy)
    def onesided(boy: tuple[PrimExpr, PrimExpr], k: PrimExpr) -> Cx:
        b, oy = boy
        return col_inv((b, k), oy * sh)

    pre = irfft_source(onesided, half, tables["irfft"], dtype)
    pre = materialize(pre, (g.rows, oh), half, dtype, "fft_conv2d_mid", TAG)
    signal = irfft_result(build_core(rows, pre, (g.rows, oh), 1, tables, dtype, "ri", TAG))

    def body(*index: PrimExpr) -> PrimExpr:
        b = g.row_of_output(index)
        value = signal((b, index[g.first]), index[g.first + 1] * sw)
        assert value.re is not None
        return value.re

    shape = list(g.xshape)
    shape[g.first], shape[g.first + 1] = oh, ow
    attrs = {KERNEL_ATTR: OUT_TAG, AXIS_ATTR: g.first, ROWS_ATTR: g.rows,
             SPECTRUM_ATTR: nh * bins}  # fmt: skip
    return te.compute(tuple(shape), body, name="fft_conv2d_out", attrs=attrs)
