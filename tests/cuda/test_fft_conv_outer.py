"""``fft_conv`` of length N > 4096 on the Monarch kernel with its outer DFT stage
(``fftc.kernels.cuda.outer``: N = n0 x n1 x n2, thirteen stages).

On the host: the plan per N; the stage decomposition in float64 against ``np.fft``;
the Relax module the CUDA build lowers, built for llvm and run on the CPU against
float64 NumPy (causal, zero-padded input, strides, broadcast and run-time spectra,
Relax's fused epilogue); the fp16 sm_90 build through nvcc (tensor cores, fatbin,
shared memory per kernel).  On a GPU (skipped without one): against torch's FFT.

Tolerances, relative to the largest exact output (as ``test_fft_conv_monarch.py``):

* fp32 ``1e-5``: six dense DFT matmul stages (at most ``2 * 64`` terms each) and
  three twiddle/spectrum products in float32 (``eps = 6e-8``): ~1e-6 expected;
  measured 3-6e-7 for N = 8192 ... 262144.  A wrong bin, twiddle, chunk or
  Hermitian sign gives O(1).
* fp16 ``3e-3``: every matmul operand is rounded to fp16 (unit roundoff
  ``2^-11 = 4.9e-4``), six roundings along a path instead of four, accumulation in
  float32; the roundings are independent, so the error stays near one roundoff:
  measured 4-6e-4.
* bf16 ``2e-2``: the same with bf16's ``2^-8 = 3.9e-3``: measured 3-5e-3.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fftc.codegen.lower import lower_graph
from fftc.errors import UsageError
from fftc.ir.ops.spectral import FFTConvAttrs, fft_conv_reference
from fftc.kernels.cuda.limits import MAX_WARPS, SHARED_BYTES_LIMIT, TILE
from fftc.kernels.cuda.outer import (
    OuterPlan,
    fft_conv_plan,
    matmul_shapes,
    outer_factors,
    reference_outer_conv,
    stage_shared_bytes,
)
from tests.cuda.conftest import random_problem
from tests.cuda.test_fft_conv_monarch import (
    TOLERANCE,
    _gated_graph,
    build_for_llvm,
    fft_conv_graph,
    relative_error,
    run,
)

DTYPES = sorted(TOLERANCE)

#: N: (n0, n1, n2, column chunk of the outer matmuls)
PLANS = {
    8192: (16, 16, 32, 256),
    16384: (16, 32, 32, 256),
    32768: (16, 32, 64, 256),
    65536: (16, 64, 64, 256),
    131072: (32, 64, 64, 128),
    262144: (64, 64, 64, 64),
    # n0 > 64: the outer DFT matrix read from global memory, only the chunk staged;
    # 20480: 16 x 1280 (16 x 80: c2 over 48 KiB in fp16), 32 x 640, 64 x 320 have no tile
    # split, so n0 = 80 around a 256-point inner FFT
    20480: (80, 16, 16, 32),
    524288: (128, 64, 64, 32),
    1048576: (256, 64, 64, 16),
}


@pytest.mark.parametrize("n", sorted(PLANS))
def test_plans_fit_the_tensor_core_schedule(n: int) -> None:
    plan = fft_conv_plan(n, "float16")
    assert isinstance(plan, OuterPlan)
    assert (plan.n0, plan.inner.n1, plan.inner.n2, plan.width) == PLANS[n]
    assert plan.n0 % TILE == 0
    assert plan.n0 * plan.inner.n1 * plan.inner.n2 == n
    for name, (m, _, cols) in matmul_shapes(plan).items():
        assert (m // TILE) * (cols // TILE) <= MAX_WARPS, name
    assert max(stage_shared_bytes(plan).values()) <= SHARED_BYTES_LIMIT
    assert plan.describe().startswith(f"N={n} = {' x '.join(map(str, PLANS[n][:3]))} ")


#: N: (compute dtype, the reason)
REFUSED = {
    4112: ("float32", "needs N = n0 x n1 x n2 with n0, n1, n2 multiples of 16"),
    2097152: ("float16", "N <= 256 x 4096 = 1048576 (its DFT matrix and a chunk of the row"),
}


@pytest.mark.parametrize("n", sorted(REFUSED))
def test_lengths_the_outer_stage_cannot_take(n: int) -> None:
    dtype, reason = REFUSED[n]
    with pytest.raises(UsageError, match=re.escape(reason)):
        fft_conv_plan(n, dtype)
    graph = fft_conv_graph((2, 3000), FFTConvAttrs(n, 3000), np.ones((2, n // 2 + 1, 2), "f4"))
    _, ctx = lower_graph(graph, target_kind="cuda", compute_dtype=dtype)
    assert not ctx.monarch_ops
    assert any("not on the tensor-core Monarch kernel" in note and reason in note
               for note in ctx.notes), ctx.notes  # fmt: skip


def test_fp32_takes_plans_beyond_the_shared_memory_limit() -> None:
    """fp32 matmuls run on CUDA cores: 20480 = 16 x 16 x 80 (c2: 56 KiB in fp16) fits."""
    assert outer_factors(20480, "float32").inner.n2 == 80


@pytest.mark.parametrize("n", [8192, 65536, 262144, 524288])
def test_stage_decomposition_is_the_fft_convolution(n: int) -> None:
    u, spectrum, _, _ = random_problem(3, 2, n)
    exact = np.fft.ifft(np.fft.fft(u.astype(np.float64)) * spectrum[np.arange(3) % 2]).real
    model = reference_outer_conv(u, spectrum, outer_factors(n))
    assert np.abs(model - exact).max() <= 1e-12 * np.abs(exact).max()


#: name: (x shape, N, out_length, stride, spectrum shape); L < N and out_length < N in all
CASES = {
    "8192-per-channel": ((2, 3, 5000), 8192, 5000, 1, (3, 4097, 2)),
    "16384-strided-one-spectrum": ((2, 2, 12000), 16384, 4000, 3, (1, 8193, 2)),
    "32768-vector": ((30000,), 32768, 30000, 1, (16385, 2)),
    "65536-per-row": ((2, 60000), 65536, 50000, 1, (2, 32769, 2)),
}


def _check_lowering(case: tuple[Any, ...], dtype: str) -> float:
    """Build ``case`` as for cuda with ``dtype``, run it on the CPU: the relative error."""
    shape, n, out, stride, kshape = case
    rng = np.random.default_rng(0)
    spectrum = rng.standard_normal(kshape).astype(np.float32)
    attrs = FFTConvAttrs(n, out, stride)
    executable, notes, monarch = build_for_llvm(fft_conv_graph(shape, attrs, spectrum), dtype)
    assert monarch == ["fft_conv 'fc'"], notes
    assert any("13 stages in three CUDA kernels by the schedule" in n for n in notes), notes
    x = rng.standard_normal(shape).astype(np.float32)
    exact = fft_conv_reference(x.astype(np.float64), spectrum.astype(np.float64), attrs)
    (got,) = run(executable, x)
    assert got.shape == exact.shape
    return relative_error(got, exact)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_outer_lowering_matches_float64(case: str, dtype: str) -> None:
    assert _check_lowering(CASES[case], dtype) <= TOLERANCE[dtype]


@pytest.mark.parametrize(
    ("n", "dtype"), [(131072, "float16"), (262144, "float32"), (524288, "float16")]
)
def test_longest_plans_match_float64(n: int, dtype: str) -> None:
    """n0 = 32, 64 and 128 (column chunks of 128, 64 and 32)."""
    case = ((1, n - 1000), n, n - 2000, 1, (1, n // 2 + 1, 2))
    assert _check_lowering(case, dtype) <= TOLERANCE[dtype]


@pytest.mark.parametrize("dtype", ["float16", "float32"])
def test_runtime_spectrum_and_fused_epilogue(dtype: str) -> None:
    """``(fft_conv(x, k) + D*x) * gate`` with ``k`` an input: Relax fuses the epilogue
    into the output stage (``kOutEWiseFusable``), the spectrum is read at run time."""
    from fftc.codegen.fusion_report import fusion_notes
    from fftc.codegen.tvm_api import llvm_target, relax

    shape, n = (2, 3, 6000), 8192
    graph = _gated_graph(shape, n)
    mod, ctx = lower_graph(graph, target_kind="cuda", compute_dtype=dtype)
    assert ctx.monarch_ops == ["fft_conv 'fc'"]
    with llvm_target():
        fused = relax.get_pipeline("zero")(mod)
    (kernel,) = [line for line in fusion_notes(fused) if "monarch" in line]
    assert "3 fused ops" in kernel

    rng = np.random.default_rng(1)
    x, gate = rng.standard_normal((2, *shape)).astype(np.float32)
    k = np.fft.rfft(rng.standard_normal((shape[1], n)) / np.sqrt(n), axis=-1)
    k = np.stack([k.real, k.imag], axis=-1).astype(np.float32)
    executable, _, _ = build_for_llvm(graph, dtype)
    (got,) = run(executable, x, k, gate)
    d = np.linspace(-1, 1, shape[1], dtype=np.float32).reshape(shape[1], 1)
    conv = fft_conv_reference(x.astype(np.float64), k.astype(np.float64), FFTConvAttrs(n, 6000))
    assert relative_error(got, (conv + d * x) * gate) <= TOLERANCE[dtype]


# -- CUDA code generation (nvcc, no GPU) -------------------------------------------------------


@pytest.fixture(scope="module")
def fp16_16384(nvcc: str) -> tuple[str, Any, list[str]]:
    """N = 16384 (16 x 32 x 32) built for ``cuda:sm_90`` in fp16 with the staged schedule
    (``fused=False``: one kernel per stage; the default fused one, three kernels, is
    ``test_fft_conv_outer_fused.py``'s): source, executable, notes."""
    from fftc.codegen.build import build
    from fftc.codegen.cuda_schedule import cuda_knobs
    from fftc.codegen.tvm_api import cuda_source
    from fftc.target import parse_target

    n = 16384
    spectrum = np.ones((3, n // 2 + 1, 2), np.float32)
    graph = fft_conv_graph((2, 3, 10000), FFTConvAttrs(n, 10000), spectrum)
    with cuda_knobs({"fused": False}):
        result = build(graph, parse_target("cuda:sm_90"), dtype="float16")
    assert result is not None
    return cuda_source(result.executable), result.executable, result.notes


def test_fp16_outer_kernel_uses_tensor_cores(fp16_16384: tuple[str, Any, list[str]]) -> None:
    source, _, notes = fp16_16384
    assert any("N=16384 = 16 x 32 x 32" in note and "13 stages" in note for note in notes)
    assert len(re.findall(r"wmma::mma_sync", source)) >= 6  # six DFT matmul stages
    assert re.search(r"wmma::matrix_a, 16, 16, 16, half", source)


def test_nvcc_compiles_the_outer_kernel_into_a_fatbin(
    fp16_16384: tuple[str, Any, list[str]], tmp_path: Path
) -> None:
    from fftc.codegen.cuda import FATBIN_MAGIC

    _, executable, _ = fp16_16384
    executable.export_library(str(tmp_path / "outer.so"))
    data = (tmp_path / "outer.so").read_bytes()
    assert FATBIN_MAGIC in data
    assert b"wmma::mma_sync" not in data  # binary code, not CUDA source


def test_outer_kernel_shared_memory_within_sm90(fp16_16384: tuple[str, Any, list[str]]) -> None:
    from fftc.codegen.cuda import STATIC_SHARED_BYTES, arch_info
    from fftc.kernels.cuda.build import check_shared_memory, kernel_resources

    source, _, _ = fp16_16384
    resources = [r for r in kernel_resources(source, "sm_90") if "monarch_conv16384" in r.name]
    assert len(resources) == 13  # six matmul stages, seven elementwise stages
    planned = stage_shared_bytes(outer_factors(16384, "float16"))
    used = sorted(r.shared_bytes for r in resources if r.shared_bytes)
    assert used == sorted(planned.values())  # one row chunk's operands, as planned
    assert max(used) <= STATIC_SHARED_BYTES <= arch_info("sm_90").max_shared_bytes
    check_shared_memory(resources, "sm_90")


@pytest.mark.parametrize("fused", [False, True])
def test_outer_factor_128_reads_its_dft_matrix_from_global_memory(nvcc: str, fused: bool) -> None:
    """N = 524288 = 128 x 64 x 64 in fp16: the outer matmuls' DFT matrix (2 n0 x n0,
    64 KiB) does not fit beside the chunk, so the staged schedule loads its fragments from
    global memory (the fused one always does); every kernel within 48 KiB, nvcc builds."""
    from fftc.codegen.build import build
    from fftc.codegen.cuda import STATIC_SHARED_BYTES
    from fftc.codegen.cuda_schedule import cuda_knobs
    from fftc.codegen.tvm_api import cuda_source
    from fftc.kernels.cuda.build import check_shared_memory, kernel_resources
    from fftc.target import parse_target

    n = 524288
    graph = fft_conv_graph((1, n // 2), FFTConvAttrs(n, n // 2), np.ones((1, n // 2 + 1, 2), "f4"))
    with cuda_knobs({"fused": fused}):
        result = build(graph, parse_target("cuda:sm_90"), dtype="float16")
    assert result is not None
    source = cuda_source(result.executable)
    resources = [r for r in kernel_resources(source, "sm_90") if "monarch_conv524288" in r.name]
    assert len(resources) == (3 if fused else 13)
    assert max(r.shared_bytes for r in resources) <= STATIC_SHARED_BYTES
    check_shared_memory(resources, "sm_90")
    assert "wmma::mma_sync" in source


# -- on a GPU -----------------------------------------------------------------------------------


def run_on_gpu_against_torch(
    shape: tuple[int, ...], attrs: FFTConvAttrs, dtype: str
) -> tuple[float, list[str], dict[str, list[str]]]:
    """Build ``fft_conv`` (one random spectrum per channel) for the local GPU, run it on
    random ``x``: its error relative to torch's float64 rfft/irfft, the build's notes and
    its schedule report."""
    import torch
    from tvm.runtime.vm import VirtualMachine

    from fftc.codegen.build import build
    from fftc.codegen.cuda import local_cuda_arch
    from fftc.codegen.tvm_api import tvm
    from fftc.target import parse_target

    n = attrs.length
    rng = np.random.default_rng(0)
    spectrum = rng.standard_normal((shape[-2], n // 2 + 1, 2)).astype(np.float32)
    graph = fft_conv_graph(shape, attrs, spectrum)
    result = build(graph, parse_target(f"cuda:{local_cuda_arch() or 'sm_80'}"), dtype=dtype)
    assert result is not None
    x = rng.standard_normal(shape).astype(np.float32)
    dev = tvm.cuda(0)
    (got,) = VirtualMachine(result.executable, dev)["main"](tvm.runtime.tensor(x, dev))

    tx = torch.tensor(x, dtype=torch.float64, device="cuda")
    tk = torch.tensor(spectrum, dtype=torch.float64, device="cuda")
    y = torch.fft.irfft(torch.fft.rfft(tx, n=n) * torch.complex(tk[..., 0], tk[..., 1]), n=n)
    ref = y[..., :: attrs.stride][..., : attrs.out_length].cpu().numpy()
    error = relative_error(got.numpy().astype(np.float64), ref)
    return error, result.notes, dict(result.schedule.scheduled)


@pytest.mark.gpu
@pytest.mark.torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [16384, 65536])
def test_outer_kernel_on_the_gpu_against_torch(n: int, dtype: str) -> None:
    """Causal (L < N), one spectrum per channel, stride 2: against torch's rfft/irfft."""
    shape = (4, 3, n - 1000)
    error, notes, _ = run_on_gpu_against_torch(shape, FFTConvAttrs(n, (n - 1000) // 2, 2), dtype)
    assert any("13 stages" in note for note in notes)
    assert error <= TOLERANCE[dtype]


def test_rows_over_the_scratch_budget_run_in_several_calls(monkeypatch: Any) -> None:
    """A problem whose stages would need more scratch than the budget is cut along its
    leading axis into calls (same numbers); a spectrum that varies along that axis is
    not cut (one call)."""
    import fftc.codegen.lower.cuda_kernels as lowering

    row_bytes = 13 * 8192 * 8
    monkeypatch.setattr(lowering, "SCRATCH_BUDGET", 3 * row_bytes)
    assert lowering.chunk_size((5, 3, 100), (3, 4097, 2), row_bytes) == 1
    assert lowering.chunk_size((5, 1, 100), (1, 4097, 2), row_bytes) == 3  # 3 + 2
    monkeypatch.setattr(lowering, "SCRATCH_BUDGET", 13 * row_bytes)
    assert lowering.chunk_size((64, 1, 100), (1, 4097, 2), row_bytes) == 8  # 8 x 8, not 13
    assert lowering.chunk_size((61, 1, 100), (1, 4097, 2), row_bytes) == 13  # 61 is prime
    monkeypatch.setattr(lowering, "SCRATCH_BUDGET", 3 * row_bytes)
    assert lowering.chunk_size((5, 3, 100), (5, 3, 4097, 2), row_bytes) == 5
    assert lowering.chunk_size((2, 100), (4097, 2), row_bytes) == 2  # within the budget
    case = CASES["8192-per-channel"]
    shape, n, out, stride, kshape = case
    rng = np.random.default_rng(0)
    spectrum = rng.standard_normal(kshape).astype(np.float32)
    attrs = FFTConvAttrs(n, out, stride)
    executable, notes, _ = build_for_llvm(fft_conv_graph(shape, attrs, spectrum), "float32")
    assert any("rows in 2 calls of 1 x 3" in note for note in notes), notes
    x = rng.standard_normal(shape).astype(np.float32)
    exact = fft_conv_reference(x.astype(np.float64), spectrum.astype(np.float64), attrs)
    (got,) = run(executable, x)
    assert relative_error(got, exact) <= 1e-5
