"""Exhaustive search of a task's knob spaces (kernel tasks: FFTs, convolutions).

A kernel task's design spaces are fftc's knob assignments (a few to a few
dozen, :func:`fftc.tune.space.knob_spaces`), each a complete schedule.  They
are measured one after another, default first, with MetaSchedule's builder
and runner, and committed to the log like MetaSchedule's own records (the
trace, with the knob choices as ``sample_categorical`` decisions, and the run
times).  Spaces whose schedule the log already has are skipped, so a second
run measures only what the first did not reach.

(MetaSchedule's task scheduler cannot take these tasks at all: its FLOP
estimate, computed for every task, fails on the ``let`` expressions of
fftc's FFT butterflies; and a grid of a few dozen points needs no
evolutionary search.)
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fftc.codegen.tvm_api import Schedule, Target, meta_schedule
from fftc.tune.progress import TaskStats
from fftc.tune.search import module_key
from fftc.tune.space import knob_spaces
from fftc.tune.tasks import Task


def device_type(target: Target) -> str:
    """The runner's device name for a target kind (``llvm`` runs on ``cpu``)."""
    kind = str(target.kind.name)
    return "cpu" if kind == "llvm" else kind


def measure_batch(
    batch: list[tuple[Task, Schedule]], target: Target, database: Any, builder: Any, runner: Any
) -> list[float | None]:
    """Build and run each task's schedule, commit every result to ``database`` like
    MetaSchedule does (failures with 1e10 s); returns seconds (None: failed)."""
    ms = meta_schedule
    built = builder.build([ms.builder.BuilderInput(s.mod, target) for _, s in batch])
    runs: list[Any] = [None] * len(batch)
    inputs, where = [], []
    for i, ((_, space), result) in enumerate(zip(batch, built, strict=True)):
        if result.error_msg is None:
            args = ms.arg_info.ArgInfo.from_entry_func(space.mod, remove_preproc=True)
            inputs.append(ms.runner.RunnerInput(result.artifact_path, device_type(target), args))
            where.append(i)
    for i, future in zip(where, runner.run(inputs), strict=True):
        runs[i] = future.result()
    seconds: list[float | None] = []
    for (task, space), build_result, run in zip(batch, built, runs, strict=True):
        ok = run is not None and run.error_msg is None and bool(run.run_secs)
        run_secs = [float(getattr(s, "value", s)) for s in run.run_secs] if ok else [1e10]
        workload = database.commit_workload(task.mod)
        args_info = ms.arg_info.ArgInfo.from_entry_func(space.mod, remove_preproc=True)
        record = ms.database.TuningRecord(space.trace, workload, run_secs, target, args_info)
        database.commit_tuning_record(record)
        seconds.append(sum(run_secs) / len(run_secs) if ok else None)
        if build_result.artifact_path:
            shutil.rmtree(Path(build_result.artifact_path).parent, ignore_errors=True)
    return seconds


def tune_grids(
    tasks: list[Task],
    positions: list[int],
    measured: list[set[int]],
    stats: list[TaskStats],
    target: Target,
    database: Any,
    builder: Any,
    runner: Any,
    max_trials: int,
    batch: int,
    stop: Callable[[], bool],
    report: Callable[[int], None],
) -> int:
    """Measure up to ``max_trials`` unmeasured knob spaces of ``tasks`` (each task's
    default assignment first; tasks take turns), in batches across tasks (building
    starts a pool of processes per batch, so batches are large).  ``positions[i]`` is
    task ``i``'s place in ``stats``.  Returns how many spaces the log already had."""
    queues: list[list[Schedule]] = []
    known = 0
    for task, seen in zip(tasks, measured, strict=True):
        spaces = knob_spaces(Schedule(task.mod), target)
        pending = [s for s in spaces if module_key(s.mod) not in seen]
        known += len(spaces) - len(pending)
        queues.append(pending)
    order: list[tuple[int, Schedule]] = []
    for round_ in range(max((len(q) for q in queues), default=0)):
        order += [(i, q[round_]) for i, q in enumerate(queues) if round_ < len(q)]
    order = order[:max_trials]
    for start in range(0, len(order), batch):
        if stop():
            break
        chunk = order[start : start + batch]
        results = measure_batch(
            [(tasks[i], s) for i, s in chunk], target, database, builder, runner
        )
        touched = []
        for (i, space), seconds in zip(chunk, results, strict=True):
            measured[i].add(module_key(space.mod))
            task_stats = stats[positions[i]]
            task_stats.trials += 1
            if seconds is None:
                task_stats.failed += 1
            else:
                best = seconds * 1e3
                task_stats.best_ms = (
                    best if task_stats.best_ms is None else min(task_stats.best_ms, best)
                )
            if positions[i] not in touched:
                touched.append(positions[i])
        for pos in touched:
            report(pos)
    return known
