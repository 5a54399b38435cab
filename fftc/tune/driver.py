"""A tuning run: tasks -> MetaSchedule task scheduler -> log -> default-vs-tuned report."""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fftc.codegen.schedule import schedule_func
from fftc.codegen.tvm_api import Target, estimate_tir_flops, meta_schedule
from fftc.threads import usable_cpus
from fftc.tune.grid import tune_grids
from fftc.tune.log import TuningLog
from fftc.tune.measure import Timing, make_builder, make_runner, same_outputs, time_task
from fftc.tune.progress import ProgressCallback, Stopper, TaskStats, progress_line
from fftc.tune.search import ResumableSearch, evolutionary, measured_keys
from fftc.tune.space import space_generator, uses_metaschedule_rules
from fftc.tune.tasks import Task

log = logging.getLogger("fftc.tune")

Say = Callable[[str], None]
#: knob spaces built and measured together (each batch starts the builder's process pool)
GRID_BATCH = 64


@dataclass
class TuneOptions:
    """What ``fftc tune`` was asked for."""

    trials: int = 200
    trials_per_iter: int = 32
    time_budget_s: float | None = None
    cost_model: str = "xgb"
    #: MetaSchedule's task scheduler: "gradient" (trials to the tasks whose time falls
    #: fastest) or "round-robin" (trials shared equally)
    task_scheduler: str = "gradient"
    rpc_tracker: str | None = None
    rpc_key: str | None = None
    builders: int | None = None
    seed: int = 0


@dataclass
class TaskResult:
    """One row of the report."""

    task: Task
    default_ms: float | None
    tuned_ms: float | None
    trials: int
    status: str

    @property
    def speedup(self) -> float | None:
        if self.default_ms and self.tuned_ms:
            return self.default_ms / self.tuned_ms
        return None


@dataclass
class TuneSummary:
    """What a tuning run did."""

    results: list[TaskResult] = field(default_factory=list)
    measured: int = 0
    skipped: int = 0
    stopped: str | None = None


def default_timing(task: Task, target: Target) -> Timing | None:
    """The task with fftc's default schedule, timed in this process (None if it fails)."""
    try:
        func, _ = schedule_func(task.mod["main"], target)
        return time_task(func, target)
    except Exception as err:  # report the task without a default time
        log.debug("timing the default of %s failed: %s", task.name, err)
        return None


def _cost_model(kind: str) -> Any:
    if kind == "xgb" and importlib.util.find_spec("xgboost") is None:
        log.warning("xgboost is not installed; using the random cost model")
        kind = "random"
    return meta_schedule.cost_model.CostModel.create(kind, num_tuning_cores=usable_cpus())


def _quiet_metaschedule(verbose: bool) -> logging.Logger:
    """MetaSchedule logs every step at INFO; fftc shows its own progress instead."""
    level = logging.DEBUG if verbose else logging.ERROR
    logging.getLogger("tvm.s_tir.meta_schedule").setLevel(level)
    ms_log = logging.getLogger("fftc.tune.metaschedule")
    ms_log.setLevel(level)
    return ms_log


def uses_task_scheduler(task: Task) -> bool:
    """Generic tasks whose FLOPs MetaSchedule can estimate go to its task scheduler
    (knobs + its rules, evolutionary search); the others get an exhaustive knob search."""
    if not uses_metaschedule_rules(task):
        return False
    try:
        estimate_tir_flops(task.mod)
    except Exception:  # e.g. `let` expressions: MetaSchedule's scheduler would fail on it
        return False
    return True


def run_tuning(
    tasks: list[Task],
    target: Target,
    tuning_log: TuningLog,
    options: TuneOptions,
    defaults: dict[str, float],
    say: Say | None,
    verbose: bool = False,
) -> TuneSummary:
    """Tune ``tasks`` into ``tuning_log``; returns what was measured (no report yet).

    Kernel tasks first (their knob grids, exhaustively, at most half the trials when
    there are MetaSchedule tasks too), then MetaSchedule's task scheduler with the
    trials left.
    """
    ms_log = _quiet_metaschedule(verbose)
    database = tuning_log.database
    records = tuning_log.records()
    stopper = Stopper(options.time_budget_s)
    stats = [TaskStats(t.name, defaults.get(t.key)) for t in tasks]
    measured = [measured_keys(t, records) for t in tasks]
    scheduled = [i for i, t in enumerate(tasks) if uses_task_scheduler(t)]
    grid = [i for i in range(len(tasks)) if i not in scheduled]
    builder = make_builder(options.builders)
    runner = make_runner(options.rpc_tracker, options.rpc_key)
    summary = TuneSummary()

    def report(pos: int) -> None:
        if say is not None:
            say(progress_line(stats, pos, options.trials, stopper))

    with stopper.catching_interrupts():
        grid_budget = options.trials // 2 if scheduled else options.trials
        if grid:
            summary.skipped += tune_grids(
                [tasks[i] for i in grid], grid, [measured[i] for i in grid], stats, target,
                database, builder, runner, grid_budget, GRID_BATCH, stopper, report,
            )  # fmt: skip
        left = options.trials - sum(s.trials for s in stats)
        if scheduled and left > 0 and not stopper():
            summary.skipped += _run_task_scheduler(
                [tasks[i] for i in scheduled], [measured[i] for i in scheduled], scheduled,
                stats, left, target, database, builder, runner, options, stopper, say, ms_log,
            )  # fmt: skip
    summary.stopped = stopper.reason
    summary.measured = sum(s.trials for s in stats)
    summary.results = [
        TaskResult(t, defaults.get(t.key), None, s.trials, "")
        for t, s in zip(tasks, stats, strict=True)
    ]
    return summary


def _run_task_scheduler(
    tasks: list[Task],
    measured: list[set[int]],
    positions: list[int],
    stats: list[TaskStats],
    trials: int,
    target: Target,
    database: Any,
    builder: Any,
    runner: Any,
    options: TuneOptions,
    stopper: Stopper,
    say: Say | None,
    ms_log: logging.Logger,
) -> int:
    """MetaSchedule's task scheduler (``options.task_scheduler``) over ``tasks``; returns
    the skipped count."""
    contexts, strategies = [], []
    for i, task in enumerate(tasks):
        strategy = ResumableSearch(evolutionary(task, True), measured[i], stopper)
        strategies.append(strategy)
        contexts.append(
            meta_schedule.TuneContext(
                mod=task.mod,
                target=target,
                space_generator=space_generator(task, target),
                search_strategy=strategy,
                task_name=task.name,
                rand_state=options.seed * 1000 + i + 1,
                num_threads=usable_cpus(),
                logger=ms_log,
            )
        )
    # batches small enough that every task gets at least one: the task schedulers hand
    # out whole batches, so 64 trials in batches of 32 over 5 tasks measured 2 of them
    per_iter = max(1, min(options.trials_per_iter, trials // len(tasks)))
    if per_iter < options.trials_per_iter and say is not None:
        say(f"{trials} trials for {len(tasks)} MetaSchedule tasks: batches of {per_iter}, "
            "so that every task gets one")  # fmt: skip
    progress = ProgressCallback(stats, positions, options.trials, stopper, say)
    callbacks = [*meta_schedule.measure_callback.MeasureCallback.create("default"), progress]
    scheduler = meta_schedule.task_scheduler.TaskScheduler.create(
        options.task_scheduler,
        **({"seed": options.seed} if options.task_scheduler == "gradient" else {}),
    )
    scheduler.tune(
        tasks=contexts,
        task_weights=[float(t.weight) for t in tasks],
        max_trials_global=trials,
        max_trials_per_task=trials,
        num_trials_per_iter=per_iter,
        builder=builder,
        runner=runner,
        measure_callbacks=callbacks,
        database=database,
        cost_model=_cost_model(options.cost_model),
    )
    return sum(s.skipped for s in strategies)


def evaluate(results: list[TaskResult], target: Target, tuning_log: TuningLog) -> None:
    """Time each task's best logged schedule against its default (in this process, the
    same way), check they compute the same values, and record in the log which tasks
    keep their default (tuned one slower, or different results)."""
    find = TuningLog(tuning_log.path, tuning_log.target, {}, [], tuning_log.database).lookup(target)
    for row in results:
        task = row.task
        default = default_timing(task, target)
        row.default_ms = default.ms if default else row.default_ms
        found = find(task.name, task.mod["main"].without_attr("global_symbol"))
        if isinstance(found, str):
            row.status = found
            continue
        try:
            tuned = time_task(found, target)
        except Exception as err:  # the logged schedule does not build any more
            tuning_log.keep_default[task.key] = f"tuned schedule fails to build: {err}"
            row.status = "default kept (tuned schedule fails to build)"
            continue
        row.tuned_ms = tuned.ms
        wrong = same_outputs(default, tuned) if default else None
        if wrong:
            tuning_log.keep_default[task.key] = f"tuned schedule computes different values: {wrong}"
            row.status = "default kept (tuned schedule computes different values)"
        elif default is not None and tuned.ms >= default.ms:
            tuning_log.keep_default[task.key] = "tuned schedule is not faster than the default"
            row.status = "default kept (not faster)"
        else:
            tuning_log.keep_default.pop(task.key, None)
            row.status = "tuned"
    tuning_log.save()
