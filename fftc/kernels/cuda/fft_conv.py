"""The graph op ``fft_conv`` on the Monarch kernel's stages (tensor cores on CUDA).

``fft_conv(x, K)`` (see ``fftc.ir.ops.spectral``) is the same computation as the
standalone kernel of :mod:`.monarch` with ``D = 0`` and ``gate = 1``: a circular
convolution of length ``N`` per row, here with

* the input read zero padded: ``x`` is ``(..., L)`` with ``L <= N``; the first
  stage (``x1``, the ``n1 x n2`` view of a row) loads ``x[row, i]`` for
  ``i < L`` and 0 beyond, cast to the compute dtype;
* the full spectrum made from the one-sided one inside the product stage:
  ``K[k] = conj(K[N - k])`` for ``k > N/2`` (Hermitian symmetry), read at the
  permuted index ``k = k1 + n1*k2``, so a spectrum computed at run time works
  as a constant one does; it broadcasts over the rows like the generic
  kernel's (one spectrum per channel, or one for all);
* the output stage ``monarch_out`` picking ``y[t * stride]`` for
  ``t < out_length`` in float32 (no rounding to the compute dtype); no ``D*u``
  or gate: Relax fuses the graph's own epilogue (residual, gates, bias) into
  this block (op pattern ``kOutEWiseFusable``).

One PrimFunc per op, nine stages tagged ``monarch.matmul`` / ``monarch.stage``
(``schedules/cuda/monarch.py`` gives them the WMMA and thread schedules); the
DFT matrices and twiddles are Relax constants in the compute dtype.  N > 4096
(an :class:`~.outer.OuterPlan`) adds the outer DFT stage of :mod:`.outer`
around the same inner stages: thirteen stages, the spectrum read at bin
``k0 + n0*(k1 + n1*k2)``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from fftc.codegen.tvm_api import relax, te, tirx
from fftc.schedules.base import KERNEL_ATTR

from ..fft import with_op_pattern
from ..fft.layout import ravel, unravel
from ..fft_conv import OUT_EWISE_FUSABLE, spectrum_rows
from .monarch import STAGE_TAG, MonarchPlan, monarch_stages, table_arrays
from .outer import BinAt, OuterPlan, PointAt, SignalLoad, outer_stages, outer_table_arrays


def emit_monarch_fft_conv(
    bb: relax.BlockBuilder,
    x: relax.Expr,
    spectrum: relax.Expr,
    *,
    plan: MonarchPlan | OuterPlan,
    out_length: int,
    stride: int,
    dtype: str,
) -> relax.Expr:
    """Emit ``fft_conv(x, spectrum)`` of length ``plan.n`` with matmuls in ``dtype``
    into ``bb`` (``x`` and ``spectrum`` float32; the result is float32)."""
    xshape = tuple(int(d) for d in x.ty.shape)
    kshape = tuple(int(d) for d in spectrum.ty.shape)
    arrays = plan_tables(plan, dtype)
    consts = [relax.const(array, str(array.dtype)) for array in arrays.values()]

    def kernel(data: te.Tensor, spec: te.Tensor, *tables: te.Tensor) -> te.Tensor:
        named = dict(zip(arrays, tables, strict=True))
        return monarch_fft_conv_compute(data, spec, named, xshape, kshape, plan, out_length,
                                        stride, dtype)  # fmt: skip

    y = bb.emit_te(kernel, x, spectrum, *consts, primfunc_name_hint=f"monarch_conv{plan.n}")
    return with_op_pattern(bb, y, OUT_EWISE_FUSABLE)


def monarch_fft_conv_compute(
    data: te.Tensor,
    spec: te.Tensor,
    tables: dict[str, te.Tensor],
    xshape: tuple[int, ...],
    kshape: tuple[int, ...],
    plan: MonarchPlan | OuterPlan,
    out_length: int,
    stride: int,
    dtype: str,
) -> te.Tensor:
    """The TE compute of :func:`emit_monarch_fft_conv` (see module doc)."""
    rows_shape = xshape[:-1]
    rows = math.prod(rows_shape)
    size, n, half = xshape[-1], plan.n, plan.n // 2

    def row_index(r: Any) -> tuple[Any, ...]:
        return tuple(unravel(r, rows_shape)) if rows_shape else ()

    def load(r: Any, i: Any) -> Any:
        value = data[(*row_index(r), tirx.min(i, size - 1) if size < n else i)]
        if size < n:
            value = tirx.Select(i < size, value, tirx.const(0.0, data.dtype))
        return value.astype(dtype)

    def bin_at(r: Any, k: Any) -> tuple[Any, Any]:
        kidx = spectrum_rows(row_index(r), kshape[:-2])
        bin_ = tirx.min(k, n - k)  # k > N/2: the conjugate of bin N - k
        re = spec[(*kidx, bin_, 0)].astype("float32")
        im = spec[(*kidx, bin_, 1)].astype("float32")
        return re, tirx.Select(k > half, -im, im)

    point_at = conv_stages(load, bin_at, tables, rows, plan, dtype)

    def body(*index: Any) -> Any:
        r = index[0] if len(rows_shape) == 1 else ravel(index[:-1], rows_shape)
        return point_at(r, index[-1] * stride).astype(data.dtype)

    attrs = {KERNEL_ATTR: STAGE_TAG}
    return te.compute((*rows_shape, out_length), body, name="monarch_out", attrs=attrs)


def plan_tables(plan: MonarchPlan | OuterPlan, dtype: str) -> dict[str, np.ndarray]:
    """The plan's constant tables by name, in the kernel's argument order."""
    if isinstance(plan, OuterPlan):
        return outer_table_arrays(plan, dtype)
    return table_arrays(plan, dtype)


def conv_stages(
    load: SignalLoad,
    bin_at: BinAt,
    tables: dict[str, te.Tensor],
    rows: int,
    plan: MonarchPlan | OuterPlan,
    dtype: str,
) -> PointAt:
    """The plan's stages (nine, or thirteen with the outer stage) up to the circular
    convolution; returns the reader of its point ``i`` of row ``r`` (float32)."""
    if isinstance(plan, OuterPlan):
        return outer_stages(load, bin_at, tables, rows, plan, dtype)
    n1, n2 = plan.n1, plan.n2

    def spectrum_at(r: Any, k1: Any, k2: Any) -> tuple[Any, Any]:
        return bin_at(r, k1 + n1 * k2)

    y = monarch_stages(load, spectrum_at, tables, rows, plan, dtype)
    return lambda r, i: y[r, i // n2, i % n2]
