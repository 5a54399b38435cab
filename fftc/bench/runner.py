"""Run the cases: export (or reuse) each model, check every implementation's numerics
against the float64 reference, then time it (see :mod:`fftc.bench.timing`)."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fftc.bench.baselines import Candidate, candidates, error_text
from fftc.bench.export import cached_model
from fftc.bench.suites import Case, make_problem, reference
from fftc.bench.timing import SLOW_CALL_S, NotAvailable, Settings, Timing, runs_for
from fftc.testing import compare

Log = Callable[[str], None]


@dataclass
class Measurement:
    """One implementation on one case: ``ok`` (timed), ``n/a`` (cannot run it) or ``error``."""

    impl: str
    variant: str = ""
    status: str = "ok"
    reason: str = ""
    timing: Timing | None = None
    #: max|out - ref| / max|ref| against the float64 reference
    max_rel_err: float | None = None
    compile_s: float | None = None
    details: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.impl}({self.variant})" if self.variant else self.impl

    @property
    def ok(self) -> bool:
        return self.status == "ok" and self.timing is not None

    def flagged(self, rtol: float) -> bool:
        """Numerically off: relative error above ``rtol`` (or not finite)."""
        err = self.max_rel_err
        return err is not None and not err <= rtol

    @property
    def median_ms(self) -> float:
        assert self.timing is not None
        return self.timing.median_ms


@dataclass
class CaseResult:
    case: Case
    model: Path
    model_cached: bool
    measurements: list[Measurement]
    rtol: float

    def fastest(self, impl: str) -> Measurement | None:
        """The fastest numerically sound ``ok`` measurement of ``impl`` (any variant)."""
        ok = [m for m in self.measurements if m.impl == impl and m.ok and not m.flagged(self.rtol)]
        return min(ok, key=lambda m: m.median_ms, default=None)

    def first(self, impl: str) -> Measurement | None:
        """The fastest of ``impl``, else its first measurement (to show n/a or error)."""
        found = [m for m in self.measurements if m.impl == impl]
        return self.fastest(impl) or (found[0] if found else None)

    def best_baseline(self) -> Measurement | None:
        """The fastest of PyTorch and onnxruntime (what fftc must beat)."""
        best = [m for m in (self.fastest("torch"), self.fastest("onnxruntime")) if m is not None]
        return min(best, key=lambda m: m.median_ms, default=None)

    def speedup(self) -> float | None:
        """best(PyTorch, onnxruntime) / fftc; above 1 means fftc is faster."""
        ours, best = self.first("fftc"), self.best_baseline()
        if ours is None or best is None or not ours.ok:
            return None
        return best.median_ms / ours.median_ms


def run_cases(
    cases: Sequence[Case], settings: Settings, cache_dir: Path, log: Log
) -> list[CaseResult]:
    return [run_case(case, settings, cache_dir, log) for case in cases]


def run_case(case: Case, settings: Settings, cache_dir: Path, log: Log) -> CaseResult:
    problem = make_problem(case, settings.seed)
    t0 = time.perf_counter()
    model, cached = cached_model(problem, cache_dir)
    if not cached:
        log(f"{case.label}: exported {model.name} in {time.perf_counter() - t0:.1f} s")
    expected = reference(problem)
    measurements = []
    for candidate in candidates(problem, model, settings):
        m = measure(candidate, expected, settings)
        measurements.append(m)
        log(f"{case.label}: {describe(m, settings.rtol)}")
        gc.collect()  # drop the last implementation's buffers before the next one
    return CaseResult(case, model, cached, measurements, settings.rtol)


def measure(
    candidate: Candidate,
    expected: np.ndarray | None,
    settings: Settings,
    error_of: Callable[[Any], float] | None = None,
) -> Measurement:
    """Prepare, check the numerics of, and time one candidate; failures become statuses.

    The numerics: max|out - ref| / max|ref| against ``expected``, or ``error_of(out)``
    where the output is not a NumPy array (a tensor on a GPU)."""
    m = Measurement(candidate.impl, candidate.variant)
    try:
        prepared = candidate.prepare()
    except NotAvailable as err:
        m.status, m.reason = "n/a", str(err)
        return m
    except Exception as err:
        m.status, m.reason = "error", error_text(err)
        return m
    m.compile_s, m.details = prepared.compile_s, prepared.details
    try:
        t0 = time.perf_counter()
        out = prepared.run()
        per_call = time.perf_counter() - t0
        if error_of is not None:
            m.max_rel_err = error_of(out)
        else:
            assert expected is not None
            m.max_rel_err = compare("y", out, expected, settings.rtol).max_rel
        del out
        for _ in range(settings.warmup - 1):
            if per_call > SLOW_CALL_S:
                break
            t0 = time.perf_counter()
            prepared.run()
            per_call = min(per_call, time.perf_counter() - t0)
        m.timing = prepared.measure(runs_for(settings, per_call))
    except Exception as err:
        m.status, m.reason = "error", error_text(err)
    return m


def describe(m: Measurement, rtol: float) -> str:
    """One implementation's result on one line (what ``fftc bench`` logs)."""
    if m.status != "ok" or m.timing is None:
        return f"{m.label}: {m.status} ({m.reason})"
    text = f"{m.label}: {m.timing.median_ms:.3f} ms (median of {m.timing.runs})"
    if m.max_rel_err is not None:
        text += f", max rel err {m.max_rel_err:.1e}" + (" > rtol!" if m.flagged(rtol) else "")
    if m.compile_s is not None:
        text += f", prepared in {m.compile_s:.1f} s"
    return text
