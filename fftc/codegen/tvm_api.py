"""The one module through which fftc imports TVM's compiler (apache-tvm 0.27).

Everything version-specific about TVM lives here: the 0.27 module names
(``tvm.s_tir``, ``tvm.tirx``, ``tvm.script.tirx``), target construction from
dicts, and the CPU detection quirk.  The rest of fftc imports TVM names from
this module only, so a TVM upgrade touches one file.

The deployed runtime side (``fftc.runtime``) must work with a runtime-only
TVM and therefore imports ``tvm.runtime`` through ``fftc.runtime.tvm_runtime``
instead of this module.
"""

from __future__ import annotations

from typing import Any

import tvm
from tvm import ir, relax, te, tirx, topi
from tvm import runtime as tvm_runtime
from tvm.ir.expr import TensorLoad
from tvm.ir.utils import derived_object
from tvm.s_tir import dlight, meta_schedule
from tvm.s_tir.analysis import estimate_tir_flops
from tvm.s_tir.schedule import SBlockRV, Schedule
from tvm.sym.analyzer import Analyzer
from tvm.target import Target
from tvm_ffi import structural_equal, structural_hash

import fftc.threads  # noqa: F401  (before TVM starts its thread pool)

__all__ = [
    "Schedule",
    "SBlockRV",
    "Target",
    "TensorLoad",
    "Analyzer",
    "dlight",
    "ir",
    "meta_schedule",
    "relax",
    "tir_lowering_passes",
    "te",
    "tirx",
    "topi",
    "tvm",
    "tvm_runtime",
    "tvm_version",
    "structural_equal",
    "structural_hash",
    "derived_object",
    "estimate_tir_flops",
    "host_cpu",
    "llvm_target",
    "relax_from_onnx",
    "build_relax_untuned",
    "runtime_threads",
]


def tvm_version() -> str:
    """The installed TVM version string."""
    return str(tvm.__version__)


def host_cpu() -> str:
    """The LLVM name of this machine's CPU (e.g. ``znver5``).

    ``"mcpu": "native"`` silently falls back to a generic CPU with the wheel's
    LLVM triple, so fftc always names the CPU explicitly.
    """
    return str(tvm.target.codegen.llvm_get_system_cpu())


def llvm_target(mcpu: str | None = None, num_cores: int | None = None) -> Target:
    """An x86-64 LLVM target for ``mcpu`` (default: this machine's CPU)."""
    import os

    cores = num_cores if num_cores is not None else (os.cpu_count() or 1)
    return Target(
        {
            "kind": "llvm",
            "mtriple": "x86_64-unknown-linux-gnu",
            "mcpu": mcpu or host_cpu(),
            "num-cores": cores,
        }
    )


def tir_lowering_passes() -> Any:
    """TVM 0.27's TIR lowering passes up to buffer flattening and storage rewriting
    (the part of ``s_tir.pipeline.default_s_tir_pipeline`` that rejects malformed
    schedules), as one pass."""
    from tvm import s_tir

    return tvm.transform.Sequential(
        [
            s_tir.transform.CanonicalizeLoop(),
            s_tir.transform.LowerInitBlock(),
            s_tir.transform.PlanAndUpdateBufferAllocationLocation(),
            s_tir.transform.ConvertBlocksToOpaque(),
            s_tir.transform.CompactBufferAllocation(),
            s_tir.transform.LowerMatchBuffer(),
            s_tir.transform.StmtSimplify(),
            s_tir.transform.LowerOpaqueBlock(),
            tirx.transform.FlattenBuffer(),
            tirx.transform.NarrowDataType(32),
            tirx.transform.VectorizeLoop(True),
            tirx.transform.StorageRewrite(),
        ]
    )


def relax_from_onnx(model: Any) -> Any:
    """TVM's own ONNX frontend (initializers become Relax constants); raises TVM's error
    for ops it has no converter for (e.g. DFT in 0.27)."""
    from tvm.relax.frontend import onnx as relax_onnx

    return relax_onnx.from_onnx(model, keep_params_in_input=False)


def build_relax_untuned(mod: Any, target: Target) -> Any:
    """Compile a Relax module the way plain TVM does, without fftc's passes or tuning:
    the ``"zero"`` pipeline (legalize, fold constants, fuse) and ``tvm.compile``."""
    with target:
        mod = relax.get_pipeline("zero")(mod)
    return tvm.compile(mod, target=target)


def runtime_threads() -> int:
    """The number of threads of TVM's runtime thread pool (fixed when TVM starts)."""
    return int(tvm.get_global_func("runtime.NumThreads")())


def cuda_target(config: dict[str, Any]) -> Target:
    """A CUDA target from a config dict (``fftc.codegen.cuda.target_config``)."""
    return Target(config)


def cuda_runtime_loaded() -> bool:
    """Whether ``libtvm_runtime_cuda.so`` is loaded (it registers the CUDA module loader)."""
    return tvm.get_global_func("ffi.Module.create.cuda", allow_missing=True) is not None


def load_cuda_runtime() -> None:
    """Load ``libtvm_runtime_cuda.so`` as TVM's CUDA backend does at import (where it
    fails silently without a driver); the caller has loaded a driver first."""
    from pathlib import Path

    from tvm.base import _LOADED_LIBS
    from tvm_ffi.libinfo import load_lib_ctypes

    runtime_dir = Path(_LOADED_LIBS["tvm_runtime"]._name).resolve().parent
    _LOADED_LIBS["tvm_runtime_cuda"] = load_lib_ctypes(
        package="tvm",
        target_name="tvm_runtime_cuda",
        extra_lib_paths=[runtime_dir],
        mode="RTLD_LOCAL",
    )


def cuda_source(executable: Any) -> str:
    """The CUDA C source of every device module of a compiled executable."""
    sources = []
    pending = list(executable.mod.imports)
    while pending:
        module = pending.pop(0)
        if str(module.kind) == "cuda":
            text = str(module.inspect_source("cuda"))
            if text:
                sources.append(text)
        pending.extend(module.imports)
    return "\n".join(sources)


def cuda_tensor_intrinsics() -> Any:
    """``tvm.s_tir.tensor_intrin.cuda`` (importing it registers the WMMA/MMA intrinsics)."""
    import tvm.s_tir.tensor_intrin.cuda as intrinsics

    return intrinsics


def block_realize(sch: Schedule, block: SBlockRV) -> Any:
    """The ``SBlockRealize`` of a block (its iterator bindings)."""
    return tvm.get_global_func("s_tir.schedule.GetSBlockRealize")(sch, block)


def loop_vars_used(expr: Any) -> set[Any]:
    """The variables an expression reads."""
    return set(tirx.analysis.undefined_vars(expr))
