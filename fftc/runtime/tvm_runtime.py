"""The runtime side's only door to TVM: loading libraries and running the VM.

Works with a runtime-only TVM install (``TVM_USE_RUNTIME_LIB=1`` or no
``libtvm_compiler.so``): nothing here imports TVM's compiler.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import fftc.threads  # noqa: F401  (before TVM starts its thread pool)


def _tvm() -> Any:
    import tvm

    return tvm


def version() -> str:
    return str(_tvm().__version__)


def load_library(path: str) -> Any:
    return _tvm().runtime.load_module(path)


def device(kind: str) -> Any:
    tvm = _tvm()
    return tvm.cpu(0) if kind == "llvm" else tvm.cuda(0)


def virtual_machine(lib: Any, dev: Any) -> Any:
    from tvm.runtime.vm import VirtualMachine

    return VirtualMachine(lib, dev)


def to_device(array: Any, dev: Any) -> Any:
    """NumPy arrays are copied; DLPack tensors (torch, ...) are shared when on ``dev``."""
    tvm = _tvm()
    if isinstance(array, np.ndarray):
        return tvm.runtime.tensor(np.require(array, requirements="C"), dev)
    import tvm_ffi

    t = tvm_ffi.from_dlpack(array)
    if t.device.dlpack_device_type() != dev.dlpack_device_type():
        return tvm.runtime.tensor(t.numpy(), dev)
    return t


def outputs_of(result: Any) -> list[Any]:
    """The VM returns a single tensor or an array of them."""
    if hasattr(result, "numpy"):
        return [result]
    return list(result)


def time_function(vm: Any, dev: Any, args: list[Any], number: int, repeat: int) -> list[float]:
    """Seconds per call, one value per repeat (TVM's time_evaluator)."""
    timer = vm.time_evaluator("main", dev, number=number, repeat=repeat)
    return [float(r) for r in timer(*args).results]


def cuda_runtime_error() -> str | None:
    """Why CUDA code cannot run here (None when a CUDA device is usable).

    With a runtime-only TVM the CUDA backend is not autoloaded: it is loaded
    here, as ``import tvm`` would."""
    tvm = _tvm()
    if tvm.get_global_func("device_api.cuda", allow_missing=True) is None:
        try:
            from pathlib import Path

            from tvm.base import _LOADED_LIBS
            from tvm_ffi.libinfo import load_lib_ctypes

            runtime_dir = Path(_LOADED_LIBS["tvm_runtime"]._name).resolve().parent
            _LOADED_LIBS["tvm_runtime_cuda"] = load_lib_ctypes(
                package="tvm", target_name="tvm_runtime_cuda",
                extra_lib_paths=[runtime_dir], mode="RTLD_GLOBAL",
            )  # fmt: skip
        except Exception as err:  # no driver (libcuda.so.1) or no CUDA runtime library
            return f"TVM's CUDA runtime did not load ({str(err).strip().splitlines()[0]})"
    if not tvm.cuda(0).exist:
        return "TVM sees no CUDA device (no NVIDIA GPU, or no working driver)"
    return None


def cuda_compute_capability() -> tuple[int, int]:
    """The compute capability of CUDA device 0 (call after :func:`cuda_runtime_error`)."""
    major, _, minor = str(_tvm().cuda(0).compute_version).partition(".")
    return int(major), int(minor or 0)
