"""Design spaces: fftc's schedule templates with their knobs, and MetaSchedule's rules.

**Knob spaces** (every task): the task's PrimFunc is scheduled by the same
driver as a default build (``fftc.codegen.schedule.schedule_blocks``; for CUDA
``fftc.codegen.cuda_schedule.schedule_kernels``, fused Monarch kernel included), first
with every knob at its default to see which knobs its templates read, then
once per *assignment* of those knobs.  Each assignment is recorded in the
schedule's trace as ``sample_categorical`` decisions (one per knob, the
choice index fixed), followed by the template's instructions for those
values; that schedule is one MetaSchedule design space.  Knob grids are
small (a few to a few dozen points); larger ones are sampled (seeded),
always with the default assignment first.  Spaces that schedule to the same
code are kept once, and spaces that fail fftc's safety check (unguarded
writes) are dropped.

Templates make strategy decisions in Python from knob values (a lane count
that divides a loop, whether a stage is big enough for threads), so a knob
is not left as a free random variable for MetaSchedule's mutators to change
behind the template's back: the search moves *between* design spaces, each a
consistent template run.

**MetaSchedule's rules** (``PostOrderApply`` with the target's default
schedule rules, postprocessors and mutators): added for tasks of generic code
(no fftc kernel blocks) whose blocks select values with ``if_then_else``
nowhere (TVM 0.27 miscompiles vectorised selects through reshape arithmetic,
which fftc's own templates avoid).  Kernel tasks (FFT stages, direct
convolutions) are searched with fftc's knobs only.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fftc.codegen.check import unguarded_writes
from fftc.codegen.schedule import schedule_blocks
from fftc.codegen.tvm_api import Schedule, Target, meta_schedule, structural_hash
from fftc.schedules.base import DefaultKnobs, Knob, KnobValue
from fftc.tune.tasks import Task

#: at most this many knob assignments per task
MAX_SPACES = 48


@dataclass
class RecordingKnobs:
    """Knob values from ``values`` (else the default); remembers which knobs were read."""

    values: dict[str, KnobValue] = field(default_factory=dict)
    read: dict[str, Knob] = field(default_factory=dict)

    def get(self, knob: Knob) -> KnobValue:
        self.read[knob.name] = knob
        return DefaultKnobs(self.values).get(knob)


def schedule_for(sch: Schedule, target: Target, knobs: Any) -> Schedule:
    """``sch``'s function scheduled by the default build's driver for ``target`` (the
    returned Schedule's trace continues ``sch``'s)."""
    if str(target.kind.name) == "cuda":
        from fftc.codegen.cuda_schedule import schedule_kernels

        return schedule_kernels(sch, target, knobs)[0]
    schedule_blocks(sch, target, knobs)
    return sch


def knobs_read(sch: Schedule, target: Target) -> list[Knob] | None:
    """The knobs the templates read when scheduling ``sch``'s function; None if they fail."""
    probe = RecordingKnobs()
    try:
        schedule_for(sch.copy(), target, probe)
    except Exception:  # the template fails: this task has no knob space
        return None
    return sorted(probe.read.values(), key=lambda k: k.name)


def assignments(knobs: Sequence[Knob], limit: int, seed: int = 0) -> list[dict[str, KnobValue]]:
    """Knob assignments to try: the default first, then the grid (sampled if larger than
    ``limit``)."""
    default = {k.name: k.default for k in knobs}
    grid = [
        dict(zip([k.name for k in knobs], values, strict=True))
        for values in itertools.product(*(k.choices for k in knobs))
    ]
    rest = [a for a in grid if a != default]
    if len(rest) > limit - 1:
        rest = random.Random(seed).sample(rest, limit - 1)
    return [default, *rest]


def _space(
    sch: Schedule, target: Target, knobs: Sequence[Knob], values: dict[str, KnobValue]
) -> Schedule | None:
    space = sch.copy()
    fixed: dict[str, KnobValue] = {}
    for knob in knobs:
        n = len(knob.choices)
        index = knob.choices.index(values[knob.name])
        rv = space.sample_categorical(
            candidates=list(range(n)), probs=[1.0 / n] * n, decision=index
        )
        fixed[knob.name] = knob.choices[int(space.get(rv))]
    try:
        space = schedule_for(space, target, DefaultKnobs(fixed))
    except Exception:  # this assignment does not apply to this function
        return None
    if unguarded_writes(space.mod["main"]):
        return None
    return space


def knob_spaces(sch: Schedule, target: Target, limit: int = MAX_SPACES) -> list[Schedule]:
    """One design space per distinct knob assignment (see the module doc)."""
    knobs = knobs_read(sch, target)
    if knobs is None:
        return []
    spaces: list[Schedule] = []
    seen: set[int] = set()
    for values in assignments(knobs, limit):
        space = _space(sch, target, knobs, values)
        if space is None:
            continue
        digest = int(structural_hash(space.mod))
        if digest not in seen:
            seen.add(digest)
            spaces.append(space)
    return spaces


def count_knob_spaces(task: Task, target: Target) -> int:
    """How many distinct design spaces fftc's knobs give for a task."""
    return len(knob_spaces(Schedule(task.mod), target))


def uses_metaschedule_rules(task: Task) -> bool:
    """Whether MetaSchedule's default rules join fftc's knobs for this task."""
    return not task.is_kernel and "if_then_else" not in task.func.script()


def space_generator(task: Task, target: Target) -> Any:
    """The MetaSchedule space generator of a task (see the module doc)."""
    fn: Callable[[Schedule], list[Schedule]] = lambda sch: knob_spaces(sch, target)  # noqa: E731
    knob_gen = meta_schedule.space_generator.ScheduleFn(
        fn, sch_rules=[], postprocs=[], mutator_probs={}
    )
    if not uses_metaschedule_rules(task):
        return knob_gen
    return meta_schedule.space_generator.SpaceGeneratorUnion(
        [knob_gen, meta_schedule.space_generator.PostOrderApply()]
    )
