"""The fused schedule of the outer Monarch plan (N > 4096; ``fftc.kernels.cuda.fused_outer``,
``schedules/cuda/monarch_fused.py``) on a machine without a GPU (needs nvcc): three
``__global__`` kernels per convolution instead of thirteen (outer forward, inner, outer
inverse with the output), tensor cores (``wmma::mma_sync``) for fp16/bf16, every kernel's
shared memory within the arch's limit (static part from ptxas, the merged dynamic part
from the lowered TIR), a fatbin; the output as a fourth kernel when it is not indexed by
the outer chunks; the staged schedule back with ``fused=False``; the fallback, with its
note, when the shared-memory limit refuses a kernel.  The fp32 schedule runs on the host
with its thread loops made serial (TVM's ``reverse_compute_at`` can silently compute the
wrong region here, see the module doc).  GPU numerics at the end (``gpu`` mark, skipped
here).

The staged schedule of the outer plan through nvcc is ``test_fft_conv_outer.py``'s.
"""

from __future__ import annotations

import functools
import re
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fftc.codegen.cuda import FATBIN_MAGIC, STATIC_SHARED_BYTES, arch_info
from fftc.ir import Graph
from fftc.ir.ops.spectral import FFTConvAttrs
from fftc.kernels.cuda.build import KernelResources
from fftc.kernels.cuda.outer import outer_factors
from tests.cuda.host_schedule import cuda_target as _target
from tests.cuda.host_schedule import fused_module as _fused_module
from tests.cuda.host_schedule import monarch_func as _monarch_func
from tests.cuda.host_schedule import schedule_and_compare
from tests.cuda.test_fft_conv_fused import assert_tensor_cores, kernel_names
from tests.cuda.test_fft_conv_monarch import TOLERANCE, _gated_graph, fft_conv_graph
from tests.cuda.test_fft_conv_outer import run_on_gpu_against_torch

#: (dtype, N, arch, gated: Hyena's epilogue and a run-time spectrum) of the nvcc builds
CASES = [
    ("float16", 8192, "sm_90", True),
    ("bfloat16", 16384, "sm_90", False),
    ("float32", 8192, "sm_90", False),
    ("float16", 16384, "sm_80", False),
]
THREE = re.compile(
    r"^monarch\.fused:3 kernels \((\d+)/(\d+)/(\d+) warps, (\d+)/(\d+)/(\d+) B shared\)$"
)


def causal_graph(n: int, gated: bool = False) -> Graph:
    """x (2, 3, N/2), out_length N/2 (a multiple of the inner length: three kernels)."""
    shape = (2, 3, n // 2)
    if gated:
        return _gated_graph(shape, n)
    spectrum = np.ones((3, n // 2 + 1, 2), np.float32)
    return fft_conv_graph(shape, FFTConvAttrs(n, n // 2), spectrum)


@dataclass(frozen=True)
class OuterBuild:
    dtype: str
    n: int
    arch: str
    schedule: list[str]  # the Monarch function's entries of the schedule report
    fusion: list[str]
    source: str
    resources: list[KernelResources]  # ptxas: static shared memory only
    shared: dict[str, tuple[int, int]]  # the lowered TIR: (static, dynamic) bytes
    executable: Any

    def kernels(self) -> list[str]:
        return [k for k in kernel_names(self.source) if f"monarch_conv{self.n}" in k]


@functools.cache
def _build(dtype: str, n: int, arch: str, gated: bool) -> OuterBuild:
    from fftc.codegen.build import build
    from fftc.kernels.cuda.build import kernel_resources
    from fftc.kernels.cuda.fused import shared_memory_bytes
    from fftc.target import parse_target

    stages: dict[str, Any] = {}
    result = build(causal_graph(n, gated), parse_target(f"cuda:{arch}"), dtype=dtype,
                   on_stage=lambda name, ir: stages.__setitem__(name, ir))  # fmt: skip
    assert result is not None
    (schedule,) = [v for k, v in result.schedule.scheduled.items() if "monarch" in k]
    source = str(stages["cuda"])
    shared = shared_memory_bytes(_monarch_func(stages["tir"]), _target(arch))
    resources = [r for r in kernel_resources(source, arch) if f"monarch_conv{n}" in r.name]
    return OuterBuild(dtype, n, arch, schedule, result.fusion, source, resources, shared,
                      result.executable)  # fmt: skip


@pytest.fixture(scope="module", params=CASES, ids=[f"{d}-{n}-{a}" for d, n, a, _ in CASES])
def built(nvcc: str, request: pytest.FixtureRequest) -> OuterBuild:
    return _build(*request.param)


def _in_launch_order(names: list[str]) -> list[str]:
    return sorted(names, key=lambda name: (len(name), name))


def test_three_kernels(built: OuterBuild) -> None:
    assert len(built.kernels()) == 3
    assert len(built.resources) == 3
    assert len(built.shared) == 3
    (line,) = built.schedule
    match = THREE.match(line)
    assert match, line
    totals = [sum(built.shared[k]) for k in _in_launch_order(list(built.shared))]
    assert [int(g) for g in match.groups()[3:]] == totals


def test_tensor_cores_for_half_precision(built: OuterBuild) -> None:
    assert_tensor_cores(built.source, built.dtype, 6)  # six DFT matmul stages


def test_shared_memory_within_the_arch_limit(built: OuterBuild) -> None:
    ptxas = {r.name.split("_kernel")[-1]: r.shared_bytes for r in built.resources}
    for name, (static, dynamic) in built.shared.items():
        assert ptxas[name.split("main_kernel")[-1]] == static  # ptxas: the static part
        assert static <= STATIC_SHARED_BYTES
        assert 0 < static + dynamic <= arch_info(built.arch).max_shared_bytes
        assert static + dynamic <= STATIC_SHARED_BYTES or dynamic >= STATIC_SHARED_BYTES
    plan = outer_factors(built.n, built.dtype)
    chunk = plan.n0 * plan.width  # points of one outer chunk of one real part
    forward, inner, inverse = (built.shared[k] for k in _in_launch_order(list(built.shared)))
    if built.dtype == "float32":  # everything in shared.dyn
        assert forward == (0, 4 * chunk)  # x0
        assert inverse == (0, 4 * 2 * chunk + 4 * chunk)  # t4 and y0
        assert inner[0] == 0
        return
    # fp16/bf16 operands dynamic, fp32 matmul results static (as the two-factor kernel)
    assert forward == (0, 2 * chunk)  # x0; a0's accumulators go to global memory
    assert inner == (8 * plan.m, 4 * plan.m)  # c4's accumulators go to global memory
    assert inverse == (4 * chunk, 2 * 2 * chunk)  # y0 (float32), t4


def test_nvcc_compiles_a_fatbin(built: OuterBuild, tmp_path: Path) -> None:
    built.executable.export_library(str(tmp_path / "outer.so"))
    data = (tmp_path / "outer.so").read_bytes()
    assert FATBIN_MAGIC in data
    assert b"wmma::mma_sync" not in data  # binary code, not CUDA source


def test_the_epilogue_joins_the_last_kernel(nvcc: str) -> None:
    """``(fft_conv(x, k) + D*x) * gate``: Relax fuses the epilogue into the output block,
    which runs in the outer inverse kernel (three kernels, not four)."""
    gated = _build("float16", 8192, "sm_90", True)
    (kernel,) = [line for line in gated.fusion if "monarch" in line]
    assert "3 fused ops" in kernel
    assert len(gated.kernels()) == 3


# -- schedules only (no nvcc) --------------------------------------------------------------


def _scheduled(
    graph: Graph, dtype: str, knobs: dict[str, Any] | None = None, limit: int | None = None
) -> tuple[list[str], dict[str, tuple[int, int]]]:
    """The Monarch function's schedule report entries and per-kernel shared memory."""
    from fftc.codegen.cuda_schedule import cuda_knobs, schedule_cuda
    from fftc.kernels.cuda.fused import shared_memory_bytes
    from fftc.schedules.cuda.monarch_fused import shared_limit_override

    target = _target("sm_90")
    with ExitStack() as stack:
        stack.enter_context(cuda_knobs(knobs or {}))
        if limit is not None:
            stack.enter_context(shared_limit_override(limit))
        mod, report = schedule_cuda(_fused_module(graph, dtype), target)
    (used,) = [v for k, v in report.scheduled.items() if "monarch" in k]
    return used, shared_memory_bytes(_monarch_func(mod), target)


def test_fused_false_gives_the_staged_kernels() -> None:
    used, shared = _scheduled(causal_graph(8192), "float16", {"fused": False})
    assert len(shared) == 13
    assert "monarch.fused: not fused (knob fused=False); one kernel per stage" in used
    assert "monarch.matmul:monarch.matmul" in used


def test_fallback_when_shared_memory_refuses() -> None:
    used, shared = _scheduled(causal_graph(8192), "float16", limit=4096)
    assert len(shared) == 13
    assert used[0] == (
        "monarch.fused: not fused (the fused kernel (outer forward) needs 8192 bytes of "
        "shared memory per block (limit 4096)); one kernel per stage"
    )


#: name: (x shape, N, out_length, stride, why the output is its own kernel)
APART = {
    "length-not-a-multiple": ((2, 3, 5000), 8192, 5000, 1,
                              "the output's length 5000 is not a multiple of the inner length 512"),
    "strided": ((2, 8192), 8192, 4096, 2,
                "the output does not read y0 at its own point (a strided output)"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(APART))
def test_an_output_not_indexed_by_chunks_is_a_fourth_kernel(case: str) -> None:
    shape, n, out, stride, why = APART[case]
    spectrum = np.ones((shape[-2] if len(shape) == 3 else 1, n // 2 + 1, 2), np.float32)
    graph = fft_conv_graph(shape, FFTConvAttrs(n, out, stride), spectrum)
    (line,), shared = _scheduled(graph, "float16")
    assert len(shared) == 4
    assert re.match(r"monarch\.fused:4 kernels \(\d+/\d+/\d+ warps, \d+/\d+/\d+/0 B shared; ", line)
    assert line.endswith(f"; the output in its own kernel: {why})")


# -- the fp32 schedule on the host -----------------------------------------------------------


@pytest.mark.parametrize(("length", "kernels"), [(4096, 3), (5000, 4)])
def test_fp32_schedule_computes_the_same_on_the_host(length: int, kernels: int) -> None:
    used, error = schedule_and_compare(_gated_graph((2, 3, length), 8192))
    assert used[0].startswith(f"monarch.fused:{kernels} kernels (")
    assert error <= 1e-6


# -- on a GPU ----------------------------------------------------------------------------------


@pytest.mark.gpu
@pytest.mark.torch
@pytest.mark.parametrize("dtype", sorted(TOLERANCE))
@pytest.mark.parametrize("n", [8192, 65536])
def test_fused_outer_kernels_against_torch(n: int, dtype: str) -> None:
    """Causal (L = N/2), one spectrum per channel: three kernels, against torch's FFT."""
    shape = (4, 3, n // 2)
    error, _, scheduled = run_on_gpu_against_torch(shape, FFTConvAttrs(n, n // 2), dtype)
    (used,) = [v for k, v in scheduled.items() if "monarch" in k]
    assert used[0].startswith("monarch.fused:3 kernels ("), used
    assert error <= TOLERANCE[dtype]
