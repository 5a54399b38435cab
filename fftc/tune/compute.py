"""Compute knobs: the FFT factorization, searched over the whole model.

A schedule knob changes how one PrimFunc is scheduled; a compute knob changes
the PrimFunc itself (``fft.max_radix``: the largest radix of the Stockham /
Monarch stages the ``fft-to-monarch`` pass plans, so every FFT's stages and
twiddles).  ``fftc tune`` searches it first, as the pass option
``fft_max_radix``: the model is compiled with each of the target's candidate
values (default schedules), the builds are timed in alternating rounds, and
the fastest value is recorded in the tuning log (``fftc_log.json``,
``compute_options``).  The schedule search then runs on that model's tasks,
and ``fftc compile --tuning-log`` applies the same pass options, so the logged
schedules match the compiled functions.  A model without FFTs skips the step.
"""

from __future__ import annotations

import dataclasses
import os
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fftc.kernels.fft.plan import MAX_RADIX
from fftc.target import TargetSpec

OPTION = "fft_max_radix"
#: the values tried per target kind (radix 16 on the CPU compiles for ~30 s, and radix 8
#: was already 2-3x slower than 4 there; CUDA's Monarch stages are 16 or 32 wide)
CANDIDATES: dict[str, tuple[int, ...]] = {"llvm": (2, 4, 8), "cuda": (16, 32)}


@dataclass(frozen=True)
class ComputeChoice:
    """The pass options chosen and what each candidate measured (ms; None: not built)."""

    options: dict[str, Any]
    times: dict[str, float | None]

    def describe(self) -> str:
        shown = ", ".join(
            f"{k}: {'failed' if v is None else f'{v:.4g} ms'}" for k, v in self.times.items()
        )
        chosen = ", ".join(f"{k}={v}" for k, v in self.options.items()) or "defaults"
        return f"{chosen} ({OPTION} {shown})"


def candidates(spec: TargetSpec) -> tuple[int, ...]:
    values = CANDIDATES.get(spec.kind, (int(MAX_RADIX.default),))
    return tuple(v for v in values if v in MAX_RADIX.choices)


def interleaved_medians_of(modules: Sequence[Any], feeds: Any, rounds: int = 7) -> list[float]:
    """Median ms per call of each module, timed in alternating rounds (20 calls each,
    after a warm-up of all): drifts of the machine fall on every candidate alike."""
    for module in modules:
        module.benchmark(feeds, number=20, repeat=1)
    times: list[list[float]] = [[] for _ in modules]
    for _ in range(rounds):
        for module, column in zip(modules, times, strict=True):
            column.append(module.benchmark(feeds, number=20, repeat=1)["median_ms"])
    return [statistics.median(column) for column in times]


def search_compute(
    model: Path,
    spec: TargetSpec,
    options: Any,
    input_shapes: Mapping[str, Sequence[int]],
    allow_nonfinite: bool,
    say: Callable[[str], None] | None = None,
    timer: Callable[[Sequence[Any], Any], list[float]] = interleaved_medians_of,
) -> ComputeChoice:
    """Compile ``model`` with each candidate ``fft_max_radix`` and keep the fastest;
    the user's own ``fft_max_radix`` (``--fft-max-radix``) is kept without a search."""
    import fftc
    from fftc.testing import random_inputs

    if OPTION in options.pass_options:
        return ComputeChoice({OPTION: options.pass_options[OPTION]}, {})
    values = candidates(spec)
    if len(values) < 2:
        return ComputeChoice({}, {})
    modules, built = [], []
    for value in values:
        opts = dataclasses.replace(
            options,
            tuning_log=None,
            shipped_logs=False,
            pass_options={**options.pass_options, OPTION: value},
        )
        module = fftc.compile(model, spec, input_shapes, allow_nonfinite=allow_nonfinite,
                              options=opts)  # fmt: skip
        if not any(d.startswith("[fft-to-monarch]") for d in module.decisions):
            return ComputeChoice({}, {})  # no FFT in the model: nothing to search
        modules.append(module)
        built.append(value)
    if say:
        say(f"compute knobs: timing {OPTION} = {', '.join(map(str, built))}")
    feeds = random_inputs(os.fspath(model), 0, dict(input_shapes))
    times = timer(modules, feeds)
    best = min(range(len(built)), key=lambda i: times[i])
    return ComputeChoice(
        {OPTION: built[best]}, {str(v): t for v, t in zip(built, times, strict=True)}
    )
