"""An outer DFT stage around the Monarch FFT, for ``fft_conv`` lengths N > 4096.

The two-factor kernel (:mod:`.monarch`) stages one row's operands in a thread
block's shared memory, which caps it at N = 4096.  For longer lengths, as in
FlashFFTConv, ``N = n0 * M`` with ``M = n1 * n2 <= 4096`` done by the existing
machinery and an outer factor ``n0`` (a multiple of the 16-wide tensor-core
tile, at most 64).  With ``n = M*j + m`` and ``k = k0 + n0*km`` (Cooley-Tukey):

    FFT:  A[k0, m]  = sum_j F_n0[k0, j] x[M*j + m]        outer DFT over the stride-M view
          Z[k0, m]  = A[k0, m] * w_N^(k0*m)                 twiddles, N-point roots
          X[k0 + n0*km] = FFT_M(Z[k0, :])[km]               n0 inner Monarch FFTs of length M
    IFFT: Q[k0, m]  = IFFT_M(P[k0, :])[m] * conj(w_N^(k0*m))  P = X * K / M, inner complex output
          y[M*j + m] = Re(sum_k0 conj(F_n0)[j, k0] Q[k0, m]) / n0

so the inner Monarch FFT runs per (row, k0) with its own stages (``c2``, the
spectrum product at bin ``k0 + n0*(k1 + n1*k2)``, ``c3``), except that its first
and last matmuls take and give complex values (``[Re; Im]`` block matrices,
2 n1 x 2 n1).  The outer matmuls ``a0`` (forward) and ``y0`` (inverse) process
a row's M columns in chunks of ``width`` columns, one thread block each, so
their operands fit in shared memory too.  Thirteen stages, each a TE compute
tagged ``monarch.matmul`` or ``monarch.stage`` as the two-factor ones:

    x0 -> a0 -> t0 -> c1 -> t1 -> c2 -> p -> c3 -> t3 -> c4 -> t4 -> y0 -> (output)

Layouts (``B = row*n0 + k0`` the inner batch, ``S = row*chunks + c`` the outer one):
``x0[S, j, w] = x[row, M*j + c*width + w]``, ``a0/t4[S, part*n0 + k0, w]``,
``t0/c1/t3/c4[B, part*n1 + a, b]`` with ``m = n2*a + b = c*width + w``, and
``y0[S, j, w] = y[row, M*j + c*width + w]``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from fftc.codegen.tvm_api import te, tirx
from fftc.errors import UsageError
from fftc.schedules.base import KERNEL_ATTR

from .limits import TILE, matmul_refusal, shared_bytes, stages_both, tile_limits
from .monarch import (
    MATMUL_TAG,
    MAX_N,
    STAGE_TAG,
    MonarchPlan,
    dft_matrix,
    fitting_plan,
    forward_from_c1,
    inverse_to_t3,
    left_block,
    monarch_factors,
    monarch_tables,
    numpy_dtype,
    spectrum_product,
)

#: the largest outer factor: up to 64 the outer matmuls stage both operands of a chunk
#: in shared memory (24 and 32 KiB at 64); beyond, their DFT matrix (2 n0 x n0, 64 KiB
#: at 128) is read from global memory and only the chunk is staged; at 256 the forward
#: matmul has 2 x 256 / 16 = 32 output tiles per 16-column chunk, one warp each (the
#: staged WMMA schedule's limit)
MAX_N0 = 256
#: the longest N with one outer stage
MAX_OUTER_N = MAX_N0 * MAX_N
#: the widest column chunk of the outer matmuls (2 n0 / 16 x width / 16 warps <= 32)
MAX_WIDTH = 256
#: the outer matmuls, whose DFT matrix the staged schedule reads from global memory when
#: both operands do not fit in shared memory (``tensorcore.schedule_matmul``)
GLOBAL_CONSTANTS = frozenset({"a0", "y0"})

#: ``bin_at(row, k)``: (re, im) of the full spectrum's bin ``k`` for ``row``, float32
BinAt = Callable[[Any, Any], tuple[Any, Any]]
#: ``point_at(row, i)``: point ``i`` of the convolution's output row, float32
PointAt = Callable[[Any, Any], Any]
#: ``load(row, i)``: point ``i`` of a row of the signal, in the compute dtype
SignalLoad = Callable[[Any, Any], Any]

_MATMUL = {KERNEL_ATTR: MATMUL_TAG}
_STAGE = {KERNEL_ATTR: STAGE_TAG}


@dataclass(frozen=True)
class OuterPlan:
    """``n = n0 * inner.n``: an outer ``n0``-point DFT around the ``inner`` Monarch FFT;
    the outer matmuls take ``width`` of the inner length's columns per thread block."""

    n: int
    n0: int
    inner: MonarchPlan
    width: int

    #: kernels of one convolution: six DFT matmuls and seven elementwise stages
    stage_count = 13

    @property
    def m(self) -> int:
        """The inner length (``n1 * n2``)."""
        return self.inner.n

    @property
    def chunks(self) -> int:
        """Column chunks of the outer matmuls per row."""
        return self.inner.n // self.width

    def describe(self) -> str:
        n1, n2 = self.inner.n1, self.inner.n2
        return (
            f"N={self.n} = {self.n0} x {n1} x {n2} (an outer {self.n0}-point DFT-matmul "
            f"stage around the {self.m}-point two-stage Monarch FFT, per direction)"
        )


def chunk_width(n0: int, m: int) -> int:
    """The widest column chunk (a multiple of 16 dividing ``m``) whose outer matmuls
    stay within the WMMA schedule's warps and shared memory per thread block."""
    widths = [w for w in range(TILE, min(m, MAX_WIDTH) + 1, TILE) if m % w == 0]
    fitting = [w for w in widths if not any(tile_limits(s, False) for s in _outer_shapes(n0, w))]
    return max(fitting) if fitting else TILE


def _outer_shapes(n0: int, width: int) -> tuple[tuple[int, int, int], ...]:
    """``(m, k, n)`` of the forward and inverse outer matmuls on one chunk."""
    return (2 * n0, n0, width), (n0, 2 * n0, width)


def matmul_shapes(plan: OuterPlan) -> dict[str, tuple[int, int, int]]:
    """``(m, k, n)`` of each DFT matmul stage per thread block (``C = A @ B``)."""
    n1, n2 = plan.inner.n1, plan.inner.n2
    forward, inverse = _outer_shapes(plan.n0, plan.width)
    return {
        "a0": forward,
        "c1": (2 * n1, 2 * n1, n2),
        "c2": (n1, 2 * n2, 2 * n2),
        "c3": (n1, 2 * n2, 2 * n2),
        "c4": (2 * n1, 2 * n1, n2),
        "y0": inverse,
    }


def stage_shared_bytes(plan: OuterPlan) -> dict[str, int]:
    """Shared memory per thread block of each matmul stage in fp16/bf16."""
    shapes = matmul_shapes(plan)
    return {
        name: shared_bytes(shape, name not in GLOBAL_CONSTANTS or stages_both(shape))
        for name, shape in shapes.items()
    }


def outer_tensor_core_refusal(plan: OuterPlan, dtype: str) -> str | None:
    """Why the WMMA schedule cannot take ``plan`` in ``dtype``, or None (fp32: CUDA cores)."""
    text = f"{plan.n} ({plan.n0} x {plan.inner.n1} x {plan.inner.n2})"
    return matmul_refusal(matmul_shapes(plan), text, dtype, GLOBAL_CONSTANTS)


def outer_factors(n: int, dtype: str | None = None) -> OuterPlan:
    """The plan with the smallest outer factor ``n0`` (a multiple of 16, <= 256) such that
    ``n / n0 <= 4096`` has a Monarch split; with ``dtype``, the first that also fits the
    tensor-core schedule.  The smallest ``n0`` keeps the outer DFT (n0 terms per point)
    cheap and leaves the work to the inner stages."""
    if n > MAX_OUTER_N:
        raise UsageError(
            f"Monarch FFT length {n}: the outer stage handles N <= {MAX_N0} x {MAX_N} = "
            f"{MAX_OUTER_N} (its DFT matrix and a chunk of the row in shared memory); "
            "longer lengths need a second outer stage, which fftc does not have"
        )
    refusal = None
    for n0 in range(TILE, MAX_N0 + 1, TILE):
        if n % n0 or n // n0 > MAX_N:
            continue
        try:
            inner = monarch_factors(n // n0)
        except UsageError:
            continue
        plan = OuterPlan(n, n0, inner, chunk_width(n0, inner.n))
        why = None if dtype is None else outer_tensor_core_refusal(plan, dtype)
        if why is None:
            return plan
        refusal = refusal or why
    raise UsageError(
        refusal
        or f"Monarch FFT length {n}: needs N = n0 x n1 x n2 with n0, n1, n2 multiples of "
        f"{TILE}, n0 <= {MAX_N0} and n1 x n2 <= {MAX_N} (e.g. 8192 = 16 x 16 x 32, "
        "65536 = 16 x 64 x 64)"
    )


def fft_conv_plan(n: int, dtype: str) -> MonarchPlan | OuterPlan:
    """The Monarch plan of an ``fft_conv`` of length ``n`` in ``dtype``: two factors up
    to 4096, an outer stage beyond; raises UsageError saying why none fits."""
    if n > MAX_N:
        return outer_factors(n, dtype)
    return fitting_plan(monarch_factors(n), dtype)


# -- the constant tables ----------------------------------------------------------------------


def outer_tables(plan: OuterPlan) -> dict[str, np.ndarray]:
    """The stage matrices and twiddles, float64, in the kernel's argument order."""
    inner = monarch_tables(plan.inner)
    f0 = dft_matrix(plan.n0)
    g0 = dft_matrix(plan.n0, True) / plan.n0  # the outer inverse with its 1/n0
    k0 = np.arange(plan.n0)[:, None]
    m = np.arange(plan.m)[None, :]
    twiddle0 = np.exp(-2j * np.pi * k0 * m / plan.n)
    return {
        "f0": np.concatenate([f0.real, f0.imag], axis=0),  # A = [Re; Im] of F0 @ x
        "twiddle0": np.stack([twiddle0.real, twiddle0.imag]),
        "f1c": left_block(dft_matrix(plan.inner.n1)),
        "g2": inner["g2"],
        "h2": inner["h2"],
        "l4c": left_block(dft_matrix(plan.inner.n1, True)),
        "twiddle": inner["twiddle"],
        "l0": np.concatenate([g0.real, -g0.imag], axis=1),  # y = Re(G0 @ Q)
    }


def outer_table_arrays(plan: OuterPlan, dtype: str) -> dict[str, np.ndarray]:
    """The tables in the dtypes of the kernel's placeholders (the DFT matrices in
    ``dtype``, the twiddles float32), in argument order."""
    np_dtype = numpy_dtype(dtype)
    return {
        name: table.astype(np.float32 if name.startswith("twiddle") else np_dtype)
        for name, table in outer_tables(plan).items()
    }


# -- the NumPy model --------------------------------------------------------------------------


def reference_outer_conv(u: np.ndarray, spectrum: np.ndarray, plan: OuterPlan) -> np.ndarray:
    """The circular convolution of each row of ``u`` (rows, N) with the full spectrum
    ``spectrum[row % heads]`` (heads, N) through exactly the stages above, in float64
    with complex matrices (the decomposition is exact: equals ``np.fft`` to rounding)."""
    n0, m, n1, n2 = plan.n0, plan.m, plan.inner.n1, plan.inner.n2
    rows, heads = u.shape[0], spectrum.shape[0]
    tw0 = np.exp(-2j * np.pi * np.arange(n0)[:, None] * np.arange(m)[None, :] / plan.n)
    tw = np.exp(-2j * np.pi * np.arange(n1)[:, None] * np.arange(n2)[None, :] / m)
    f0, f1, f2 = dft_matrix(n0), dft_matrix(n1), dft_matrix(n2)
    z = (f0 @ u.astype(np.float64).reshape(rows, n0, m)) * tw0  # [row, k0, m]
    c2 = (f1 @ z.reshape(rows, n0, n1, n2)) * tw @ f2  # [row, k0, k1, k2]
    kp = spectrum.reshape(heads, n2, n1, n0).transpose(0, 3, 2, 1)  # K[k0 + n0 (k1 + n1 k2)]
    p = c2 * kp[np.arange(rows) % heads] / m
    q = (f1.conj() @ ((p @ f2.conj()) * tw.conj())).reshape(rows, n0, m) * tw0.conj()
    return (f0.conj() @ q / n0).real.reshape(rows, plan.n)


# -- the TE compute ---------------------------------------------------------------------------


def _left_matmul(a: te.Tensor, b: te.Tensor, name: str) -> te.Tensor:
    """``C[s, i, j] = sum_k A[i, k] * B[s, k, j]`` accumulated in float32 (A a constant
    matrix, B per thread block), a ``monarch.matmul`` stage."""
    f32 = "float32"
    k = te.reduce_axis((0, int(a.shape[1])), name=f"k_{name}")
    return te.compute(
        (int(b.shape[0]), int(a.shape[0]), int(b.shape[2])),
        lambda s, i, j: te.sum(a[i, k].astype(f32) * b[s, k, j].astype(f32), axis=k),
        name=name,
        attrs=_MATMUL,
    )


def _twiddle(re: Any, im: Any, wr: Any, wi: Any, part: Any, dtype: str) -> Any:
    """Part ``part`` (0: Re, 1: Im) of ``(re + i im) * (wr + i wi)``, in ``dtype``."""
    value = tirx.Select(part == 0, re * wr - im * wi, re * wi + im * wr)
    return value.astype(dtype)


def outer_stages(
    load: SignalLoad,
    bin_at: BinAt,
    tables: dict[str, te.Tensor],
    rows: int,
    plan: OuterPlan,
    dtype: str,
) -> PointAt:
    """The convolution's thirteen stages up to ``y0`` (see module doc); returns the
    reader of output point ``i`` of row ``r`` (float32).  ``tables``: placeholders named
    as :func:`outer_tables`' keys (matrices in ``dtype``, twiddles float32)."""
    n0, m, width, chunks = plan.n0, plan.m, plan.width, plan.chunks
    inner = plan.inner
    n1, n2 = inner.n1, inner.n2
    tw0 = tables["twiddle0"]

    def loaded(s: Any, j: Any, w: Any) -> Any:
        return load(s // chunks, m * j + (s % chunks) * width + w)

    x0 = te.compute((rows * chunks, n0, width), loaded, name="x0", attrs=_STAGE)
    a0 = _left_matmul(tables["f0"], x0, "a0")

    def twiddled_in(b_: Any, q: Any, b: Any) -> Any:
        k0, mm = b_ % n0, n2 * (q % n1) + b
        s, w = (b_ // n0) * chunks + mm // width, mm % width
        re, im = a0[s, k0, w], a0[s, n0 + k0, w]
        return _twiddle(re, im, tw0[0, k0, mm], tw0[1, k0, mm], q // n1, dtype)

    t0 = te.compute((rows * n0, 2 * n1, n2), twiddled_in, name="t0", attrs=_STAGE)
    c1 = _left_matmul(tables["f1c"], t0, "c1")
    c2 = forward_from_c1(c1, tables["g2"], tables["twiddle"], rows * n0, inner, dtype)

    def spectrum_at(b_: Any, k1: Any, k2: Any) -> tuple[Any, Any]:
        return bin_at(b_ // n0, b_ % n0 + n0 * (k1 + n1 * k2))

    p = spectrum_product(c2, spectrum_at, rows * n0, inner, dtype)
    t3 = inverse_to_t3(p, tables["h2"], tables["twiddle"], rows * n0, inner, dtype)
    c4 = _left_matmul(tables["l4c"], t3, "c4")

    def twiddled_out(s: Any, q: Any, w: Any) -> Any:
        k0, mm = q % n0, (s % chunks) * width + w
        b_, a, b = (s // chunks) * n0 + k0, mm // n2, mm % n2
        re, im = c4[b_, a, b], c4[b_, n1 + a, b]
        return _twiddle(re, im, tw0[0, k0, mm], -tw0[1, k0, mm], q // n0, dtype)

    t4 = te.compute((rows * chunks, 2 * n0, width), twiddled_out, name="t4", attrs=_STAGE)
    y0 = _left_matmul(tables["l0"], t4, "y0")

    def point_at(r: Any, i: Any) -> Any:
        return y0[r * chunks + (i % m) // width, i // m, i % width]

    return point_at
