"""CUDA code generation on a machine without a GPU (needs nvcc): tensor-core
instructions in the Monarch kernel, nvcc fatbins, shared memory within the arch's
limit, and whole models compiled into artifacts holding a fatbin."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import pytest

from fftc.cli.main import main
from fftc.codegen.cuda import FATBIN_MAGIC, STATIC_SHARED_BYTES, arch_info
from fftc.errors import CompileError
from fftc.kernels.cuda.build import (
    KernelResources,
    MonarchBuild,
    check_shared_memory,
    compile_monarch,
    kernel_resources,
)
from tests.conftest import EXAMPLES

HYENA = EXAMPLES / "onnx" / "hyena_block.onnx"


@pytest.fixture(scope="module")
def fp16_sm90(nvcc: str) -> MonarchBuild:
    return compile_monarch(64 * 8, 8, 1024, "float16", "sm_90")


@pytest.fixture(scope="module")
def bf16_sm80(nvcc: str) -> MonarchBuild:
    return compile_monarch(64, 4, 4096, "bfloat16", "sm_80")


def test_fp16_kernel_uses_tensor_cores(fp16_sm90: MonarchBuild) -> None:
    src = fp16_sm90.source
    assert fp16_sm90.uses_tensor_cores
    # four DFT matmul stages, each with its own tensor-core loop
    assert len(re.findall(r"wmma::mma_sync", src)) >= 4
    assert re.search(r"wmma::fragment<(nvcuda::)?wmma::matrix_a, 16, 16, 16, half", src)
    assert re.search(r"wmma::fragment<(nvcuda::)?wmma::accumulator, 16, 16, 16, float>", src)


def test_bf16_kernel_uses_tensor_cores(bf16_sm80: MonarchBuild) -> None:
    assert bf16_sm80.uses_tensor_cores
    assert re.search(r"wmma::matrix_a, 16, 16, 16, (nv_bfloat16|__nv_bfloat16)", bf16_sm80.source)


def test_fp32_kernel_runs_on_cuda_cores(nvcc: str) -> None:
    build = compile_monarch(16, 4, 256, "float32", "sm_90")
    assert not build.uses_tensor_cores
    assert "__global__" in build.source


def test_nvcc_compiles_the_kernel_into_a_fatbin(fp16_sm90: MonarchBuild, tmp_path: Path) -> None:
    lib = fp16_sm90.export(tmp_path / "monarch.so")
    data = lib.read_bytes()
    assert FATBIN_MAGIC in data
    assert b"wmma::mma_sync" not in data  # binary code, not CUDA source


@pytest.mark.parametrize("which", ["fp16_sm90", "bf16_sm80"])
def test_shared_memory_within_the_arch_limit(which: str, request: pytest.FixtureRequest) -> None:
    build: MonarchBuild = request.getfixturevalue(which)
    resources = kernel_resources(build.source, build.arch)
    assert len(resources) == 1  # the fused kernel (staged: test_fft_conv_fused.py)
    used = max(r.shared_bytes for r in resources)
    assert 0 < used <= STATIC_SHARED_BYTES <= arch_info(build.arch).max_shared_bytes
    check_shared_memory(resources, build.arch)


def test_shared_memory_check_refuses_too_much() -> None:
    with pytest.raises(CompileError, match="sm_80 allows 166912"):
        check_shared_memory([KernelResources("k", 32, 200 * 1024)], "sm_80")


def test_hyena_compiles_to_an_artifact_with_a_fatbin(nvcc: str, tmp_path: Path) -> None:
    out = tmp_path / "x.fftc"
    rc = main(
        ["-q", "compile", str(HYENA), "--target", "cuda:sm_90", "--dtype", "fp16", "-o", str(out)]
    )
    assert rc == 0
    with zipfile.ZipFile(out) as zf:
        library = zf.read("module.so")
        manifest = json.loads(zf.read("manifest.json"))
    assert FATBIN_MAGIC in library
    assert b"__global__" not in library  # no CUDA source left for a load-time compiler
    assert manifest["target"]["kind"] == "cuda"
    assert manifest["target"]["arch"] == "sm_90"
    assert manifest["target"]["dtype"] == "float16"


def test_running_a_cuda_artifact_without_a_gpu_is_a_clear_error(
    nvcc: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from fftc.runtime import tvm_runtime

    if tvm_runtime.cuda_runtime_error() is None:
        pytest.skip("this machine has a GPU")
    out = tmp_path / "h.fftc"
    assert main(["-q", "compile", str(HYENA), "--target", "cuda:sm_80", "-o", str(out)]) == 0
    capsys.readouterr()
    assert main(["run", str(out), "--random"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("fftc: error: hyena_block was compiled for CUDA sm_80")
    assert "needs an NVIDIA GPU" in err


def test_inspect_prints_the_cuda_source(nvcc: str, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(
        ["inspect", str(HYENA), "--target", "cuda:sm_90", "--dtype", "fp16", "--stage", "cuda"]
    )
    assert rc == 0
    src = capsys.readouterr().out
    assert src.count("__global__") >= 5
    assert "blockIdx.x" in src


def test_cuda_stage_only_for_cuda_targets(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(HYENA), "--stage", "cuda"]) == 2
    assert "exists for cuda targets only" in capsys.readouterr().err
    assert main(["inspect", "--list-stages", "--target", "cuda:sm_90"]) == 0
    assert capsys.readouterr().out.split()[-1] == "cuda"
    assert main(["inspect", "--list-stages"]) == 0
    assert "cuda" not in capsys.readouterr().out.split()
