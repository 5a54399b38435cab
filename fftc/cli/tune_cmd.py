"""``fftc tune``: search schedules for a model's tasks, log them, report default vs tuned."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from fftc.cli.common import (
    Formatter,
    add_model_options,
    compile_options,
    input_shapes,
    require_model_file,
)
from fftc.errors import UsageError

EXAMPLES = """\
examples:
  fftc tune model.onnx --list-tasks                 # tasks, calls, search space, share of time
  fftc tune --list-knobs                            # fftc's knobs: compute and schedule
  fftc tune model.onnx                              # 200 trials into tuning_logs/model-llvm-<cpu>/
  fftc tune model.onnx --trials 512 --time-budget 1800 --log tuning_logs/model-llvm
  fftc tune model.onnx --trials 100                 # again: continues, never re-measures
  fftc tune model.onnx --rpc-tracker 127.0.0.1:9190 --rpc-key cpu   # measure on RPC servers
  fftc tune model.onnx --no-compute-search        # keep the default FFT factorization
  fftc tune model.onnx --task-scheduler round-robin # share the trials equally between tasks
  fftc tune model.onnx --fft-max-radix 2 --log tuning_logs/m-r2     # fix it (no compute step)
  fftc compile model.onnx -o model.fftc --tuning-log tuning_logs/model-llvm-<cpu>

compute knobs first: the model is compiled with each FFT factorization candidate
(fft_max_radix) and the fastest is kept in the log, which 'fftc compile --tuning-log'
applies with the schedules.

tasks: each fused function of the model (after the 'fused' stage), deduplicated by
workload and weighted by its calls.  Kernel tasks (FFT, convolution) are searched over
fftc's schedule knobs, exhaustively; generic tasks over the knobs and MetaSchedule's
default CPU rules, with MetaSchedule's evolutionary search.  The log is a directory
(MetaSchedule's JSON database plus fftc_log.json) keyed by the target.  Ctrl-C or
--time-budget stop cleanly and keep every measurement.  See docs/tuning.md.
"""


def register(sub: Any, formatter: Formatter) -> None:
    p = sub.add_parser(
        "tune",
        help="auto-tune a model's schedules (MetaSchedule) into a tuning log",
        description="Split a model into tuning tasks, search their schedules (fftc's "
        "template knobs and MetaSchedule's rules), measure candidates locally or on TVM "
        "RPC servers, and append the results to a tuning log that 'fftc compile "
        "--tuning-log' applies.  Prints a table of default vs tuned time per task and for "
        "the whole model.",
        epilog=EXAMPLES,
        formatter_class=formatter,
    )
    p.add_argument("model", nargs="?", help="the ONNX model (.onnx)")
    p.add_argument(
        "--list-knobs",
        action="store_true",
        help="list fftc's knobs with their choices (default marked *), then stop",
    )
    p.add_argument(
        "--list-tasks",
        action="store_true",
        help="list the tasks with their estimated share of run time, then stop",
    )
    p.add_argument(
        "--log",
        metavar="DIR",
        help="tuning log to write or continue (default: tuning_logs/<model>-<kind>-<cpu>)",
    )
    p.add_argument(
        "--no-compute-search",
        action="store_true",
        help="skip the compute-knob step (the FFT factorization, fft_max_radix: the model "
        "compiled and timed with each candidate first; a log keeps its choice)",
    )
    p.add_argument(
        "--trials",
        type=int,
        default=200,
        metavar="N",
        help="candidates to measure in this run, over all tasks (default 200)",
    )
    p.add_argument(
        "--trials-per-batch",
        type=int,
        default=32,
        metavar="N",
        help="candidates built and measured together (default 32; smaller when the trials "
        "would not give every MetaSchedule task a batch)",
    )
    p.add_argument(
        "--time-budget",
        type=float,
        metavar="SECONDS",
        help="stop searching after this long; what was measured is kept",
    )
    p.add_argument(
        "--rpc-tracker",
        metavar="HOST:PORT",
        help="measure on the TVM RPC servers of this tracker (needs --rpc-key)",
    )
    p.add_argument(
        "--rpc-key",
        metavar="KEY",
        help="the device key the RPC servers registered with the tracker",
    )
    p.add_argument(
        "--builders",
        type=int,
        metavar="N",
        help="parallel build processes (default: every usable core)",
    )
    p.add_argument(
        "--cost-model",
        choices=("xgb", "random"),
        default="xgb",
        help="MetaSchedule's cost model for the evolutionary search (default xgb)",
    )
    p.add_argument(
        "--task-scheduler",
        choices=("gradient", "round-robin"),
        default="gradient",
        help="how trials are shared between tasks: gradient (MetaSchedule's default: to the "
        "tasks whose weighted time falls fastest) or round-robin (equally); default gradient",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed of the search (default 0)")
    add_model_options(p, tuning_log=False)
    p.set_defaults(handler=cmd_tune)


def _check_numbers(args: argparse.Namespace) -> None:
    if args.trials < 1:
        raise UsageError("--trials must be at least 1")
    if args.trials_per_batch < 1:
        raise UsageError("--trials-per-batch must be at least 1")
    if args.time_budget is not None and args.time_budget <= 0:
        raise UsageError("--time-budget must be positive (seconds)")
    if args.builders is not None and args.builders < 1:
        raise UsageError("--builders must be at least 1")


def cmd_tune(args: argparse.Namespace) -> int:
    from fftc.codegen.build import tvm_target
    from fftc.target import parse_target
    from fftc.tune.driver import TuneOptions, default_timing, evaluate, run_tuning
    from fftc.tune.log import DEFAULT_ROOT, TuningLog, default_log_path
    from fftc.tune.measure import check_tracker, make_runner
    from fftc.tune.report import print_report, print_tasks
    from fftc.tune.tasks import extract_tasks

    if args.list_knobs:
        print(knob_listing())
        return 0
    if args.model is None:
        raise UsageError("fftc tune needs a model (.onnx), or --list-knobs")
    _check_numbers(args)
    model = require_model_file(args.model)
    spec = parse_target(args.target)
    if args.rpc_tracker or args.rpc_key:
        make_runner(args.rpc_tracker, args.rpc_key)  # checks the pair of options
        servers = check_tracker(args.rpc_tracker, args.rpc_key)
        if servers == 0:
            raise UsageError(
                f"the RPC tracker {args.rpc_tracker} has no server for key {args.rpc_key!r}"
            )
    say = None if args.quiet else _say
    target = tvm_target(spec)
    options = compile_options(args)
    tuning_log = None
    if not args.list_tasks:
        if args.log is None:
            DEFAULT_ROOT.mkdir(exist_ok=True)
        path = Path(args.log) if args.log else default_log_path(model, spec)
        tuning_log = TuningLog.open_or_create(path, spec, model.stem)
        options = _with_compute_knobs(args, model, spec, options, tuning_log, say)
    tasks = extract_tasks(
        model, spec, input_shapes(args), args.allow_nonfinite_weights, options.pass_options
    )
    if say:
        say(f"{len(tasks)} tasks in {model.name} for {spec}; timing their default schedules")
    defaults = {}
    for task in tasks:
        timing = default_timing(task, target)
        if timing is not None:
            defaults[task.key] = timing.ms
    if tuning_log is None:
        print_tasks(tasks, defaults, target)
        return 0
    path = tuning_log.path
    if say:
        say(f"log {path} ({len(tuning_log.records())} records); up to {args.trials} trials")
    tune_options = TuneOptions(
        trials=args.trials,
        trials_per_iter=args.trials_per_batch,
        time_budget_s=args.time_budget,
        cost_model=args.cost_model,
        task_scheduler=args.task_scheduler,
        rpc_tracker=args.rpc_tracker,
        rpc_key=args.rpc_key,
        builders=args.builders,
        seed=args.seed,
    )
    summary = run_tuning(tasks, target, tuning_log, tune_options, defaults, say, args.verbose)
    kept = f"{summary.measured} trials measured, kept in {path}"
    if summary.stopped == "interrupted":
        sys.stderr.write(f"fftc: tune: interrupted; {kept}; run the same command to continue\n")
        return 130
    if say:
        if summary.stopped:
            say(f"stopped: {summary.stopped}; {kept}")
        if summary.skipped:
            say(f"{summary.skipped} candidates were already in the log (not measured again)")
        say("timing default and tuned schedules")
    evaluate(summary.results, target, tuning_log)
    print_report(
        summary, model, spec, path, options, input_shapes(args), args.allow_nonfinite_weights
    )
    return 0


def _with_compute_knobs(
    args: argparse.Namespace, model: Path, spec: Any, options: Any, tuning_log: Any, say: Any
) -> Any:
    """The compile options with the log's compute knobs: searched now when the log has
    none yet (``fftc.tune.compute``), else the ones it recorded (a resumed run)."""
    import dataclasses

    from fftc.tune.compute import search_compute

    if tuning_log.compute_options is None and not args.no_compute_search:
        choice = search_compute(model, spec, options, input_shapes(args),
                                args.allow_nonfinite_weights, say)  # fmt: skip
        tuning_log.compute_options, tuning_log.compute_times = choice.options, choice.times
        tuning_log.save()
        if say and choice.times:
            say(f"compute knobs: {choice.describe()}")
    chosen = tuning_log.compute_options or {}
    return dataclasses.replace(options, pass_options={**chosen, **options.pass_options})


def knob_listing() -> str:
    """Every knob: the FFT's compute knobs (read by the kernel generator and the
    fft-to-monarch pass, which records the factorization on the IR; ``fftc tune``
    searches ``fft.max_radix`` model-wide, ``fftc.tune.compute``), then the schedule
    templates' knobs (searched per task)."""
    from fftc.kernels.fft import plan
    from fftc.schedules.base import Knob, all_templates

    def line(knob: Knob) -> str:
        choices = ", ".join(f"{c}*" if c == knob.default else str(c) for c in knob.choices)
        return f"  {knob.name:22s} {choices:24s} {knob.doc}"

    lines = [
        "FFT compute knobs (the FFT's factorization; fftc tune searches fft.max_radix over "
        "the whole model, as the pass option fft_max_radix):"
    ]
    lines += [line(k) for k in plan.COMPUTE_KNOBS]
    lines.append("schedule knobs (searched by fftc tune), by target and kernel:")
    for tmpl in sorted(all_templates(), key=lambda t: (t.target_kind, t.kernel)):
        if tmpl.knobs:
            lines.append(f" {tmpl.target_kind} {tmpl.kernel}:")
            lines += [line(k) for k in tmpl.knobs]
    return "\n".join(lines)


def _say(text: str) -> None:
    sys.stderr.write(f"fftc: tune: {text}\n")
    sys.stderr.flush()
