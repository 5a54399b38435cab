"""The Hyena block compiled for ``cuda:sm_90`` on a machine without a GPU (needs nvcc):
its ``fft_conv`` runs on the Monarch kernel, fused into one CUDA kernel, whose DFT
matmuls use tensor cores (``wmma::mma_sync``) in fp16 and bf16, within sm_90's shared
memory, and the artifact's library holds a fatbin (the staged variant:
``test_fft_conv_fused.py``).  Numerics: ``test_fft_conv_monarch.py`` (host)
and ``test_gpu.py`` (GPU)."""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from fftc.cli.main import main
from fftc.codegen.cuda import FATBIN_MAGIC, STATIC_SHARED_BYTES, arch_info
from fftc.kernels.cuda.build import check_shared_memory, kernel_resources
from tests.conftest import EXAMPLES

HYENA = EXAMPLES / "onnx" / "hyena_block.onnx"
#: the PrimFunc holding the Hyena fft_conv (N = 512) and its fused epilogue
MONARCH_FUNC = "monarch_conv512"


@dataclass(frozen=True)
class HyenaBuild:
    dtype: str
    source: str  # ``fftc inspect --stage cuda``
    library: bytes  # the artifact's module.so

    def monarch_kernels(self) -> dict[str, str]:
        """The ``__global__`` functions of the Monarch PrimFunc, name -> body."""
        kernels = {}
        for m in re.finditer(r"__global__ void (?:__launch_bounds__\(\d+\) )?(\w+)\(", self.source):
            body_start = self.source.find("{", m.end())
            if self.source.rfind(";", m.end(), body_start) != -1:
                continue  # a declaration
            end = self.source.find("\n}\n", body_start)
            if MONARCH_FUNC in m.group(1):
                kernels[m.group(1)] = self.source[body_start:end]
        return kernels


def _build(dtype: str, tmp: Path) -> HyenaBuild:
    out, src = tmp / f"hyena-{dtype}.fftc", tmp / f"hyena-{dtype}.cu"
    common = [str(HYENA), "--target", "cuda:sm_90", "--dtype", dtype]
    assert main(["-q", "compile", *common, "-o", str(out)]) == 0
    assert main(["inspect", *common, "--stage", "cuda", "-o", str(src)]) == 0
    with zipfile.ZipFile(out) as zf:
        library = zf.read("module.so")
    return HyenaBuild(dtype, src.read_text(), library)


@pytest.fixture(scope="module", params=["fp16", "bf16"])
def half(
    nvcc: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> HyenaBuild:
    return _build(request.param, tmp_path_factory.mktemp(request.param))


def test_fft_conv_runs_on_tensor_cores(half: HyenaBuild) -> None:
    kernels = half.monarch_kernels()
    assert len(kernels) == 1  # all nine stages in one kernel
    (body,) = kernels.values()
    assert body.count("wmma::mma_sync") == 4  # the four DFT matmul stages
    operand = {"fp16": "half", "bf16": r"(nv_bfloat16|__nv_bfloat16)"}[half.dtype]
    assert re.search(rf"wmma::matrix_a, 16, 16, 16, {operand}", half.source)
    assert re.search(r"wmma::accumulator, 16, 16, 16, float", half.source)


def test_the_artifact_holds_a_fatbin(half: HyenaBuild) -> None:
    assert FATBIN_MAGIC in half.library
    assert b"wmma::mma_sync" not in half.library  # binary code, not CUDA source


def test_shared_memory_within_sm90(half: HyenaBuild) -> None:
    resources = [r for r in kernel_resources(half.source, "sm_90") if MONARCH_FUNC in r.name]
    assert len(resources) == 1
    used = max(r.shared_bytes for r in resources)  # static (the float32 matmul results)
    assert 0 < used <= STATIC_SHARED_BYTES <= arch_info("sm_90").max_shared_bytes
    check_shared_memory(resources, "sm_90")


def test_explain_names_the_monarch_kernel(nvcc: str, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["inspect", str(HYENA), "--target", "cuda:sm_90", "--dtype", "fp16", "--explain"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert re.search(
        r"\[lower\] fft_conv 'node__fft_c2r': Monarch FFT convolution N=512 = 16 x 32 .*"
        r"float16 operands on tensor cores \(WMMA\), float32 accumulation; "
        r"input zero padded 256 -> 512",
        out,
    )
    assert "1 Monarch FFT convolution(s)/DFT(s) on float16 operands" in out
    # Relax fused the gate (and the output slice) into the kernel's output stage; the
    # D*u residual is in the spectrum (spectral-fusion: fft_conv(u, K + D))
    assert re.search(r"\[fuse-blocks\] \w*monarch_conv512\w*: monarch \+ 2 fused ops", out)
    assert re.search(r"\[schedule\] \w*monarch_conv512\w*: monarch.fused:one kernel "
                     r"\(2 warps, \d+ B shared\)$", out, re.MULTILINE)  # fmt: skip


def test_fp32_runs_the_monarch_matmuls_on_cuda_cores(
    nvcc: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["inspect", str(HYENA), "--target", "cuda:sm_90", "--stage", "cuda"]
    assert main(args) == 0
    build = HyenaBuild("fp32", capsys.readouterr().out, b"")
    kernels = build.monarch_kernels()
    assert len(kernels) == 1  # fp32 is fused too (loops over the block's threads)
    assert "wmma" not in build.source


def test_lengths_beyond_the_outer_stage_compile_with_the_fft_kernel(nvcc: str) -> None:
    """N = 2^21 > 256 x 4096 (one outer stage's limit): the generic fused FFT convolution,
    thread-per-output schedule.  (N = 4097 ... 1048576: ``test_fft_conv_outer.py``.)"""
    import numpy as np

    from fftc.codegen.build import build
    from fftc.ir.ops.spectral import FFTConvAttrs
    from fftc.target import parse_target
    from tests.cuda.test_fft_conv_monarch import fft_conv_graph

    n = 2**21
    spectrum = np.ones((2, n // 2 + 1, 2), np.float32)
    graph = fft_conv_graph((2, 3000), FFTConvAttrs(n, 3000), spectrum)
    result = build(graph, parse_target("cuda:sm_90"))
    assert result is not None
    assert any("not on the tensor-core Monarch kernel" in note for note in result.notes)
    used = [kind for kinds in result.schedule.scheduled.values() for kind in kinds]
    assert "fft_conv.out:generic" in used
    assert not any(kind.startswith("monarch") for kind in used)
