"""The search strategy: MetaSchedule's evolutionary search, minus what the log already has.

MetaSchedule's ``EvolutionarySearch`` avoids re-measuring candidates within
one run, but not across runs (it does not consult the database for that).
:class:`ResumableSearch` wraps it: candidates whose scheduled module is
already in the tuning log (or was measured earlier in this run) are never
sent to the builder again, so a second ``fftc tune`` continues where the
first stopped.  It also stops a task cleanly when asked (time budget, Ctrl-C):
``generate_measure_candidates`` then returns None and MetaSchedule finishes
the task, keeping every result measured so far.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from fftc.codegen.tvm_api import Schedule, derived_object, meta_schedule, structural_hash
from fftc.tune.tasks import Task

#: batches of already-measured candidates in a row before a task counts as exhausted
MAX_STALE_ROUNDS = 3

PySearchStrategy: Any = meta_schedule.search_strategy.PySearchStrategy


def evolutionary(task: Task, uses_rules: bool) -> Any:
    """The inner search: small populations for knob-only spaces (a few dozen points)."""
    if uses_rules:
        return meta_schedule.search_strategy.EvolutionarySearch(
            population_size=128, init_min_unmeasured=32, genetic_num_iters=3
        )
    return meta_schedule.search_strategy.EvolutionarySearch(
        population_size=32, init_min_unmeasured=8, genetic_num_iters=1, genetic_mutate_prob=0.0
    )


def module_key(mod: Any) -> int:
    return int(structural_hash(mod))


def measured_keys(task: Task, records: Iterable[Any]) -> set[int]:
    """The scheduled modules of ``task`` that the records hold (their traces replayed)."""
    keys: set[int] = set()
    task_key = module_key(task.mod)
    for record in records:
        if module_key(record.workload.mod) != task_key:
            continue
        sch = Schedule(task.mod)
        try:
            record.trace.apply_to_schedule(sch, remove_postproc=False)
        except Exception:  # a record from another fftc version: ignore it
            continue
        keys.add(module_key(sch.mod))
    return keys


@derived_object
class ResumableSearch(PySearchStrategy):
    """Delegates to ``inner``; skips measured candidates; stops when ``stop()`` says so."""

    def __init__(self, inner: Any, measured: set[int], stop: Callable[[], bool]) -> None:
        self.inner = inner
        self.measured = measured
        self.stop = stop
        #: candidates not sent because the log already had them
        self.skipped = 0

    def _initialize_with_tune_context(self, context: Any) -> None:
        self.inner._initialize_with_tune_context(context)

    def pre_tuning(
        self,
        max_trials: int,
        num_trials_per_iter: int,
        design_spaces: list[Any],
        database: Any = None,
        cost_model: Any = None,
    ) -> None:
        self.inner.pre_tuning(max_trials, num_trials_per_iter, design_spaces, database, cost_model)

    def post_tuning(self) -> None:
        self.inner.post_tuning()

    def generate_measure_candidates(self) -> list[Any] | None:
        for _ in range(MAX_STALE_ROUNDS):
            if self.stop():
                return None
            candidates = self.inner.generate_measure_candidates()
            if candidates is None:
                return None
            fresh: list[Any] = []
            known: list[Any] = []
            for candidate in candidates:
                key = module_key(candidate.sch.mod)
                (known if key in self.measured else fresh).append(candidate)
                self.measured.add(key)
            if known:
                self.skipped += len(known)
                skipped = [meta_schedule.runner.RunnerResult(None, "in the log") for _ in known]
                self.inner.notify_runner_results(known, skipped)
            if fresh:
                return fresh
        return None

    def notify_runner_results(self, measure_candidates: list[Any], results: list[Any]) -> None:
        self.inner.notify_runner_results(measure_candidates, results)

    def clone(self) -> Any:
        return ResumableSearch(self.inner.clone(), set(self.measured), self.stop)
