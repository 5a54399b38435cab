"""``--target cuda:...`` parsing, the TVM target dict, and ``--dtype`` checks (no nvcc)."""

from __future__ import annotations

from pathlib import Path

import pytest

import fftc.codegen.cuda as cuda
from fftc.codegen.cuda_build import compute_dtype
from fftc.errors import UsageError
from fftc.target import parse_target


@pytest.mark.parametrize(
    ("text", "arch"),
    [
        ("cuda:sm_90", "sm_90"),
        ("cuda:sm_80", "sm_80"),
        ("cuda:sm80", "sm_80"),
        ("cuda:SM_86", "sm_86"),
    ],
)
def test_cuda_target_parses(text: str, arch: str) -> None:
    spec = parse_target(text)
    assert (spec.kind, spec.arch, spec.key) == ("cuda", arch, f"cuda:{arch}")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cuda:sm_90a", "use sm_90"),
        ("cuda:sm_61", "supported: sm_75"),
        ("cuda:volta", "unknown CUDA arch"),
        ("rocm", "cuda:sm_XY"),
    ],
)
def test_bad_cuda_targets_are_refused(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_target(text)


def test_cuda_without_arch_and_without_gpu_says_to_name_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cuda, "local_cuda_arch", lambda: None)
    with pytest.raises(UsageError, match=r"name one, e.g. --target cuda:sm_90"):
        parse_target("cuda")


def test_cuda_without_arch_takes_the_local_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cuda, "local_cuda_arch", lambda: "sm_80")
    assert parse_target("cuda").arch == "sm_80"


@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
def test_target_config_has_the_gpu_attributes(arch: str) -> None:
    from fftc.codegen.tvm_api import cuda_target

    target = cuda_target(cuda.target_config(arch))
    assert str(target.kind.name) == "cuda"
    assert str(target.attrs["arch"]) == arch  # never sm_90a: dlight would skip tensor cores
    for key in (
        "max_threads_per_block",
        "max_shared_memory_per_block",
        "thread_warp_size",
        "registers_per_block",
        "max_num_threads",
    ):
        assert int(target.attrs[key]) > 0, key
    assert str(target.host.kind.name) == "llvm"


def test_arch_shared_memory_limits() -> None:
    assert cuda.arch_info("sm_80").max_shared_bytes == 163 * 1024
    assert cuda.arch_info("sm_90").max_shared_bytes == 227 * 1024


def test_dtype_names_and_target_check() -> None:
    spec = parse_target("cuda:sm_90")
    assert compute_dtype("fp16", spec) == "float16"
    assert compute_dtype("bf16", spec) == "bfloat16"
    assert compute_dtype("fp32", parse_target("llvm")) == "float32"
    with pytest.raises(UsageError, match="is for cuda targets"):
        compute_dtype("fp16", parse_target("llvm"))
    with pytest.raises(UsageError, match="unknown --dtype"):
        compute_dtype("fp8", spec)


def test_missing_nvcc_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from fftc.errors import CompileError

    monkeypatch.setattr(cuda, "find_nvcc", lambda: None)
    with pytest.raises(CompileError, match="nvcc was not found"):
        cuda.require_nvcc()


def test_driver_stub_builds_and_exports_the_driver_symbols(tmp_path: Path) -> None:
    import ctypes
    import shutil

    if shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.skip("no C compiler")
    lib = cuda.build_driver_stub(tmp_path)
    assert lib.name == "libcuda.so.1"
    handle = ctypes.CDLL(str(lib))
    for symbol in ("cuModuleLoadData", "cuLaunchKernelEx", "cuTensorMapEncodeTiled"):
        assert getattr(handle, symbol)() == 100  # CUDA_ERROR_NO_DEVICE
    assert cuda.build_driver_stub(tmp_path) == lib  # cached
