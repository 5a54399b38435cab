"""Running a CUDA-scheduled Monarch function on the host: the schedule's thread-bound
loops made serial and its shared memory global give a CPU program that computes what
the kernels compute (stages one after the other, as ``__syncthreads()`` orders them on
the GPU), so the fused schedules' index maps (``compute_at`` / ``reverse_compute_at``
regions, re-indexed outputs) are checked against the unscheduled function without a
GPU.  fp32 only: WMMA intrinsics have no CPU lowering."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from fftc.ir import Graph


def cuda_target(arch: str = "sm_90") -> Any:
    from fftc.codegen.cuda import target_config
    from fftc.codegen.tvm_api import cuda_target as make

    return make(target_config(arch))


def monarch_func(mod: Any) -> Any:
    """The Monarch PrimFunc of a Relax module, alone in an IRModule as ``main``."""
    from fftc.codegen.tvm_api import ir, tirx

    (func,) = [f for g, f in mod.functions_items()
               if isinstance(f, tirx.PrimFunc) and "monarch" in g.name_hint]  # fmt: skip
    return ir.IRModule({"main": func})


def fused_module(graph: Graph, dtype: str) -> Any:
    """The Relax module ``build`` schedules for ``cuda:sm_90`` (after fusion)."""
    from fftc.codegen.build import build
    from fftc.target import parse_target

    stages: dict[str, Any] = {}
    build(graph, parse_target("cuda:sm_90"), dtype=dtype, stop_after="fused",
          on_stage=lambda name, ir: stages.__setitem__(name, ir))  # fmt: skip
    return stages["fused"]


def threads_serial(func: Any) -> Any:
    """``func`` with every thread-bound loop serial and shared memory global."""
    from fftc.codegen.tvm_api import tvm

    text = re.sub(r'T\.thread_binding\(([^,]+), thread="[^"]+"\)', r"range(\1)", func.script())
    text = re.sub(r'scope="shared(\.dyn)?"', 'scope="global"', text)
    parsed = tvm.script.from_source(text)
    return parsed["main"] if hasattr(parsed, "functions_items") else parsed


def run_on_host(func: Any, inputs: list[np.ndarray]) -> np.ndarray:
    """Run ``func`` (its last parameter the output) on the CPU; the output, float64."""
    from fftc.codegen.tvm_api import ir, llvm_target, tvm

    target = llvm_target()
    with target:
        ex = tvm.compile(ir.IRModule({"main": func.with_attr("global_symbol", "main")}), target)
    dev = tvm.cpu()
    args = [tvm.runtime.tensor(a, dev) for a in inputs]
    ex["main"](*args)
    return np.asarray(args[-1].numpy(), np.float64)


def schedule_and_compare(graph: Graph) -> tuple[list[str], float]:
    """The fp32 Monarch function of ``graph`` scheduled for sm_90: its schedule report
    entries and the largest difference of its host run from the unscheduled function's,
    relative to the largest output (random inputs, the output buffer random too, so a
    point the schedule skips shows)."""
    from fftc.codegen.cuda_schedule import schedule_fftc_kernels

    func = monarch_func(fused_module(graph, "float32"))["main"]
    scheduled, used = schedule_fftc_kernels(func, cuda_target())
    rng = np.random.default_rng(0)
    inputs = [rng.standard_normal([int(d) for d in p.shape]).astype(str(p.dtype))
              for p in func.params]  # fmt: skip
    exact = run_on_host(func, inputs)
    got = run_on_host(threads_serial(scheduled), inputs)
    return used, float(np.abs(got - exact).max() / np.abs(exact).max())
