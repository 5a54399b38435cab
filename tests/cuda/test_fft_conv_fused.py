"""The fused Monarch schedule (``fftc.kernels.cuda.fused``, ``schedules/cuda/monarch_fused.py``)
on a machine without a GPU (needs nvcc): one ``__global__`` kernel per Monarch
convolution, tensor cores (``wmma::mma_sync``) for fp16/bf16, shared memory within the
arch's opt-in limit (static part from ptxas, the merged dynamic part from the lowered
TIR); in a compiled model (the Hyena block); the staged schedule back with
``fused=False``; the fallback, with its note, when the shared-memory limit refuses the
fused kernel.  GPU numerics at the end (``gpu`` mark, skipped here).

The host numerics of the stages are ``test_monarch.py`` / ``test_fft_conv_monarch.py``;
the fp32 fused schedule itself runs on the host with its thread loops made serial
(``tests/cuda/host_schedule.py``: TVM's ``reverse_compute_at`` does not always refuse a
region it gets wrong, see ``fftc/kernels/cuda/fused_outer.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from fftc.codegen.cuda import FATBIN_MAGIC, STATIC_SHARED_BYTES, arch_info
from fftc.ir.ops.spectral import FFTConvAttrs
from fftc.kernels.cuda.build import KernelResources, kernel_resources
from tests.conftest import EXAMPLES
from tests.cuda.conftest import random_problem

HYENA = EXAMPLES / "onnx" / "hyena_block.onnx"
ROWS, HEADS = 64, 8
#: (dtype, N, arch) of the standalone builds
CASES = [
    ("float16", 256, "sm_90"), ("float16", 1024, "sm_90"), ("float16", 4096, "sm_90"),
    ("bfloat16", 256, "sm_90"), ("bfloat16", 1024, "sm_90"), ("bfloat16", 4096, "sm_90"),
    ("float32", 1024, "sm_90"), ("float32", 4096, "sm_90"), ("float16", 4096, "sm_80"),
]  # fmt: skip
_KERNEL = re.compile(r"__global__ void (?:__launch_bounds__\(\d+\) )?(\w+)\([^)]*\)\s*\{")


def kernel_names(source: str) -> list[str]:
    """The ``__global__`` functions defined (not only declared) in CUDA ``source``."""
    return _KERNEL.findall(source)


@dataclass(frozen=True)
class FusedBuild:
    dtype: str
    n: int
    arch: str
    source: str
    resources: list[KernelResources]  # ptxas: static shared memory only
    shared: dict[str, tuple[int, int]]  # the lowered TIR: (static, dynamic) bytes
    executable: Any


def _build(dtype: str, n: int, arch: str, fused: bool = True) -> FusedBuild:
    from fftc.codegen.cuda import target_config
    from fftc.codegen.cuda_build import compile_cuda
    from fftc.codegen.tvm_api import cuda_target
    from fftc.kernels.cuda.fused import shared_memory_bytes
    from fftc.kernels.cuda.monarch import build_monarch_module

    target = cuda_target(target_config(arch))
    mod, _ = build_monarch_module(ROWS, HEADS, n, dtype, target, fused=fused)
    ex = compile_cuda(mod, target)
    source = "\n".join(str(m.inspect_source("cuda")) for m in ex.mod.imports)
    return FusedBuild(dtype, n, arch, source, kernel_resources(source, arch),
                      shared_memory_bytes(mod, target), ex)  # fmt: skip


@pytest.fixture(scope="module", params=CASES, ids=[f"{d}-{n}-{a}" for d, n, a in CASES])
def built(nvcc: str, request: pytest.FixtureRequest) -> FusedBuild:
    return _build(*request.param)


def test_one_kernel(built: FusedBuild) -> None:
    assert len(kernel_names(built.source)) == 1
    assert len(built.resources) == 1
    assert list(built.shared) == ["main_kernel"]


def assert_tensor_cores(source: str, dtype: str, matmuls: int) -> None:
    """fp16/bf16: one ``wmma::mma_sync`` per DFT matmul stage on ``dtype`` fragments and
    TVM's storage-sync between stages; fp32: no WMMA at all."""
    if dtype == "float32":
        assert "wmma" not in source
        return
    assert source.count("wmma::mma_sync") == matmuls
    operand = {"float16": "half", "bfloat16": r"(nv_bfloat16|__nv_bfloat16)"}[dtype]
    assert re.search(rf"wmma::matrix_a, 16, 16, 16, {operand}", source)
    assert "__syncthreads()" in source


def test_tensor_cores_for_half_precision(built: FusedBuild) -> None:
    assert_tensor_cores(built.source, built.dtype, 4)  # four DFT matmul stages


def test_shared_memory_within_the_arch_limit(built: FusedBuild) -> None:
    ((static, dynamic),) = built.shared.values()
    (resources,) = built.resources
    assert resources.shared_bytes == static  # ptxas sees the static part only
    assert static <= STATIC_SHARED_BYTES
    assert 0 < static + dynamic <= arch_info(built.arch).max_shared_bytes
    if built.dtype != "float32":  # fp16/bf16 operands dynamic, fp32 accumulators static
        assert static == 8 * built.n  # one (2 n1 x n2) float32 result, reused by c1..c4
        assert dynamic == 4 * built.n  # one fp16/bf16 operand (2 n1 x n2 or n1 x 2 n2)
    # without TVM's opt-in (asked for >= 48 KiB of dynamic memory only) 48 KiB in all
    assert static + dynamic <= STATIC_SHARED_BYTES or dynamic >= STATIC_SHARED_BYTES


def test_fp16_4096_uses_48_kib(nvcc: str) -> None:
    """The documented number (docs/architecture.md): 32 KiB static (one float32 matmul
    result, reused) + 16 KiB dynamic (one fp16 operand at a time); with the DFT matrices
    staged in shared memory (knob ``tables``) the dynamic part grows to 48 KiB."""
    assert _build("float16", 4096, "sm_90").shared == {"main_kernel": (32 << 10, 16 << 10)}


def test_staged_schedule_is_still_there(nvcc: str) -> None:
    staged = _build("float16", 1024, "sm_90", fused=False)
    assert len(kernel_names(staged.source)) == 9
    assert staged.source.count("wmma::mma_sync") == 4


# -- in a model --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelBuild:
    decisions: list[str]
    source: str
    library: bytes

    def monarch_kernels(self) -> list[str]:
        return [k for k in kernel_names(self.source) if "monarch_conv512" in k]

    def schedule_line(self) -> str:
        (line,) = [d for d in self.decisions if d.startswith("[schedule]") and "monarch" in d]
        return line


def _compile_hyena(
    tmp: Any, knobs: dict[str, Any] | None = None, limit: int | None = None
) -> ModelBuild:
    from contextlib import ExitStack

    import fftc
    from fftc.api import CompileOptions
    from fftc.codegen.cuda_schedule import cuda_knobs
    from fftc.schedules.cuda.monarch_fused import shared_limit_override

    stages: dict[str, Any] = {}
    with ExitStack() as stack:
        stack.enter_context(cuda_knobs(knobs or {}))
        if limit is not None:
            stack.enter_context(shared_limit_override(limit))
        module = fftc.compile(HYENA, "cuda:sm_90", options=CompileOptions(dtype="fp16"),
                              on_stage=lambda name, ir: stages.__setitem__(name, ir))  # fmt: skip
    out = module.export(tmp / "hyena.fftc", force=True)
    import zipfile

    with zipfile.ZipFile(out) as zf:
        library = zf.read("module.so")
    return ModelBuild(list(module.decisions), str(stages["cuda"]), library)


@pytest.fixture(scope="module")
def hyena(nvcc: str, tmp_path_factory: pytest.TempPathFactory) -> ModelBuild:
    return _compile_hyena(tmp_path_factory.mktemp("fused"))


def test_hyena_fft_conv_is_one_kernel(hyena: ModelBuild) -> None:
    assert len(hyena.monarch_kernels()) == 1
    assert re.search(r"monarch\.fused:one kernel \(2 warps, \d+ B shared\)$", hyena.schedule_line())
    assert any("fused into one CUDA kernel" in d for d in hyena.decisions if "[lower]" in d)
    assert FATBIN_MAGIC in hyena.library


def test_fused_false_gives_the_staged_kernels(
    nvcc: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    staged = _compile_hyena(tmp_path_factory.mktemp("staged"), {"fused": False})
    assert len(staged.monarch_kernels()) == 9
    line = staged.schedule_line()
    assert "monarch.fused: not fused (knob fused=False); one kernel per stage" in line
    assert "monarch.matmul:monarch.matmul" in line


def test_fallback_when_shared_memory_refuses(
    nvcc: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    refused = _compile_hyena(tmp_path_factory.mktemp("refused"), limit=1024)
    assert len(refused.monarch_kernels()) == 9
    pattern = (
        r"not fused \(the fused kernel needs \d+ bytes of shared memory per block "
        r"\(limit 1024\)\); one kernel per stage"
    )
    assert re.search(pattern, refused.schedule_line())


def test_knobs_are_declared() -> None:
    from fftc.schedules.base import lookup

    tmpl = lookup("cuda", "monarch.fused")
    assert tmpl is not None
    knobs = {k.name: k for k in tmpl.knobs}
    assert knobs["fused"].default is True
    assert knobs["warps"].default == 8


def test_warps_are_whole_tiles() -> None:
    from fftc.kernels.cuda.fused import warps_used

    # fp16 tiles per matmul (c1, c2, c3, c4) at N = 256, 1024, 4096
    assert warps_used([2, 2, 2, 1], 8, "float16") == 1
    assert warps_used([8, 8, 8, 4], 8, "float16") == 4
    assert warps_used([32, 32, 32, 16], 8, "float16") == 8
    assert warps_used([32, 32, 32, 16], 16, "float32") == 16
    # a 48 x 48 image (fft_conv2d): 18, 18, 18, 9 tiles: 3 warps, not gcd(8, 9) = 1
    assert warps_used([18, 18, 18, 9], 8, "float16") == 3


@pytest.mark.parametrize("case", ["256-per-channel", "1024-vector", "4096-per-row"])
def test_fp32_schedule_computes_the_same_on_the_host(case: str) -> None:
    """The one-kernel fp32 schedule, thread loops serial, against the unscheduled function:
    equal to float32 rounding (1e-6; a point computed from the wrong row or not at all
    is O(1))."""
    from tests.cuda.host_schedule import schedule_and_compare
    from tests.cuda.test_fft_conv_monarch import CASES, fft_conv_graph

    shape, n, out, stride, kshape = CASES[case]
    spectrum = np.random.default_rng(0).standard_normal(kshape).astype(np.float32)
    graph = fft_conv_graph(shape, FFTConvAttrs(n, out, stride), spectrum)
    used, error = schedule_and_compare(graph)
    assert used[0].startswith("monarch.fused:one kernel ("), used
    assert error <= 1e-6


# -- on a GPU ----------------------------------------------------------------------------------


def _run_on_gpu(dtype: str, n: int, fused: bool) -> tuple[np.ndarray, Any]:
    from fftc.codegen.cuda import local_cuda_arch
    from fftc.codegen.tvm_api import tvm
    from fftc.kernels.cuda.monarch import kernel_inputs, monarch_factors

    build = _build(dtype, n, local_cuda_arch() or "sm_80", fused)
    problem = random_problem(ROWS, HEADS, n)
    dev = tvm.cuda(0)
    plan = monarch_factors(n)
    args = [tvm.runtime.tensor(a, dev) for a in kernel_inputs(*problem, plan, dtype)]
    out = tvm.runtime.empty((ROWS, n), dtype, dev)
    build.executable["main"](*args, out)
    return out.numpy().astype(np.float64), problem


@pytest.mark.gpu
@pytest.mark.torch
@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32"])
@pytest.mark.parametrize("n", [256, 1024, 4096])
def test_fused_against_torch_fft(dtype: str, n: int) -> None:
    import torch

    got, (u, spectrum, d, gate) = _run_on_gpu(dtype, n, fused=True)
    h = np.arange(u.shape[0]) % spectrum.shape[0]
    tu = torch.tensor(u, device="cuda", dtype=torch.float64)
    y = torch.fft.ifft(torch.fft.fft(tu) * torch.tensor(spectrum[h], device="cuda")).real
    ref = (y + torch.tensor(d[h, None], device="cuda") * tu) * torch.tensor(gate, device="cuda")
    ref_np = ref.cpu().numpy()
    tolerance = {"float32": 1e-5, "float16": 1e-2, "bfloat16": 2e-2}[dtype]
    assert np.abs(got - ref_np).max() <= tolerance * max(1.0, float(np.abs(ref_np).max()))


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_fused_matches_staged(dtype: str) -> None:
    """Same roundings in the same order: only accumulation order inside WMMA may differ."""
    fused, _ = _run_on_gpu(dtype, 1024, fused=True)
    staged, _ = _run_on_gpu(dtype, 1024, fused=False)
    assert np.abs(fused - staged).max() <= 1e-2 * np.abs(staged).max()


def _schedule_lines(case: str, dtype: str) -> list[str]:
    """The CUDA schedule report's entries of the Monarch function of one of
    ``test_fft_conv_monarch.py``'s cases (scheduled only, not compiled)."""
    from fftc.codegen.cuda import target_config
    from fftc.codegen.cuda_build import apply_precision
    from fftc.codegen.cuda_schedule import schedule_cuda
    from fftc.codegen.lower import lower_graph
    from fftc.codegen.tvm_api import cuda_target, relax
    from fftc.ir.ops.spectral import FFTConvAttrs
    from tests.cuda.test_fft_conv_monarch import CASES, fft_conv_graph

    shape, n, out, stride, kshape = CASES[case]
    spectrum = np.ones(kshape, np.float32)
    mod, ctx = lower_graph(fft_conv_graph(shape, FFTConvAttrs(n, out, stride), spectrum),
                           target_kind="cuda", compute_dtype=dtype)  # fmt: skip
    mod, _ = apply_precision(mod, dtype, len(ctx.monarch_ops))
    target = cuda_target(target_config("sm_90"))
    with target:
        mod = relax.get_pipeline("zero")(mod)
    _, report = schedule_cuda(mod, target)
    (used,) = [v for k, v in report.scheduled.items() if "monarch" in k]
    return used


def test_rows_of_several_axes_are_fused() -> None:
    """x (2, 3, 200): the output block's two row axes are flattened onto the stages' row."""
    assert _schedule_lines("256-per-channel", "float16") == [
        "monarch.fused:one kernel (1 warps, 3072 B shared)"
    ]


def test_a_strided_output_keeps_the_staged_kernels() -> None:
    """``y[t * stride]``: TVM's reverse_compute_at cannot map the output's strided reads
    onto the row (not an affine iterator map); the fallback says so."""
    used = _schedule_lines("512-non-square-strided-one-spectrum", "float16")
    (note,) = [u for u in used if u.startswith("monarch.fused")]
    assert note.startswith("monarch.fused: not fused (TVM: ")
    assert note.endswith("; one kernel per stage")
    assert "monarch.matmul:monarch.matmul" in used


def test_tables_in_shared_memory_over_48_kib_without_the_opt_in_fall_back() -> None:
    """N = 2048 with the DFT matrices staged (knob ``tables=shared``): 16 KiB static +
    40 KiB dynamic would not launch (TVM opts in only for >= 48 KiB dynamic)."""
    from fftc.codegen.cuda import target_config
    from fftc.codegen.cuda_schedule import schedule_fftc_kernels
    from fftc.codegen.tvm_api import cuda_target
    from fftc.kernels.cuda.monarch import monarch_factors, monarch_prim_func
    from fftc.schedules.base import DefaultKnobs

    func = monarch_prim_func(ROWS, HEADS, monarch_factors(2048), "float16")
    target = cuda_target(target_config("sm_90"))
    _, used = schedule_fftc_kernels(func, target, DefaultKnobs({"tables": "shared"}))
    assert used[0] == (
        "monarch.fused: not fused (the fused kernel needs 16384 + 40960 bytes of static + "
        "dynamic shared memory: over 49152 in all, and TVM opts in to more only for >= "
        "49152 bytes of dynamic shared memory); one kernel per stage"
    )
    _, used = schedule_fftc_kernels(func, target, DefaultKnobs({"tables": "global"}))
    assert used == ["monarch.fused:one kernel (8 warps, 24576 B shared)"]


def test_a_cuda_tuning_log_replays_with_fftcs_own_intrinsics() -> None:
    """A logged CUDA schedule's trace names intrinsics fftc registers itself (bf16, loads
    from global memory or shared.dyn): ``register_all`` (called by a CUDA log's lookup)
    makes them all known to TVM before anything has been scheduled in the process."""
    from fftc.codegen.tvm_api import cuda_tensor_intrinsics
    from fftc.kernels.cuda import tensorcore

    tensorcore.register_all()
    tensorcore.register_all()  # idempotent
    names = [
        *tensorcore.wmma_intrinsics("bfloat16").values(),
        *tensorcore.shared_wmma_intrinsics("bfloat16", "shared.dyn").values(),
        tensorcore.global_wmma_load("float16", is_b=True),
        tensorcore.global_wmma_load("bfloat16", is_b=False),
    ]
    registry = cuda_tensor_intrinsics().TensorIntrin
    assert all(registry.get(name) is not None for name in names)
