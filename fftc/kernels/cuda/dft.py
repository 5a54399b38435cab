"""The graph op ``dft`` on the Monarch kernel's forward stages (tensor cores on CUDA).

A DFT of length ``N = n1 x n2`` (both multiples of the 16-wide tile, ``N <= 4096``)
along any axis is the first half of the Monarch convolution (:mod:`.monarch`):

    X[k1 + n1*k2] = ((F_n1 @ x) * W @ F_n2)[k1, k2]      x[a, b] = x[n2*a + b]

as stages ``x1`` (the signal's ``n1 x n2`` view, in the compute dtype), ``c1`` (the
first DFT matmul: the real ``[Re F; Im F]`` for a real signal, the ``[Re; Im]``
block matrix for a complex one, as the outer plan's ``c1``), ``t1`` (twiddles),
``c2`` (the second DFT matmul) and the output, which reads bin ``k`` at
``c2[row, k % n1, part*n2 + k // n1]`` and applies the norm's scale.  The inverse
uses the conjugate matrices and twiddles; a one-sided forward transform (rfft)
keeps bins ``0 .. N/2``; a one-sided inverse (irfft) reads its half spectrum with
Hermitian symmetry (``X[k] = conj(X[N - k])`` for ``k > N/2``) and keeps the real
part.  Rows are every other axis (the channel axis last).  Spectral mixers (FNet's
``Re(FFT2(x))``, FNO/AFNO's transforms) so run their DFTs as tensor-core matmuls;
the stages are tagged as the Monarch kernel's and fused into one kernel by its
schedule (one thread block per row; one kernel per stage when that is refused).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from fftc.codegen.tvm_api import relax, te, tirx
from fftc.ir.ops.dft import DFTAttrs
from fftc.schedules.base import KERNEL_ATTR

from ..fft import with_op_pattern
from ..fft.layout import ravel, unravel
from ..fft_conv import OUT_EWISE_FUSABLE
from .fused import POINT_AXES_ATTR
from .monarch import (
    MATMUL_TAG,
    STAGE_TAG,
    MonarchPlan,
    dft_matrix,
    fitting_plan,
    forward_from_c1,
    left_block,
    monarch_factors,
    numpy_dtype,
    right_block,
    twiddle_table,
)

_MATMUL = {KERNEL_ATTR: MATMUL_TAG}
_STAGE = {KERNEL_ATTR: STAGE_TAG}


def dft_plan(a: DFTAttrs, dtype: str) -> MonarchPlan:
    """The two-factor Monarch plan of ``a``'s length in ``dtype``; raises UsageError
    saying why the kernel cannot take it."""
    return fitting_plan(monarch_factors(a.length), dtype)


def dft_tables(plan: MonarchPlan, inverse: bool, complex_input: bool, dtype: str) -> dict[str, Any]:
    """The first matrix (real ``2 n1 x n1`` or complex-block ``2 n1 x 2 n1``), the right
    block matrix of ``F_n2`` and the twiddles, for the transform's direction."""
    f1, f2 = dft_matrix(plan.n1, inverse), dft_matrix(plan.n2, inverse)
    first = left_block(f1) if complex_input else np.concatenate([f1.real, f1.imag], axis=0)
    np_dtype = numpy_dtype(dtype)
    return {
        "f1": first.astype(np_dtype),
        "g2": right_block(f2).astype(np_dtype),
        "twiddle": twiddle_table(plan, inverse).astype(np.float32),
    }


def _scale(a: DFTAttrs) -> float:
    if a.norm == "ortho":
        return 1.0 / math.sqrt(a.length)
    scaled = "backward" if a.inverse else "forward"
    return 1.0 / a.length if a.norm == scaled else 1.0


def emit_monarch_dft(bb: relax.BlockBuilder, x: relax.Expr, a: DFTAttrs, plan: MonarchPlan,
                     dtype: str) -> relax.Expr:  # fmt: skip
    """Emit ``dft(x)`` (``x`` float32 ``(..., c)``, c = 1 real or 2 complex) with matmuls
    in ``dtype`` into ``bb``; the result is float32."""
    xshape = tuple(int(d) for d in x.ty.shape)
    complex_input = xshape[-1] == 2
    arrays = dft_tables(plan, a.inverse, complex_input, dtype)
    consts = [relax.const(array, str(array.dtype)) for array in arrays.values()]

    def kernel(data: te.Tensor, f1: te.Tensor, g2: te.Tensor, tw: te.Tensor) -> te.Tensor:
        return monarch_dft_compute(data, f1, g2, tw, xshape, a, plan, dtype)

    name = f"monarch_dft{plan.n}"
    y = bb.emit_te(kernel, x, *consts, primfunc_name_hint=name)
    return with_op_pattern(bb, y, OUT_EWISE_FUSABLE)


def monarch_dft_compute(
    data: te.Tensor,
    f1: te.Tensor,
    g2: te.Tensor,
    tw: te.Tensor,
    xshape: tuple[int, ...],
    a: DFTAttrs,
    plan: MonarchPlan,
    dtype: str,
) -> te.Tensor:
    """The TE compute of :func:`emit_monarch_dft` (see module doc)."""
    n, n1, n2, axis = plan.n, plan.n1, plan.n2, a.axis
    row_dims = (*xshape[:axis], *xshape[axis + 1 : -1])
    rows = math.prod(row_dims)
    complex_input = xshape[-1] == 2
    hermitian = a.inverse and a.onesided  # irfft: the half spectrum's other half mirrored

    def point(r: Any, i: Any, part: int) -> Any:
        digits = unravel(r, row_dims) if row_dims else []
        if hermitian:
            upper = i > n // 2
            value = data[(*digits[:axis], tirx.Select(upper, n - i, i), *digits[axis:], part)]
            return tirx.Select(upper, -value, value) if part == 1 else value
        return data[(*digits[:axis], i, *digits[axis:], part)]

    if complex_input:

        def loaded(r: Any, q: Any, b: Any) -> Any:
            i = n2 * (q % n1) + b
            return tirx.Select(q < n1, point(r, i, 0), point(r, i, 1)).astype(dtype)

        x1 = te.compute((rows, 2 * n1, n2), loaded, name="x1", attrs=_STAGE)
    else:
        x1 = te.compute(
            (rows, n1, n2), lambda r, p, b: point(r, n2 * p + b, 0).astype(dtype), name="x1",
            attrs=_STAGE,
        )  # fmt: skip
    f32 = "float32"
    kk = te.reduce_axis((0, int(f1.shape[1])), name="kk")
    c1 = te.compute(
        (rows, 2 * n1, n2),
        lambda r, m, b: te.sum(f1[m, kk].astype(f32) * x1[r, kk, b].astype(f32), axis=kk),
        name="c1",
        attrs=_MATMUL,
    )
    c2 = forward_from_c1(c1, g2, tw, rows, plan, dtype)
    scale = _scale(a)
    out_extent = n // 2 + 1 if a.onesided and not a.inverse else n
    channels = 1 if hermitian else 2

    def body(*index: Any) -> Any:
        k, part = index[axis], index[-1]
        r = ravel((*index[:axis], *index[axis + 1 : -1]), row_dims) if row_dims else 0
        value = c2[r, k % n1, part * n2 + k // n1]
        return (value * scale).astype(data.dtype)

    shape = (*xshape[:axis], out_extent, *xshape[axis + 1 : -1], channels)
    attrs = {**_STAGE, POINT_AXES_ATTR: [axis, len(shape) - 1]}  # the fused row view
    return te.compute(shape, body, name="monarch_dft_out", attrs=attrs)
