"""Settings of a benchmark run, and how calls are timed.

Policy (the same for every implementation): the numerics call is the first warm-up, then
up to ``warmup - 1`` more (none once a call takes over a second); then at least ``repeat``
timed runs, more while they total under ``min_time_s``, fewer (but at least
:data:`MIN_RUNS`) when ``repeat`` runs would exceed ``max_time_s``; Python-timed calls
also stop once they took over ``max_time_s``.  The median is reported.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

MIN_RUNS = 3
MAX_RUNS = 10_000
#: no further warm-up calls once one call takes this long
SLOW_CALL_S = 1.0


@dataclass(frozen=True)
class Settings:
    """What ``fftc bench`` was asked for."""

    threads: int
    target: str = "llvm"
    conv_fft: str = "auto"
    repeat: int = 20
    warmup: int = 2
    min_time_s: float = 0.5
    max_time_s: float = 10.0
    seed: int = 0
    rtol: float = 1e-4
    #: GPU suite, --rtol not given: each case's threshold comes from its dtype
    rtol_from_dtype: bool = False
    #: implementations to measure, in order
    implementations: tuple[str, ...] = ("fftc", "torch", "onnxruntime", "tvm")


@dataclass(frozen=True)
class Timing:
    """Milliseconds per call over ``runs`` timed calls."""

    median_ms: float
    min_ms: float
    max_ms: float
    runs: int

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Timing:
        ms = [s * 1e3 for s in seconds]
        return cls(statistics.median(ms), min(ms), max(ms), len(ms))


class NotAvailable(Exception):
    """The implementation cannot run this case; the message says why (shown as n/a)."""


def runs_for(settings: Settings, seconds_per_call: float) -> int:
    """How many timed runs the policy gives a call of this duration."""
    per_call = max(seconds_per_call, 1e-7)
    # capped at MAX_RUNS before rounding: --min-time/--max-time inf must not overflow
    runs = max(settings.repeat, math.ceil(min(settings.min_time_s / per_call, MAX_RUNS)))
    budget = max(MIN_RUNS, math.floor(min(settings.max_time_s / per_call, MAX_RUNS)))
    return max(1, min(runs, budget, MAX_RUNS))


def time_calls(call: Callable[[], object], runs: int, max_s: float | None = None) -> Timing:
    """Time ``runs`` calls one by one (wall clock, ``time.perf_counter``); stop early,
    after :data:`MIN_RUNS`, once they took over ``max_s`` seconds (calls that got much
    slower than the warm-up promised, e.g. on a busy machine)."""
    seconds: list[float] = []
    for _ in range(runs):
        t0 = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - t0)
        if max_s is not None and len(seconds) >= MIN_RUNS and sum(seconds) > max_s:
            break
    return Timing.of(seconds)
