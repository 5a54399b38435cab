"""The graph op ``fft_conv2d`` on the Monarch kernel's stages (tensor cores on CUDA).

A 2-D DFT of an ``NH x NW`` image is the Monarch decomposition of length
``N = NH * NW`` with ``n1 = NH``, ``n2 = NW`` and no twiddles: with the image as
the ``n1 x n2`` matrix ``X[a, b] = x[h=a, w=b]``,

    FFT2(x)[k1, k2] = (F_NH @ X @ F_NW)[k1, k2]

which is exactly the two-factor kernel's ``C2 = (F_n1 @ X) * W @ F_n2`` with
``W = 1`` (``fftc.kernels.cuda.monarch``), and the inverse likewise; the product
stage's ``1/N`` is the 2-D inverse's ``1/(NH*NW)``.  So ``fft_conv2d`` reuses the
same nine TE stages (``x1, c1, t1, c2, p, c3, t3, c4`` and the output), the same
WMMA / fused schedules and the same tables with the twiddles set to one:

* the input read zero padded (``x`` is ``(..., H, W, ...)`` with ``H <= NH``,
  ``W <= NW``; rows are every other axis, as in :mod:`fftc.kernels.fft_conv2d`);
* the full spectrum from the one-sided one (``NH x (NW/2 + 1)``) by Hermitian
  symmetry: ``K[k1, k2] = conj(K[-k1 mod NH, NW - k2])`` for ``k2 > NW/2``;
* the output ``out[..., oh, ow, ...] = y[oh * sh, ow * sw]`` in float32; Relax
  fuses the graph's epilogue (bias, residual, activation) into it.

Fits when ``NH`` and ``NW`` are multiples of the 16-wide tile and ``NH * NW <=
4096`` (one image per thread block, as the 1-D kernel's rows); other lengths keep
the generic 2-D FFT convolution kernel (the ``monarch-length`` pass widens a
linear convolution's lengths to multiples of 16 first).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fftc.codegen.tvm_api import relax, te, tirx
from fftc.errors import UsageError
from fftc.schedules.base import KERNEL_ATTR

from ..fft import with_op_pattern
from ..fft_conv import OUT_EWISE_FUSABLE
from ..fft_conv2d import Geometry
from .fused import POINT_AXES_ATTR
from .limits import TILE
from .monarch import MAX_N, STAGE_TAG, MonarchPlan, fitting_plan, monarch_stages, table_arrays


def image_plan(lengths: tuple[int, int], dtype: str) -> MonarchPlan:
    """The Monarch plan of an ``NH x NW`` 2-D FFT convolution in ``dtype``; raises
    UsageError saying why the kernel cannot take it."""
    nh, nw = lengths
    if nh % TILE or nw % TILE:
        raise UsageError(
            f"2-D Monarch FFT {nh}x{nw}: both lengths must be multiples of {TILE} "
            "(the tensor-core tile)"
        )
    if nh * nw > MAX_N:
        raise UsageError(
            f"2-D Monarch FFT {nh}x{nw}: {nh * nw} points, over the {MAX_N} one image "
            "may have in a thread block's shared memory"
        )
    return fitting_plan(MonarchPlan(nh * nw, nh, nw), dtype)


def image_tables(plan: MonarchPlan, dtype: str) -> dict[str, np.ndarray]:
    """The two-factor kernel's tables with the twiddles set to one (a 2-D DFT)."""
    tables = table_arrays(plan, dtype)
    ones = np.zeros_like(tables["twiddle"])
    ones[0] = 1.0
    return {**tables, "twiddle": ones}


def emit_monarch_fft_conv2d(
    bb: relax.BlockBuilder,
    x: relax.Expr,
    spectrum: relax.Expr,
    *,
    plan: MonarchPlan,
    out_shape: tuple[int, int],
    strides: tuple[int, int],
    axis: int,
    dtype: str,
) -> relax.Expr:
    """Emit ``fft_conv2d(x, spectrum)`` (lengths ``plan.n1 x plan.n2``) with matmuls in
    ``dtype`` into ``bb`` (``x`` and ``spectrum`` float32; the result is float32)."""
    xshape = tuple(int(d) for d in x.ty.shape)
    kshape = tuple(int(d) for d in spectrum.ty.shape)
    geometry = Geometry(xshape, kshape, axis, (plan.n1, plan.n2), out_shape, strides)
    arrays = image_tables(plan, dtype)
    consts = [relax.const(array, str(array.dtype)) for array in arrays.values()]

    def kernel(data: te.Tensor, spec: te.Tensor, *tables: te.Tensor) -> te.Tensor:
        named = dict(zip(arrays, tables, strict=True))
        return monarch_fft_conv2d_compute(data, spec, named, geometry, plan, dtype)

    name = f"monarch_conv2d_{plan.n1}x{plan.n2}"
    y = bb.emit_te(kernel, x, spectrum, *consts, primfunc_name_hint=name)
    return with_op_pattern(bb, y, OUT_EWISE_FUSABLE)


def monarch_fft_conv2d_compute(
    data: te.Tensor,
    spec: te.Tensor,
    tables: dict[str, te.Tensor],
    g: Geometry,
    plan: MonarchPlan,
    dtype: str,
) -> te.Tensor:
    """The TE compute of :func:`emit_monarch_fft_conv2d` (see module doc)."""
    nh, nw = plan.n1, plan.n2
    height, width = g.height, g.width

    def load(r: Any, i: Any) -> Any:
        h, w = i // nw, i % nw
        inside = tirx.all(h < height, w < width)
        value = data[g.x_index(r, tirx.min(h, height - 1), tirx.min(w, width - 1))]
        return tirx.Select(inside, value, tirx.const(0.0, data.dtype)).astype(dtype)

    def spectrum_at(r: Any, k1: Any, k2: Any) -> tuple[Any, Any]:
        upper = k2 > nw // 2  # the conjugate of bin (-k1, NW - k2)
        row = tirx.Select(upper, (nh - k1) % nh, k1)
        col = tirx.Select(upper, nw - k2, k2)
        re = spec[(*g.spectrum_index(r, row, col), 0)].astype("float32")
        im = spec[(*g.spectrum_index(r, row, col), 1)].astype("float32")
        return re, tirx.Select(upper, -im, im)

    y = monarch_stages(load, spectrum_at, tables, g.rows, plan, dtype)
    (oh, ow), (sh, sw) = g.out_shape, g.strides
    first = g.first

    def body(*index: Any) -> Any:
        r = g.row_of_output(index) if g.row_dims else 0
        return y[r, index[first] * sh, index[first + 1] * sw].astype(data.dtype)

    shape = (*g.outer, oh, ow, *g.inner)
    attrs = {KERNEL_ATTR: STAGE_TAG, POINT_AXES_ATTR: [first, first + 1]}  # fused row view
    return te.compute(shape, body, name="monarch_out", attrs=attrs)
