"""A batched Monarch FFT convolution for CUDA tensor cores (FlashFFTConv's core).

For every row ``r`` of ``u`` (``rows = B*H``, head ``h = r % heads``) and
``N = n1 * n2``:

    y[r]   = Re(IFFT_N(FFT_N(u[r]) * K[h]))           (circular, length N)
    out[r] = (y[r] + D[h] * u[r]) * gate[r]

The length-N DFT is done as two stages of dense DFT matmuls (the Monarch
factorization; index ``n = n2*a + b``, spectrum index ``k = k1 + n1*k2``):

    FFT:  C1 = F_n1 @ X          X[a, b] = u[n2*a + b]          (n1 x n2)
          T1 = C1 * W            W[k1, b] = exp(-2 pi i k1 b / N) (twiddles)
          C2 = T1 @ F_n2         C2[k1, k2] = FFT(u)[k1 + n1*k2]
          P  = C2 * Kp / N       Kp[h, k1, k2] = K[h, k1 + n1*k2]  (spectrum, permuted)
    IFFT: C3 = P @ conj(F_n2)
          T3 = C3 * conj(W)
          Y  = Re(conj(F_n1) @ T3) y[n2*a + b] = Y[a, b]

Complex matmuls are real matmuls on ``[Re, Im]`` blocks (a complex ``m x k``
by ``k x n`` product is a real ``m x 2k`` by ``2k x 2n`` one), so every stage
is a batched real matmul ``C[r, i, j] = sum_k A[i, k] * B[r, k, j]`` (or with
the constant on the right) on operands of the compute dtype, accumulated in
float32: for fp16 these are tensorized with TVM's WMMA intrinsics
(``wmma.mma_sync``, 16x16x16 tiles, one warp per output tile, one thread
block per row; operands staged in shared memory); bf16 uses WMMA intrinsics
registered here with the same generators; fp32 runs on CUDA cores.  The
twiddle, spectrum product and epilogue are elementwise stages in float32,
rounded to the compute dtype where they feed a matmul.

On CUDA the stages run as one kernel, every intermediate in shared memory
(:mod:`.fused`), or, staged, one kernel per stage exchanging rows through
global memory (see docs/architecture.md, "CUDA").  :func:`reference_stages` is a NumPy
model of exactly this decomposition, with the same roundings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from fftc.codegen.tvm_api import ir, te, tirx
from fftc.errors import UsageError
from fftc.schedules.base import KERNEL_ATTR

from .limits import TILE, matmul_refusal

#: dtypes the kernel computes its matmuls in
DTYPES = ("float16", "bfloat16", "float32")
#: threads per block of the elementwise stages
ELEMENTWISE_THREADS = 256
#: ``fftc.kernel`` tags of the stages: the DFT matmuls, the elementwise stages (the CUDA
#: templates in ``schedules/cuda/monarch.py`` schedule them when the kernel is in a model)
MATMUL_TAG = "monarch.matmul"
STAGE_TAG = "monarch.stage"
_MATMUL = {KERNEL_ATTR: MATMUL_TAG}
_STAGE = {KERNEL_ATTR: STAGE_TAG}

#: ``load(r, i)``: point ``i`` of row ``r`` of the signal, in the compute dtype
SignalLoad = Callable[[Any, Any], Any]
#: ``spectrum_at(r, k1, k2)``: (re, im) of ``K[k1 + n1*k2]`` for row ``r``, float32
SpectrumAt = Callable[[Any, Any, Any], tuple[Any, Any]]


@dataclass(frozen=True)
class MonarchPlan:
    """``n = n1 * n2``; both factors multiples of the 16-wide tensor-core tile."""

    n: int
    n1: int
    n2: int

    #: stages of one convolution: four DFT matmuls and five elementwise stages
    stage_count = 9

    def describe(self) -> str:
        return f"N={self.n} = {self.n1} x {self.n2} (two DFT-matmul stages per direction)"


#: the longest N one row's stages handle: every matmul stages its operands of one row in
#: static shared memory (48 KiB; at N = 4096 = 64 x 64 the middle stages use exactly that)
MAX_N = 4096


def monarch_factors(n: int) -> MonarchPlan:
    """The most square ``n1 x n2`` split of ``n`` with both factors multiples of 16."""
    if n > MAX_N:
        raise UsageError(
            f"Monarch FFT length {n}: this kernel handles N <= {MAX_N} (one row's "
            "operands in a thread block's shared memory); longer lengths take the outer "
            "DFT stage around it (fftc.kernels.cuda.outer, used by fft_conv)"
        )
    best: tuple[int, int] | None = None
    for n1 in range(TILE, n // TILE + 1, TILE):
        if n % n1 == 0 and (n // n1) % TILE == 0 and n1 <= n // n1:
            best = (n1, n // n1)
    if best is None:
        raise UsageError(
            f"Monarch FFT length {n}: needs N = n1 * n2 with n1, n2 multiples of {TILE} "
            "(e.g. 256 = 16 x 16, 1024 = 32 x 32, 4096 = 64 x 64)"
        )
    return MonarchPlan(n, best[0], best[1])


def matmul_shapes(plan: MonarchPlan) -> dict[str, tuple[int, int, int]]:
    """``(m, k, n)`` of each per-row DFT matmul stage (``C = A @ B``, A m x k)."""
    n1, n2 = plan.n1, plan.n2
    return {
        "c1": (2 * n1, n1, n2),
        "c2": (n1, 2 * n2, 2 * n2),
        "c3": (n1, 2 * n2, 2 * n2),
        "c4": (n1, 2 * n1, n2),
    }


def tensor_core_refusal(plan: MonarchPlan, dtype: str) -> str | None:
    """Why the WMMA schedule cannot take ``plan`` in ``dtype``, or None.  Each matmul
    stages both operands of a row in shared memory and runs one warp per 16x16 output
    tile (fp32 matmuls run on CUDA cores: no limit)."""
    return matmul_refusal(matmul_shapes(plan), f"{plan.n} ({plan.n1} x {plan.n2})", dtype)


def fitting_plan(plan: MonarchPlan, dtype: str) -> MonarchPlan:
    """``plan`` if the WMMA schedule takes it in ``dtype``, else UsageError saying why."""
    why = tensor_core_refusal(plan, dtype)
    if why is not None:
        raise UsageError(why)
    return plan


# -- the constant tables ----------------------------------------------------------------------


def dft_matrix(n: int, inverse: bool = False) -> np.ndarray:
    """``F[j, k] = exp(-+2 pi i j k / n)`` in complex128."""
    j = np.arange(n)
    sign = 1.0 if inverse else -1.0
    return np.exp(sign * 2j * np.pi * np.outer(j, j) / n)


def right_block(f: np.ndarray) -> np.ndarray:
    """Real ``2k x 2n`` matrix ``G`` with ``[vr | vi] @ G = [Re | Im] of v @ f``."""
    return np.block([[f.real, f.imag], [-f.imag, f.real]])


def left_block(f: np.ndarray) -> np.ndarray:
    """Real ``2m x 2k`` matrix ``G`` with ``G @ [vr; vi] = [Re; Im] of f @ v``."""
    return np.block([[f.real, -f.imag], [f.imag, f.real]])


def twiddle_table(plan: MonarchPlan, inverse: bool = False) -> np.ndarray:
    """``[Re, Im]`` of ``W[k1, b] = exp(-+2 pi i k1 b / N)``, shape ``(2, n1, n2)``."""
    k1 = np.arange(plan.n1)[:, None]
    b = np.arange(plan.n2)[None, :]
    twiddle = np.exp((1.0 if inverse else -1.0) * 2j * np.pi * k1 * b / plan.n)
    return np.stack([twiddle.real, twiddle.imag])


def monarch_tables(plan: MonarchPlan) -> dict[str, np.ndarray]:
    """The stage matrices and twiddles, float64 (cast by the caller)."""
    f1, f2 = dft_matrix(plan.n1), dft_matrix(plan.n2)
    f1_inv, f2_inv = dft_matrix(plan.n1, True), dft_matrix(plan.n2, True)
    return {
        # C1 = F1s @ X: rows [0, n1) the real part, [n1, 2 n1) the imaginary part
        "f1": np.concatenate([f1.real, f1.imag], axis=0),
        "g2": right_block(f2),
        "h2": right_block(f2_inv),
        # Y = L4 @ [Er; Ei] = Re(conj(F1) @ E)
        "l4": np.concatenate([f1_inv.real, -f1_inv.imag], axis=1),
        "twiddle": twiddle_table(plan),
    }


def permute_spectrum(spectrum: np.ndarray, plan: MonarchPlan) -> np.ndarray:
    """``K[h, k]`` (complex, length N) -> ``Kp[h, k1, k2, re/im]`` with ``k = k1 + n1*k2``."""
    spectrum = np.asarray(spectrum)
    heads = spectrum.shape[0]
    kp = spectrum.reshape(heads, plan.n2, plan.n1).transpose(0, 2, 1)
    return np.stack([kp.real, kp.imag], axis=-1).astype(np.float32)


#: the constant tables, in the order of the kernel's arguments after ``gate``
TABLE_NAMES = ("f1", "g2", "h2", "l4", "twiddle")


def numpy_dtype(dtype: str) -> Any:
    """The NumPy dtype of a TVM dtype name (``bfloat16`` from ``ml_dtypes``)."""
    if dtype == "bfloat16":
        import ml_dtypes

        return ml_dtypes.bfloat16
    return np.dtype(dtype)


def kernel_inputs(
    u: np.ndarray,
    spectrum: np.ndarray,
    d: np.ndarray,
    gate: np.ndarray,
    plan: MonarchPlan,
    dtype: str,
) -> list[np.ndarray]:
    """The kernel's arguments before the output (u, kp, d, gate, then the tables), in
    the dtypes its placeholders have (see :func:`monarch_conv_compute`)."""
    np_dtype = numpy_dtype(dtype)
    tables = table_arrays(plan, dtype)
    return [
        u.astype(np_dtype),
        permute_spectrum(spectrum, plan),
        d.astype(np.float32),
        gate.astype(np_dtype),
        *(tables[name] for name in TABLE_NAMES),
    ]


def table_arrays(plan: MonarchPlan, dtype: str) -> dict[str, np.ndarray]:
    """The constant tables in the dtypes of the kernel's placeholders (the DFT
    matrices in ``dtype``, the twiddles float32), by name."""
    np_dtype = numpy_dtype(dtype)
    tables = monarch_tables(plan)
    return {
        name: tables[name].astype(np.float32 if name == "twiddle" else np_dtype)
        for name in TABLE_NAMES
    }


# -- the NumPy model --------------------------------------------------------------------------


def _rounder(dtype: str | None) -> Callable[[np.ndarray], np.ndarray]:
    if dtype is None:
        return lambda x: x
    np_dtype = numpy_dtype(dtype)
    return lambda x: x.astype(np_dtype).astype(np.float64)


def reference_stages(
    u: np.ndarray,
    spectrum: np.ndarray,
    d: np.ndarray,
    gate: np.ndarray,
    plan: MonarchPlan,
    dtype: str | None = None,
) -> np.ndarray:
    """The kernel's computation in NumPy, stage by stage.  ``dtype=None``: float64
    throughout (the decomposition is exact); otherwise operands of every matmul and
    the output are rounded to ``dtype`` where the kernel rounds them (accumulation
    in float64 where the kernel uses float32)."""
    rnd = _rounder(dtype)
    t = monarch_tables(plan)
    rows, heads = u.shape[0], spectrum.shape[0]
    kp = permute_spectrum(spectrum, plan).astype(np.float64) if dtype else None
    kc = (
        spectrum.reshape(heads, plan.n2, plan.n1).transpose(0, 2, 1)
        if dtype is None
        else kp[..., 0] + 1j * kp[..., 1]  # type: ignore[index]
    )
    x = rnd(u.astype(np.float64)).reshape(rows, plan.n1, plan.n2)
    c1 = np.einsum("ma,rab->rmb", rnd(t["f1"]), x)
    z1 = (c1[:, : plan.n1] + 1j * c1[:, plan.n1 :]) * (t["twiddle"][0] + 1j * t["twiddle"][1])
    t1 = rnd(np.concatenate([z1.real, z1.imag], axis=2))
    c2 = t1 @ rnd(t["g2"])
    z2 = (c2[..., : plan.n2] + 1j * c2[..., plan.n2 :]) * kc[np.arange(rows) % heads] / plan.n
    p = rnd(np.concatenate([z2.real, z2.imag], axis=2))
    c3 = p @ rnd(t["h2"])
    z3 = (c3[..., : plan.n2] + 1j * c3[..., plan.n2 :]) * (t["twiddle"][0] - 1j * t["twiddle"][1])
    t3 = rnd(np.concatenate([z3.real, z3.imag], axis=1))
    y = np.einsum("aq,rqb->rab", rnd(t["l4"]), t3).reshape(rows, plan.n)
    uu = rnd(u.astype(np.float64))
    return rnd((y + d[np.arange(rows) % heads, None] * uu) * rnd(gate.astype(np.float64)))


def reference_fft(
    u: np.ndarray, spectrum: np.ndarray, d: np.ndarray, gate: np.ndarray
) -> np.ndarray:
    """The same result with ``np.fft`` in float64 (the specification)."""
    rows, heads = u.shape[0], spectrum.shape[0]
    h = np.arange(rows) % heads
    y = np.fft.ifft(np.fft.fft(u.astype(np.float64), axis=-1) * spectrum[h], axis=-1).real
    return (y + d[h, None] * u) * gate


# -- the TE compute ---------------------------------------------------------------------------


def monarch_conv_compute(
    rows: int, heads: int, plan: MonarchPlan, dtype: str
) -> tuple[list[te.Tensor], te.Tensor]:
    """TE placeholders (u, kp, d, gate, f1, g2, h2, l4, twiddle) and the output."""
    if dtype not in DTYPES:
        raise UsageError(f"Monarch kernel dtype {dtype!r}: use one of {', '.join(DTYPES)}")
    if rows % heads:
        raise UsageError(f"rows ({rows}) must be a multiple of heads ({heads})")
    n, n1, n2 = plan.n, plan.n1, plan.n2
    f32 = "float32"
    u = te.placeholder((rows, n), dtype, name="u")
    kp = te.placeholder((heads, n1, n2, 2), f32, name="kp")
    d = te.placeholder((heads,), f32, name="d")
    gate = te.placeholder((rows, n), dtype, name="gate")
    f1 = te.placeholder((2 * n1, n1), dtype, name="f1")
    g2 = te.placeholder((2 * n2, 2 * n2), dtype, name="g2")
    h2 = te.placeholder((2 * n2, 2 * n2), dtype, name="h2")
    l4 = te.placeholder((n1, 2 * n1), dtype, name="l4")
    tw = te.placeholder((2, n1, n2), f32, name="twiddle")

    def spectrum_at(r: Any, k1: Any, k2: Any) -> tuple[Any, Any]:
        return kp[r % heads, k1, k2, 0], kp[r % heads, k1, k2, 1]

    tables = dict(zip(TABLE_NAMES, (f1, g2, h2, l4, tw), strict=True))
    c4 = monarch_stages(lambda r, i: u[r, i], spectrum_at, tables, rows, plan, dtype)

    def epilogue(r: Any, i: Any) -> Any:
        y = c4[r, i // n2, i % n2]
        skip = d[r % heads] * u[r, i].astype(f32)
        return ((y + skip) * gate[r, i].astype(f32)).astype(dtype)

    out = te.compute((rows, n), epilogue, name="out", attrs=_STAGE)
    return [u, kp, d, gate, f1, g2, h2, l4, tw], out


def monarch_stages(
    load: SignalLoad,
    spectrum_at: SpectrumAt,
    tables: dict[str, te.Tensor],
    rows: int,
    plan: MonarchPlan,
    dtype: str,
) -> te.Tensor:
    """The convolution's stages up to ``Y`` (rows, n1, n2), float32, before any
    epilogue: ``y[r, n2*a + b] = Y[r, a, b]``.  ``tables``: placeholders named as in
    :data:`TABLE_NAMES` (matrices in ``dtype``, twiddles float32)."""
    n1, n2 = plan.n1, plan.n2
    x1 = te.compute((rows, n1, n2), lambda r, a, b: load(r, a * n2 + b), name="x1", attrs=_STAGE)
    c2 = _forward_stages(x1, tables["f1"], tables["g2"], tables["twiddle"], rows, plan, dtype)
    p = spectrum_product(c2, spectrum_at, rows, plan, dtype)
    return _inverse_stages(p, tables["h2"], tables["l4"], tables["twiddle"], rows, plan, dtype)


def _re_or_im(part: Any, re: Any, im: Any) -> Any:
    """``re`` where ``part`` is 0, ``im`` where it is 1 (the halves of ``[Re, Im]``)."""
    return tirx.Select(part == 0, re, im)


def _forward_stages(
    x1: te.Tensor, f1: te.Tensor, g2: te.Tensor, tw: te.Tensor, rows: int, plan: MonarchPlan,
    dtype: str,
) -> te.Tensor:  # fmt: skip
    """``C2 = (F_n1 @ X * W) @ F_n2``, ``[Re | Im]`` along the last axis: (rows, n1, 2 n2)."""
    n1, n2, f32 = plan.n1, plan.n2, "float32"
    ka = te.reduce_axis((0, n1), name="ka")
    c1 = te.compute(
        (rows, 2 * n1, n2),
        lambda r, m, b: te.sum(f1[m, ka].astype(f32) * x1[r, ka, b].astype(f32), axis=ka),
        name="c1",
        attrs=_MATMUL,
    )
    return forward_from_c1(c1, g2, tw, rows, plan, dtype)


def forward_from_c1(
    c1: te.Tensor, g2: te.Tensor, tw: te.Tensor, rows: int, plan: MonarchPlan, dtype: str
) -> te.Tensor:
    """``C2 = (C1 * W) @ F_n2`` from ``C1 = [Re; Im]`` (rows, 2 n1, n2) of ``F_n1 @ X``
    (also the outer stage's complex ``X``): (rows, n1, 2 n2)."""
    n1, n2 = plan.n1, plan.n2
    f32 = "float32"

    def twiddled(r: Any, k1: Any, q: Any) -> Any:
        c, b = q // n2, q % n2
        re, im = c1[r, k1, b], c1[r, n1 + k1, b]
        wr, wi = tw[0, k1, b], tw[1, k1, b]
        return _re_or_im(c, re * wr - im * wi, re * wi + im * wr).astype(dtype)

    t1 = te.compute((rows, n1, 2 * n2), twiddled, name="t1", attrs=_STAGE)
    kb = te.reduce_axis((0, 2 * n2), name="kb")
    return te.compute(
        (rows, n1, 2 * n2),
        lambda r, i, j: te.sum(t1[r, i, kb].astype(f32) * g2[kb, j].astype(f32), axis=kb),
        name="c2",
        attrs=_MATMUL,
    )


def spectrum_product(
    c2: te.Tensor, spectrum_at: SpectrumAt, rows: int, plan: MonarchPlan, dtype: str
) -> te.Tensor:
    """``P = C2 * Kp[h] / N`` (the 1/N of the inverse FFT folded in), ``[Re | Im]``."""
    n1, n2 = plan.n1, plan.n2
    scale = 1.0 / plan.n

    def product(r: Any, k1: Any, q: Any) -> Any:
        c, k2 = q // n2, q % n2
        re, im = c2[r, k1, k2], c2[r, k1, n2 + k2]
        kr, ki = spectrum_at(r, k1, k2)
        kr, ki = kr * scale, ki * scale
        return _re_or_im(c, re * kr - im * ki, re * ki + im * kr).astype(dtype)

    return te.compute((rows, n1, 2 * n2), product, name="p", attrs=_STAGE)


def _inverse_stages(
    p: te.Tensor, h2: te.Tensor, l4: te.Tensor, tw: te.Tensor, rows: int, plan: MonarchPlan,
    dtype: str,
) -> te.Tensor:  # fmt: skip
    """``Y = Re(conj(F_n1) @ ((P @ conj(F_n2)) * conj(W)))``: (rows, n1, n2)."""
    n1, n2, f32 = plan.n1, plan.n2, "float32"
    t3 = inverse_to_t3(p, h2, tw, rows, plan, dtype)
    kd = te.reduce_axis((0, 2 * n1), name="kd")
    return te.compute(
        (rows, n1, n2),
        lambda r, a, b: te.sum(l4[a, kd].astype(f32) * t3[r, kd, b].astype(f32), axis=kd),
        name="c4",
        attrs=_MATMUL,
    )


def inverse_to_t3(
    p: te.Tensor, h2: te.Tensor, tw: te.Tensor, rows: int, plan: MonarchPlan, dtype: str
) -> te.Tensor:
    """``T3 = (P @ conj(F_n2)) * conj(W)`` as ``[Re; Im]`` (rows, 2 n1, n2), in ``dtype``:
    the operand of the last inverse matmul (real part only, or complex for the outer stage)."""
    n1, n2 = plan.n1, plan.n2
    f32 = "float32"
    kc = te.reduce_axis((0, 2 * n2), name="kc")
    c3 = te.compute(
        (rows, n1, 2 * n2),
        lambda r, i, j: te.sum(p[r, i, kc].astype(f32) * h2[kc, j].astype(f32), axis=kc),
        name="c3",
        attrs=_MATMUL,
    )

    def untwiddled(r: Any, q: Any, b: Any) -> Any:
        c, k1 = q // n1, q % n1
        re, im = c3[r, k1, b], c3[r, k1, n2 + b]
        wr, wi = tw[0, k1, b], -tw[1, k1, b]
        return _re_or_im(c, re * wr - im * wi, re * wi + im * wr).astype(dtype)

    return te.compute((rows, 2 * n1, n2), untwiddled, name="t3", attrs=_STAGE)


def monarch_prim_func(rows: int, heads: int, plan: MonarchPlan, dtype: str) -> tirx.PrimFunc:
    """The unscheduled PrimFunc (runs on any target; the llvm build checks numerics)."""
    args, out = monarch_conv_compute(rows, heads, plan, dtype)
    return te.create_prim_func([*args, out])


#: names of the matmul blocks and of the elementwise blocks, in order
MATMUL_BLOCKS = ("c1", "c2", "c3", "c4")
ELEMENTWISE_BLOCKS = ("x1", "t1", "p", "t3", "out")


def build_monarch_module(
    rows: int, heads: int, n: int, dtype: str, target: Any, fused: bool = True
) -> tuple[ir.IRModule, MonarchPlan]:
    """The kernel as an IRModule (function ``main``), scheduled for ``target``
    (``cuda``: one fused kernel, or with ``fused=False`` or when fusion is refused one
    kernel per stage, tensor cores for fp16/bf16; others stay unscheduled)."""
    from fftc.kernels.cuda.fused import schedule_module

    plan = monarch_factors(n)
    mod = ir.IRModule({"main": monarch_prim_func(rows, heads, plan, dtype)})
    if str(target.kind.name) != "cuda":
        return mod, plan
    return schedule_module(mod, dtype, target, fused), plan
