"""Schedule templates: one signature, tunable knobs declared as data.

A kernel written by fftc (a TE compute in ``fftc.kernels``) marks each of its
blocks with the block annotation ``{"fftc.kernel": KIND}``.  After Relax has
fused the model into PrimFuncs, ``fftc.codegen.schedule`` finds those blocks
and calls the template registered for ``(target kind, KIND)``:

    template.apply(sch, block, target, knobs) -> None

``knobs`` answers ``knobs.get(name)`` with either a plain value (the default
or a fixed choice: the untuned build) or a MetaSchedule random variable
sampled with ``sch.sample_categorical`` (tuning), so the same template gives
the default schedule and the tuned variants.

Knobs whose value changes the compute itself (e.g. an FFT's factorization)
are declared with ``stage="compute"``; they are read by the kernel generator,
not by ``apply``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

KnobValue = int | str

#: Block annotation key that tags the blocks of an fftc kernel.
KERNEL_ATTR = "fftc.kernel"


@dataclass(frozen=True)
class Knob:
    """One tunable choice of a template."""

    name: str
    choices: tuple[KnobValue, ...]
    default: KnobValue
    doc: str
    stage: Literal["schedule", "compute"] = "schedule"

    def __post_init__(self) -> None:
        if self.default not in self.choices:
            raise ValueError(f"knob {self.name}: default {self.default!r} not in {self.choices}")


class KnobSource(Protocol):
    """Where a template gets its knob values from."""

    def get(self, knob: Knob) -> Any:
        """A plain value, or a schedule random variable when tuning."""
        ...


@dataclass(frozen=True)
class DefaultKnobs:
    """Every knob at its default, except those fixed in ``overrides``."""

    overrides: Mapping[str, KnobValue] = field(default_factory=dict)

    def get(self, knob: Knob) -> KnobValue:
        value = self.overrides.get(knob.name, knob.default)
        if value not in knob.choices:
            raise ValueError(f"knob {knob.name}: {value!r} is not one of {knob.choices}")
        return value


class ScheduleTemplate(Protocol):
    """What every schedule template provides."""

    @property
    def kernel(self) -> str:
        """The ``fftc.kernel`` block annotation this template schedules."""
        ...

    @property
    def target_kind(self) -> str:
        """The TVM target kind it is for (``"llvm"``, ``"cuda"``)."""
        ...

    @property
    def knobs(self) -> Sequence[Knob]: ...

    def apply(self, sch: Any, block: Any, target: Any, knobs: KnobSource) -> None:
        """Schedule ``block`` of ``sch`` in place."""
        ...


@dataclass(frozen=True)
class FunctionTemplate:
    """A template made from a plain function (see :func:`template`)."""

    kernel: str
    target_kind: str
    knobs: tuple[Knob, ...]
    fn: Callable[[Any, Any, Any, KnobSource], None]

    def apply(self, sch: Any, block: Any, target: Any, knobs: KnobSource) -> None:
        self.fn(sch, block, target, knobs)

    def knob(self, name: str) -> Knob:
        for k in self.knobs:
            if k.name == name:
                return k
        raise KeyError(f"template {self.kernel}/{self.target_kind} has no knob {name!r}")


_REGISTRY: dict[tuple[str, str], ScheduleTemplate] = {}


def register(tmpl: ScheduleTemplate) -> ScheduleTemplate:
    """Register a template under ``(target_kind, kernel)``."""
    key = (tmpl.target_kind, tmpl.kernel)
    if key in _REGISTRY:
        raise ValueError(f"a schedule template for {key} is already registered")
    _REGISTRY[key] = tmpl
    return tmpl


def template(
    kernel: str, target_kind: str, knobs: Sequence[Knob] = ()
) -> Callable[[Callable[[Any, Any, Any, KnobSource], None]], FunctionTemplate]:
    """Decorator: register ``fn(sch, block, target, knobs)`` as a template."""

    def wrap(fn: Callable[[Any, Any, Any, KnobSource], None]) -> FunctionTemplate:
        tmpl = FunctionTemplate(kernel, target_kind, tuple(knobs), fn)
        register(tmpl)
        return tmpl

    return wrap


def lookup(target_kind: str, kernel: str) -> ScheduleTemplate | None:
    """The template for a kernel on a target kind, if one is registered."""
    _load_builtin_templates()
    return _REGISTRY.get((target_kind, kernel))


def all_templates() -> list[ScheduleTemplate]:
    """Every registered template (for ``fftc tune --list-knobs`` and docs)."""
    _load_builtin_templates()
    return list(_REGISTRY.values())


_loaded = False


def _load_builtin_templates() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        from . import cpu  # noqa: F401  (registers the CPU templates)
