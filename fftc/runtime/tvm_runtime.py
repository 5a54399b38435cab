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


#: TVM's allocation alignment; its generated CPU kernels may assume it for their
#: arguments (a 4- or 16-byte-aligned input segfaulted the GFNet filter's kernel)
ALIGNMENT = 64
_CPU = 1  # DLPack's kDLCPU


def _shareable(t: Any) -> bool:
    return bool(t.is_contiguous()) and int(t.data_ptr()) % ALIGNMENT == 0


def to_device(array: Any, dev: Any) -> Any:
    """A VM argument for ``array`` on ``dev``.

    Shared without a copy when it is already on ``dev``'s kind of device, C-contiguous
    and 64-byte aligned (NumPy arrays on the CPU, DLPack tensors such as torch's);
    copied otherwise, to a 64-byte-aligned buffer (NumPy's for NumPy arrays on the CPU,
    TVM's for the rest). Kernels never write their inputs, so sharing is safe."""
    tvm = _tvm()
    import tvm_ffi

    on_cpu = dev.dlpack_device_type() == _CPU
    if isinstance(array, np.ndarray):
        if on_cpu:
            if not (array.flags.c_contiguous and array.ctypes.data % ALIGNMENT == 0):
                array = _aligned_copy(array)
            try:
                return tvm_ffi.from_dlpack(array)
            except (BufferError, TypeError, ValueError, RuntimeError):
                pass  # a dtype or flag DLPack cannot carry: TVM copies it
        return tvm.runtime.tensor(np.require(array, requirements="C"), dev)
    t = tvm_ffi.from_dlpack(array)
    if t.device.dlpack_device_type() == dev.dlpack_device_type() and _shareable(t):
        return t
    if not t.is_contiguous():  # TVM copies only contiguous tensors: the framework's copy
        contiguous = getattr(array, "contiguous", None)  # torch
        if contiguous is None:
            raise ValueError("a non-contiguous tensor without .contiguous(); pass a copy")
        t = tvm_ffi.from_dlpack(contiguous())
    out = tvm.runtime.empty(tuple(t.shape), str(t.dtype), dev)  # aligned, on ``dev``
    out.copyfrom(t)
    return out


def _aligned_copy(array: np.ndarray) -> np.ndarray:
    """A C-contiguous copy at a 64-byte boundary (NumPy aligns to 16; copying here is
    several times cheaper than TVM's own allocate-and-copy for small inputs)."""
    buf = np.empty(array.nbytes + ALIGNMENT, np.uint8)
    start = -buf.ctypes.data % ALIGNMENT
    out = buf[start : start + array.nbytes].view(array.dtype).reshape(array.shape)
    np.copyto(out, array)
    return out


def host_array(tensor: Any, inputs: list[Any]) -> np.ndarray:
    """A CPU result as NumPy without a copy (the array keeps TVM's tensor alive), unless
    it shares memory with an input (a model that returns an input as it is): then a
    copy, so that the caller's arrays stay separate."""
    if tensor.device.dlpack_device_type() != _CPU:
        return np.asarray(tensor.numpy())
    ptr = int(tensor.data_ptr())
    if any(int(a.data_ptr()) == ptr for a in inputs):
        return np.asarray(tensor.numpy())
    try:
        return np.from_dlpack(tensor)
    except (BufferError, TypeError, ValueError, RuntimeError):  # bfloat16: NumPy's DLPack
        return np.asarray(tensor.numpy())  # has no such dtype; TVM converts (ml_dtypes)


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
