"""From a (pass-processed) fftc graph to a TVM executable.

Stages, each recorded for ``fftc inspect --stage``:

* ``relax``  - the graph lowered to Relax (fftc kernels as ``call_tir``);
* ``fused``  - after TVM's legalization and operator fusion (FuseOps/FuseTIR);
* ``tir``    - after fftc's schedule templates were applied;
* then ``tvm.compile`` produces the executable (``llvm``: native code;
  ``cuda``: a fatbin from nvcc, its CUDA source shown as stage ``cuda``).

CUDA targets take the branch in ``cuda_build``/``cuda_schedule``: ``--dtype``
precision on the Relax module, dlight GPU rules and fftc's CUDA templates
instead of the CPU templates, and nvcc through the driver stub.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fftc.codegen.lower import lower_graph
from fftc.codegen.schedule import ScheduleReport, TunedLookup, apply_schedules
from fftc.codegen.tvm_api import Target, relax, tvm
from fftc.errors import CompileError
from fftc.ir import Graph
from fftc.target import TargetSpec

log = logging.getLogger("fftc.build")

StageHook = Callable[[str, Any], None]


def tvm_target(spec: TargetSpec) -> Any:
    if spec.kind == "llvm":
        from fftc.codegen.tvm_api import llvm_target

        return llvm_target(spec.arch, spec.num_cores)
    if spec.kind == "cuda":
        from fftc.codegen.cuda_build import cuda_tvm_target

        return cuda_tvm_target(spec)
    raise CompileError(f"target {spec} is not supported by this backend")


@dataclass
class BuildResult:
    executable: Any
    schedule: ScheduleReport
    notes: list[str]
    #: stage ``fuse-blocks``: one line per fftc kernel and the ops fused into it
    fusion: list[str] = field(default_factory=list)


def _legalize_and_fuse(mod: Any, target: Target) -> Any:
    """TVM's fast exp/erf/tanh (vectorisable; within ~3e-7 relative of libm), then
    legalization and fusion."""
    with target:
        mod = relax.transform.FastMathTransform()(mod)
        return relax.get_pipeline("zero")(mod)


def build(
    graph: Graph,
    spec: TargetSpec,
    on_stage: StageHook | None = None,
    knobs: Mapping[str, dict[str, int | str]] | None = None,
    stop_after: str | None = None,
    tuned: TunedLookup | None = None,
    dtype: str = "float32",
) -> BuildResult | None:
    """Compile ``graph``; ``on_stage(name, module)`` sees every backend stage.

    With ``stop_after`` set to a stage name, returns None after that stage.
    ``tuned`` looks PrimFuncs up in a tuning log (``fftc.tune``); those it lacks get
    the default templates.  ``dtype`` (cuda only): the compute precision of matmuls.
    """
    hook = on_stage or (lambda _name, _mod: None)
    target = tvm_target(spec)
    t0 = time.perf_counter()
    mod, ctx = lower_graph(graph, knobs, target_kind=spec.kind, compute_dtype=dtype)
    if spec.kind == "cuda":
        from fftc.codegen.cuda_build import apply_precision

        mod, note = apply_precision(mod, dtype, monarch_ops=len(ctx.monarch_ops))
        ctx.notes.append(note)
    hook("relax", mod)
    if stop_after == "relax":
        return None
    try:
        mod = _legalize_and_fuse(mod, target)
    except Exception as err:
        raise CompileError(f"TVM legalization/fusion failed: {_short(err)}") from err
    hook("fused", mod)
    if stop_after == "fused":
        return None
    from fftc.codegen.fusion_report import fusion_notes, fusion_text

    fusion = fusion_notes(mod)
    hook("fuse-blocks", fusion_text(mod))
    if spec.kind == "cuda":
        from fftc.codegen.cuda_schedule import schedule_cuda

        mod, report = schedule_cuda(mod, target)
    else:
        mod, report = apply_schedules(mod, target, tuned=tuned)
    for name, why in report.failed.items():
        log.warning("schedule of %s failed (%s); it runs unscheduled", name, why)
    hook("tir", mod)
    if stop_after == "tir":
        return None
    if spec.kind == "cuda":
        from fftc.codegen.cuda_build import compile_cuda
        from fftc.codegen.tvm_api import cuda_source

        ex = compile_cuda(mod, target)
        hook("cuda", cuda_source(ex))
        return BuildResult(ex, report, ctx.notes, fusion)
    try:
        with target:
            ex = tvm.compile(mod, target=target)
    except Exception as err:
        raise CompileError(f"TVM code generation failed: {_short(err)}") from err
    log.info("backend took %.2f s", time.perf_counter() - t0)
    return BuildResult(ex, report, ctx.notes, fusion)


def _short(err: BaseException) -> str:
    lines = [ln for ln in str(err).strip().splitlines() if ln.strip()]
    return lines[-1] if lines else type(err).__name__
