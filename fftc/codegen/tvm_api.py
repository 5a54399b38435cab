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
from tvm.s_tir import dlight, meta_schedule
from tvm.s_tir.schedule import SBlockRV, Schedule
from tvm.sym.analyzer import Analyzer
from tvm.target import Target

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
    "host_cpu",
    "llvm_target",
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
