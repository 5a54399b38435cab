"""Apply fftc's schedule templates to every PrimFunc of a fused Relax module.

For each PrimFunc (after Relax's FuseOps/FuseTIR):

1. blocks tagged ``{"fftc.kernel": KIND}`` are scheduled by the template
   registered for ``(target kind, KIND)`` (``schedules/``);
2. untagged injective blocks are inlined into their neighbours where TVM
   allows it;
3. whatever remains untagged gets the generic template (``"generic"``):
   spatial loops fused, parallelised and vectorised.

A template that fails raises; the driver then falls back to the unscheduled
function for that PrimFunc and records why, so a bad schedule costs speed,
never correctness.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from fftc.codegen.check import lowering_error, unguarded_writes
from fftc.codegen.tvm_api import Schedule, Target, ir, tirx
from fftc.schedules.base import KERNEL_ATTR, DefaultKnobs, KnobSource, lookup
from fftc.schedules.inline import covers_producers, duplicates_work, unsafe_to_inline

log = logging.getLogger("fftc.schedule")

#: the template used for blocks that carry no ``fftc.kernel`` tag
GENERIC_KERNEL = "generic"


@dataclass
class ScheduleReport:
    """What the driver did, per PrimFunc (shown by ``fftc inspect --explain``)."""

    scheduled: dict[str, list[str]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    #: with a tuning log: the PrimFuncs scheduled from it, and those that fell back to
    #: the default templates (with why)
    tuned: list[str] = field(default_factory=list)
    untuned: dict[str, str] = field(default_factory=dict)


#: ``lookup(name, func)``: a tuned, scheduled version of ``func`` (from a tuning log),
#: or a reason (str) why there is none
TunedLookup = Callable[[str, tirx.PrimFunc], "tirx.PrimFunc | str"]


def block_kernel(sch: Schedule, block: object) -> str | None:
    """The ``fftc.kernel`` tag of a block, if it has one."""
    annotations = sch.get(block).annotations
    if KERNEL_ATTR in annotations:
        return str(annotations[KERNEL_ATTR])
    return None


def _leaf_blocks(sch: Schedule) -> list[object]:
    root = sch.get_sblock("root") if _has_root(sch) else None
    if root is None:
        return []
    return list(sch.get_child_blocks(root))


def _has_root(sch: Schedule) -> bool:
    try:
        sch.get_sblock("root")
    except Exception:  # a function without a root block has nothing to schedule
        return False
    return True


def _try_inline(sch: Schedule, block: object, reverse: bool) -> bool:
    """Inline ``block`` into its consumer (or, reversed, its producer) if TVM allows it."""
    if reverse and not covers_producers(sch, block):
        return False
    if not reverse and any(unsafe_to_inline(sch, block, c) for c in sch.get_consumers(block)):
        return False
    if not reverse and any(duplicates_work(sch, block, c) for c in sch.get_consumers(block)):
        return False
    if reverse and any(duplicates_work(sch, p, block) for p in sch.get_producers(block)):
        return False
    if reverse and any(unsafe_to_inline(sch, p, block) for p in sch.get_producers(block)):
        return False
    try:
        if reverse:
            sch.reverse_compute_inline(block)
        else:
            sch.compute_inline(block)
    except Exception:  # a schedule primitive refused: the block stays as it is
        return False
    return True


def inline_untagged(sch: Schedule) -> None:
    """Inline injective blocks without an ``fftc.kernel`` tag, until nothing changes."""
    changed = True
    while changed:
        changed = False
        for block in _leaf_blocks(sch):
            if block_kernel(sch, block) is not None:
                continue
            if _try_inline(sch, block, reverse=False) or _try_inline(sch, block, reverse=True):
                changed = True
                break


def schedule_func(
    func: tirx.PrimFunc, target: Target, knobs: KnobSource | None = None
) -> tuple[tirx.PrimFunc, list[str]]:
    """Schedule one PrimFunc; returns the new function and the templates used.

    The blocks present after inlining are visited in order.  A template may
    absorb later blocks (an epilogue computed at its output tile) and create
    new ones (a cache, an init block): those belong to it and are not visited.
    """
    sch = Schedule(ir.IRModule({"main": func}))
    used = schedule_blocks(sch, target, knobs or DefaultKnobs())
    return sch.mod["main"], used


def schedule_blocks(sch: Schedule, target: Target, knobs: KnobSource) -> list[str]:
    """Schedule the function ``main`` of ``sch`` in place (see :func:`schedule_func`);
    used directly by ``fftc tune`` to trace the templates into MetaSchedule design spaces."""
    kind = str(target.kind.name)
    inline_untagged(sch)
    used: list[str] = []
    todo = [str(sch.get(b).name_hint) for b in _leaf_blocks(sch)]
    for block_name in todo:
        block = next((b for b in _leaf_blocks(sch) if sch.get(b).name_hint == block_name), None)
        if block is None:  # absorbed by an earlier template
            continue
        name = block_kernel(sch, block) or GENERIC_KERNEL
        tmpl = lookup(kind, name)
        if tmpl is None:
            log.debug("no %s template for kernel %r", kind, name)
            continue
        tmpl.apply(sch, block, target, knobs)
        used.append(name)
    return used


def apply_schedules(
    mod: ir.IRModule,
    target: Target,
    knobs: KnobSource | None = None,
    tuned: TunedLookup | None = None,
) -> tuple[ir.IRModule, ScheduleReport]:
    """Schedule every PrimFunc of ``mod`` that is not scheduled yet.

    With ``tuned`` (a tuning log's lookup), a PrimFunc the log has a safe schedule
    for takes it; the others get the default templates.  CUDA targets never get the
    CPU templates: they are scheduled by ``cuda_schedule.schedule_cuda`` instead.
    """
    if str(target.kind.name) == "cuda":
        from fftc.codegen.cuda_schedule import schedule_cuda

        return schedule_cuda(mod, target, knobs)
    report = ScheduleReport()
    updated = {}
    for gvar, func in mod.functions_items():
        if not isinstance(func, tirx.PrimFunc):
            continue
        if func.attrs is not None and "tirx.is_scheduled" in func.attrs:
            continue
        name = str(gvar.name_hint)
        if tuned is not None:
            found = tuned(name, func)
            problem = found if isinstance(found, str) else _unsafe(found, target)
            if problem is None and not isinstance(found, str):
                updated[gvar] = found.with_attr("tirx.is_scheduled", True)
                report.scheduled[name] = ["tuning log"]
                report.tuned.append(name)
                continue
            report.untuned[name] = str(problem)
        try:
            new_func, used = schedule_func(func, target, knobs)
        except Exception as err:  # keep the correct, unscheduled function
            log.debug("scheduling %s failed, left unscheduled: %s", name, err)
            report.failed[name] = _one_line(err)
            continue
        problem = _unsafe(new_func, target)
        if problem is not None:  # a schedule that is unsafe or cannot lower is not used
            report.failed[name] = problem
            continue
        updated[gvar] = new_func.with_attr("tirx.is_scheduled", True)
        report.scheduled[name] = used
    for gvar, func in updated.items():
        mod[gvar] = func
    return mod, report


def _unsafe(func: tirx.PrimFunc, target: Target) -> str | None:
    """Why a scheduled function must not be used (unguarded writes, fails to lower)."""
    problems = unguarded_writes(func)
    if problems:
        return str(problems[0])
    lowering = lowering_error(func, target)
    return f"lowering: {lowering}" if lowering else None


def _one_line(err: BaseException) -> str:
    lines = [ln.strip() for ln in str(err).strip().splitlines() if ln.strip()]
    for ln in lines:
        if ln.startswith("Error message:"):
            return ln.removeprefix("Error message:").strip()
    return lines[-1] if lines else type(err).__name__
