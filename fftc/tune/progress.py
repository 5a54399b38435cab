"""Progress lines, the time budget and Ctrl-C during a tuning run.

:class:`Stopper` says when to stop: past ``--time-budget`` or after the first
Ctrl-C (SIGINT).  The search strategy asks it before generating each batch
and then ends its task, so MetaSchedule finishes the batches in flight,
commits their results to the log and returns normally.  A second Ctrl-C
interrupts at once (the log is still intact: every record is one appended
line).

:class:`ProgressCallback` runs after every measured batch (after
MetaSchedule's own callbacks have committed the records) and prints one line:
trials done, the task's best time against its default, elapsed time and the
estimated time left.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from fftc.codegen.tvm_api import derived_object, meta_schedule


@dataclass
class Stopper:
    """Whether tuning should stop (time budget spent or interrupted), and why."""

    budget_s: float | None = None
    started: float = field(default_factory=time.monotonic)
    reason: str | None = None

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def __call__(self) -> bool:
        if self.reason is None and self.budget_s is not None and self.elapsed() >= self.budget_s:
            self.reason = f"time budget of {self.budget_s:g} s reached"
        return self.reason is not None

    @contextmanager
    def catching_interrupts(self) -> Iterator[None]:
        """The first SIGINT asks for a clean stop; the second raises KeyboardInterrupt."""

        def on_sigint(signum: int, frame: Any) -> None:
            if self.reason == "interrupted":
                raise KeyboardInterrupt
            self.reason = "interrupted"

        try:
            previous = signal.signal(signal.SIGINT, on_sigint)
        except ValueError:  # not the main thread: no signal handling
            yield
            return
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)


@dataclass
class TaskStats:
    """What one task measured in this run."""

    name: str
    default_ms: float | None = None
    trials: int = 0
    failed: int = 0
    best_ms: float | None = None


def fmt_seconds(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


def _mean_ms(run_secs: Any) -> float:
    values = [float(getattr(s, "value", s)) for s in run_secs]
    return sum(values) / len(values) * 1e3


def progress_line(stats: list[TaskStats], pos: int, max_trials: int, stopper: Stopper) -> str:
    """``[done/max] task i/n NAME: trials, best (default), elapsed, ETA``."""
    task = stats[pos]
    done = sum(s.trials for s in stats)
    elapsed = stopper.elapsed()
    left = elapsed / done * max(max_trials - done, 0) if done else 0.0
    if stopper.budget_s is not None:
        left = min(left, max(stopper.budget_s - elapsed, 0.0))
    best = f"{task.best_ms:.4f} ms" if task.best_ms is not None else "-"
    default = f"{task.default_ms:.4f} ms" if task.default_ms is not None else "-"
    failed = f", {task.failed} failed" if task.failed else ""
    return (
        f"[{done:4d}/{max_trials}] task {pos + 1}/{len(stats)} {_short(task.name)}: "
        f"{task.trials} trials{failed}, best {best} (default {default}), "
        f"elapsed {fmt_seconds(elapsed)}, ETA {fmt_seconds(left)}"
    )


@derived_object
class ProgressCallback(meta_schedule.measure_callback.PyMeasureCallback):
    """Counts the trials of MetaSchedule's tasks and prints a line per measured batch.

    ``positions[task_id]`` is the place of MetaSchedule's task ``task_id`` in ``stats``.
    """

    def __init__(
        self,
        stats: list[TaskStats],
        positions: list[int],
        max_trials: int,
        stopper: Stopper,
        write: Callable[[str], None] | None,
    ) -> None:
        self.stats = stats
        self.positions = positions
        self.max_trials = max_trials
        self.stopper = stopper
        self.write = write

    def apply(
        self,
        task_scheduler: Any,
        task_id: int,
        measure_candidates: list[Any],
        builder_results: list[Any],
        runner_results: list[Any],
    ) -> None:
        pos = self.positions[task_id]
        stats = self.stats[pos]
        for built, ran in zip(builder_results, runner_results, strict=True):
            stats.trials += 1
            if built.error_msg is not None or ran.error_msg is not None or not ran.run_secs:
                stats.failed += 1
                continue
            ms = _mean_ms(ran.run_secs)
            stats.best_ms = ms if stats.best_ms is None else min(stats.best_ms, ms)
        if self.write is not None:
            self.write(progress_line(self.stats, pos, self.max_trials, self.stopper))


def _short(name: str, width: int = 40) -> str:
    return name if len(name) <= width else name[: width - 3] + "..."
