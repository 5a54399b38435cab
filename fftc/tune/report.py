"""The tables ``fftc tune`` prints: the task list, and default vs tuned time."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from fftc.codegen.tvm_api import Schedule, Target
from fftc.target import TargetSpec
from fftc.tune.driver import TuneSummary, uses_task_scheduler
from fftc.tune.space import knob_spaces
from fftc.tune.tasks import Task


def _table(rows: Sequence[Sequence[str]], right: set[int]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _ms(value: float | None) -> str:
    return f"{value:.4f}" if value is not None else "-"


def print_tasks(tasks: list[Task], defaults: Mapping[str, float], target: Target) -> None:
    """``--list-tasks``: each task with its calls, search space and share of run time."""
    total = sum(defaults.get(t.key, 0.0) * t.weight for t in tasks)
    rows = [("#", "task", "calls", "kernels", "search space", "default ms", "share")]
    for i, task in enumerate(tasks, 1):
        spaces = len(knob_spaces(Schedule(task.mod), target))
        space = f"{spaces} knob sets"
        space += " + MetaSchedule rules" if uses_task_scheduler(task) else ""
        default = defaults.get(task.key)
        share = f"{100 * default * task.weight / total:.1f}%" if default and total else "-"
        kernels = ",".join(task.kernels) or "generic"
        name = task.name + (f" (= {', '.join(task.aliases)})" if task.aliases else "")
        rows.append((str(i), name, str(task.weight), kernels, space, _ms(default), share))
    print(_table(rows, {0, 2, 5, 6}))
    print(
        "\nshare: calls x the task's default schedule, timed once in this process, over the "
        f"sum for all tasks ({total:.4f} ms)"
    )


def model_times(
    model: Path,
    spec: TargetSpec,
    log_path: Path,
    options: Any,
    input_shapes: Mapping[str, Sequence[int]],
    allow_nonfinite: bool,
) -> tuple[float, float, str | None]:
    """The whole model compiled without and with the log: median ms of each, and whether
    their outputs differ (None: same within 1e-4 of the output's scale)."""
    import dataclasses

    import numpy as np

    import fftc
    from fftc.testing import random_inputs

    feeds = random_inputs(model, 0, dict(input_shapes))
    plain = dataclasses.replace(options, tuning_log=None, shipped_logs=False)
    tuned = dataclasses.replace(options, tuning_log=os.fspath(log_path))
    default_module = fftc.compile(model, spec, input_shapes, allow_nonfinite=allow_nonfinite,
                                  options=plain)  # fmt: skip
    tuned_module = fftc.compile(model, spec, input_shapes, allow_nonfinite=allow_nonfinite,
                                options=tuned)  # fmt: skip
    problem = None
    ours, theirs = default_module.run(feeds), tuned_module.run(feeds)
    for name, expected in ours.items():
        a, b = np.asarray(expected), np.asarray(theirs[name])
        scale = float(np.max(np.abs(a))) if a.size else 0.0
        if a.size and float(np.max(np.abs(a - b))) > 1e-4 * max(scale, 1e-30):
            problem = f"output {name} differs"
    t_default, t_tuned = interleaved_medians(default_module, tuned_module, feeds)
    return t_default, t_tuned, problem


def interleaved_medians(
    first: Any, second: Any, feeds: Any, rounds: int = 9
) -> tuple[float, float]:
    """Median ms per call of two modules timed in alternating rounds (20 calls each,
    after a warm-up of both): drifts of the machine (thread pool start-up, clock,
    other work) fall on both, where timing one after the other charged them to the
    first (a 2x "speedup" of an unchanged model was measured that way)."""
    import statistics

    for module in (first, second):
        module.benchmark(feeds, number=20, repeat=1)
    a, b = [], []
    for _ in range(rounds):
        a.append(first.benchmark(feeds, number=20, repeat=1)["median_ms"])
        b.append(second.benchmark(feeds, number=20, repeat=1)["median_ms"])
    return statistics.median(a), statistics.median(b)


def print_report(
    summary: TuneSummary,
    model: Path,
    spec: TargetSpec,
    log_path: Path,
    options: Any,
    input_shapes: Mapping[str, Sequence[int]],
    allow_nonfinite: bool,
) -> None:
    """The final table: per task and for the whole model, default vs tuned."""
    rows = [("task", "calls", "trials", "default ms", "tuned ms", "speedup", "status")]
    for row in summary.results:
        speedup = f"{row.speedup:.2f}x" if row.speedup else "-"
        rows.append((row.task.name, str(row.task.weight), str(row.trials), _ms(row.default_ms),
                     _ms(row.tuned_ms), speedup, row.status))  # fmt: skip
    t_default, t_tuned, problem = model_times(model, spec, log_path, options, input_shapes,
                                              allow_nonfinite)  # fmt: skip
    rows.append(("model (compiled, median)", "", str(summary.measured), _ms(t_default),
                 _ms(t_tuned), f"{t_default / t_tuned:.2f}x",
                 problem or "same outputs as the default build"))  # fmt: skip
    print(_table(rows, {1, 2, 3, 4, 5}))
    print(f"\nlog: {log_path} (apply with: fftc compile {model} --tuning-log {log_path} ...)")
