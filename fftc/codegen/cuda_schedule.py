"""Scheduling a fused Relax module for a CUDA target.

* A PrimFunc with blocks of fftc's own kernels (tagged ``fftc.kernel``: FFT
  stages, the fused FFT convolution, direct convolutions, the Monarch FFT
  convolution's stages) is scheduled by fftc: untagged injective blocks (e.g.
  an epilogue Relax fused in) are inlined with the bounded inliner the CPU
  path uses, then every remaining block gets the CUDA template registered
  for its tag (``monarch.matmul``: WMMA tensor cores, ``schedules/cuda/
  monarch.py``), or the thread-binding template (``schedules/cuda/threads.py``).
* A PrimFunc holding exactly the Monarch stages of a two-factor plan (N <= 4096)
  and its output block is first given the fused schedule (``schedules/cuda/
  monarch_fused.py``: one CUDA kernel, every stage in shared memory) unless its
  knob ``fused`` is off; one of the outer plan (N > 4096) gets three kernels
  (outer forward, inner, outer inverse with the output; four when the output
  cannot join).  When TVM or the shared-memory limit refuses it, the stages get
  their own kernels as above, and the ``[schedule]`` line says why.
* Every other PrimFunc gets TVM's dlight default GPU rules, in order:
  ``Matmul`` (WMMA tensor cores for fp16/bf16 operands when M, N, K > 64),
  ``GEMV``, ``Reduction``, ``GeneralReduction``, ``Fallback``.
* fftc's CPU templates (``schedules/cpu``) are never applied.

A PrimFunc that neither path can give thread bindings is refused with an
error naming it: GPU code without thread bindings does not compile.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

from fftc.codegen.schedule import ScheduleReport, _one_line, block_kernel, inline_untagged
from fftc.codegen.tvm_api import Schedule, Target, dlight, ir, tirx
from fftc.errors import CompileError
from fftc.schedules.base import DefaultKnobs, KnobSource, KnobValue, lookup

log = logging.getLogger("fftc.schedule")

#: the schedule report's name of the fused Monarch schedule
FUSED_TAG = "monarch.fused"
#: the attribute TVM (and dlight) use to mark a scheduled PrimFunc
SCHEDULED_ATTR = "tirx.is_scheduled"


#: knob values ``schedule_cuda`` uses when its caller passes none (see :func:`cuda_knobs`)
_OVERRIDES: ContextVar[Mapping[str, KnobValue] | None] = ContextVar("fftc_cuda_knobs", default=None)


@contextmanager
def cuda_knobs(overrides: Mapping[str, KnobValue]) -> Iterator[None]:
    """Within the block, CUDA builds (``fftc.compile``, ``fftc.codegen.build``) schedule
    with these knob values instead of the defaults (e.g. ``{"fused": False}``)."""
    token = _OVERRIDES.set(dict(overrides))
    try:
        yield
    finally:
        _OVERRIDES.reset(token)


def _load_cuda_templates() -> None:
    from fftc.schedules import cuda  # noqa: F401  (registers the CUDA templates)


def _leaf_blocks(sch: Schedule) -> list[object]:
    try:
        root = sch.get_sblock("root")
    except Exception:  # a function without a root block has nothing to schedule
        return []
    return list(sch.get_child_blocks(root))


def has_fftc_kernel(func: tirx.PrimFunc) -> bool:
    sch = Schedule(ir.IRModule({"main": func}))
    return any(block_kernel(sch, b) is not None for b in _leaf_blocks(sch))


def schedule_fftc_kernels(
    func: tirx.PrimFunc, target: Target, knobs: KnobSource | None = None
) -> tuple[tirx.PrimFunc, list[str]]:
    """Schedule a PrimFunc holding fftc kernel blocks with the CUDA templates (a
    two-factor Monarch function: fused into one kernel first, see module doc)."""
    knobs = knobs or DefaultKnobs(_OVERRIDES.get() or {})
    sch, used = schedule_kernels(Schedule(ir.IRModule({"main": func})), target, knobs)
    return sch.mod["main"], used


def schedule_kernels(
    sch: Schedule, target: Target, knobs: KnobSource
) -> tuple[Schedule, list[str]]:
    """:func:`schedule_fftc_kernels` on the function ``main`` of ``sch``: the scheduled
    Schedule (``sch`` itself, or a copy of it when fused: its trace continues ``sch``'s,
    which ``fftc tune`` uses to trace knob choices into design spaces) and the templates
    used."""
    _load_cuda_templates()
    fused = _try_fused(sch, target, knobs)
    if isinstance(fused, tuple):
        return fused[0], [f"{FUSED_TAG}:{fused[1]}"]
    inline_untagged(sch)
    used: list[str] = [] if fused is None else [f"{FUSED_TAG}: {fused}"]
    for name in [str(sch.get(b).name_hint) for b in _leaf_blocks(sch)]:
        block = next((b for b in _leaf_blocks(sch) if sch.get(b).name_hint == name), None)
        if block is None:  # absorbed by an earlier template
            continue
        kind = block_kernel(sch, block)
        tmpl = (lookup("cuda", kind) if kind else None) or lookup("cuda", "generic")
        assert tmpl is not None
        tmpl.apply(sch, block, target, knobs)
        used.append(f"{kind or 'untagged'}:{tmpl.kernel}")
    return sch, used


def _try_fused(
    base: Schedule, target: Target, knobs: KnobSource
) -> tuple[Schedule, str] | str | None:
    """A copy of ``base`` fused (one kernel, three for the outer plan) with a summary
    (``one kernel (...)``, ``3 kernels (...)``), or why not (a Monarch function the fused
    schedule refused), or None (not a Monarch function of either plan)."""
    from fftc.schedules.cuda.monarch_fused import FusionRefused, apply_fused, fusable_output_block

    sch = base.copy()
    inline_untagged(sch)
    out = fusable_output_block(sch, _leaf_blocks(sch))
    if out is None:
        return None
    try:
        summary = apply_fused(sch, out, target, knobs)
    except FusionRefused as err:
        why = str(err)
    except Exception as err:  # a TVM schedule primitive refused it
        why = f"TVM: {_one_line(err)}"
    else:
        return sch, summary
    log.info("Monarch kernel not fused: %s", why)
    return f"not fused ({why}); one kernel per stage"


def dlight_rules() -> list[object]:
    gpu = dlight.gpu
    return [gpu.Matmul(), gpu.GEMV(), gpu.Reduction(), gpu.GeneralReduction(), gpu.Fallback()]


def schedule_cuda(
    mod: ir.IRModule, target: Target, knobs: KnobSource | None = None
) -> tuple[ir.IRModule, ScheduleReport]:
    """Schedule every PrimFunc of ``mod`` for ``target`` (see module doc)."""
    report = ScheduleReport()
    for gvar, func in list(mod.functions_items()):
        if not isinstance(func, tirx.PrimFunc):
            continue
        if func.attrs is not None and SCHEDULED_ATTR in func.attrs:
            continue
        name = str(gvar.name_hint)
        if not has_fftc_kernel(func):
            continue
        try:
            new_func, used = schedule_fftc_kernels(func, target, knobs)
        except Exception as err:
            raise CompileError(
                f"no CUDA schedule for {name} (fftc kernels "
                f"{', '.join(_kernel_tags(func))}): {_one_line(err)}"
            ) from err
        mod[gvar] = new_func.with_attr(SCHEDULED_ATTR, True)
        report.scheduled[name] = used
    with target:
        mod = dlight.ApplyDefaultSchedule(*dlight_rules())(mod)
    for gvar, func in mod.functions_items():
        if isinstance(func, tirx.PrimFunc) and str(gvar.name_hint) not in report.scheduled:
            if func.attrs is None or SCHEDULED_ATTR not in func.attrs:
                raise CompileError(
                    f"no CUDA schedule for {gvar.name_hint}: dlight's GPU rules declined it"
                )
            report.scheduled[str(gvar.name_hint)] = ["dlight"]
    return mod, report


def _kernel_tags(func: tirx.PrimFunc) -> list[str]:
    sch = Schedule(ir.IRModule({"main": func}))
    return sorted({block_kernel(sch, b) or "untagged" for b in _leaf_blocks(sch)})
