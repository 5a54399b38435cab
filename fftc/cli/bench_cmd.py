"""``fftc bench``: run benchmark suites against PyTorch, onnxruntime and TVM on this CPU,
or (``--target cuda``, suite ``longconv-gpu``) against PyTorch on a CUDA GPU."""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fftc.cli.common import Formatter, check_new_file
from fftc.errors import UsageError, VerificationError

if TYPE_CHECKING:
    from fftc.bench.runner import CaseResult, Log
    from fftc.bench.suites import Case
    from fftc.bench.timing import Settings

IMPL_NAMES = ("fftc", "torch", "onnxruntime", "tvm")
#: what the GPU suite measures
GPU_IMPL_NAMES = ("fftc", "torch")
IMPL_ALIASES = {"ort": "onnxruntime", "pytorch": "torch"}
DTYPE_NAMES = ("fp16", "bf16", "fp32")
#: the dtypes the GPU suite runs without --dtype
GPU_DEFAULT_DTYPES = ("fp16", "bf16")

EXAMPLES = """\
examples:
  fftc bench longconv dwconv2d gfnet fnet --threads 2 --json bench.json --plot bench.png
  fftc bench longconv --case L=1024                # one case
  fftc bench dwconv2d --case '31x31*'              # shell-style pattern on case names
  fftc bench longconv --sizes 1024,4096            # cases whose name mentions these numbers
  fftc bench fnet gfnet --quick                    # tiny sizes: a smoke test
  fftc bench dwconv2d --impl fftc,onnxruntime      # measure only these
  fftc bench longconv-gpu --target cuda:sm_90 --json gpu.json   # on a CUDA GPU
  fftc bench --target cuda --sizes 1024,4096 --dtype fp16       # cuda: longconv-gpu

suites:
  longconv  gated causal long convolution y = g * (irfft(rfft(u) * rfft(k))[:L] + D*u),
            H=768, L = 1024, 4096, 16384, 65536
  dwconv2d  depthwise Conv (groups=C, 'same' padding, bias): 31x31 at (C,H,W) =
            (128,56,56), (256,28,28), (512,14,14); 7x7 at (96,56,56)
  gfnet     GFNet global filter irfft2(rfft2(x) * W), 56x56x384, norm='ortho'
  fnet      FNet mixing real(fft(fft(x, -1), -2)) of (512, 768)
  longconv-gpu  (--target cuda) y = (irfft(rfft(u*pre, 2L) * K)[:L] + D*u) * post,
            B=64, H=768, L = 1024, 4096, 8192, 16384, 32768 (65536 .. 1048576 with
            --sizes), --dtype fp16,bf16 (default) or fp32; fftc against PyTorch's cuFFT,
            FlashFFTConv's published H100 times and the HBM bandwidth floor

Without a suite, every suite of the target runs (cuda: longconv-gpu).
Every CPU case runs in one process on the same seeded inputs (fp32, batch 1). Each
implementation's output is compared with a float64 NumPy reference first
(max|out - ref| / max|ref|; '!' marks one above --rtol), then timed: warm-up, then
the median of at least --repeat runs (more while under --min-time, fewer when over
--max-time). Models are exported with PyTorch's dynamo exporter (opset 20) and cached
in --cache-dir. The exit status is 1 if fftc fails or is off on any case.
On cuda, outputs are checked against PyTorch's float32 FFT convolution of the same
GPU inputs instead (--rtol by dtype: fp32 1e-4, fp16 1e-2, bf16 5e-2); fftc is timed
with TVM's time_evaluator, PyTorch with CUDA events.
"""


def register(sub: Any, formatter: Formatter) -> None:
    p = sub.add_parser(
        "bench",
        help="benchmark suites: fftc against PyTorch, onnxruntime and TVM",
        description="Run benchmark suites and print a table of median times, fftc against "
        "PyTorch eager, onnxruntime and TVM without fftc's passes on this CPU, or (--target "
        "cuda) against PyTorch's cuFFT, FlashFFTConv's published times and the bandwidth "
        "floor on a CUDA GPU.",
        epilog=EXAMPLES,
        formatter_class=formatter,
    )
    p.add_argument(
        "suites",
        nargs="*",
        metavar="SUITE",
        help="longconv, dwconv2d, gfnet, fnet (CPU), longconv-gpu (cuda); "
        "default: every suite of --target",
    )
    p.add_argument("--threads", type=int, metavar="N", help="threads of every library (all CPUs)")
    p.add_argument(
        "--case",
        action="append",
        default=[],
        metavar="PATTERN",
        help="run only cases whose name matches (repeatable), e.g. L=1024",
    )
    p.add_argument(
        "--sizes",
        metavar="N[,N...]",
        help="run only cases whose name mentions one of these numbers",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="tiny sizes and few runs (a smoke test, not a benchmark)",
    )
    p.add_argument(
        "--impl",
        metavar="NAME[,NAME...]",
        help="implementations to measure (default: all four; cuda: fftc,torch)",
    )
    p.add_argument(
        "--dtype",
        metavar="NAME[,NAME...]",
        help="precisions of the GPU suite's cases: fp16, bf16, fp32 (default fp16,bf16); "
        "also fftc's --dtype; the CPU suites are fp32",
    )
    p.add_argument("--repeat", type=int, metavar="N", help="timed runs at least (20)")
    p.add_argument("--warmup", type=int, metavar="N", help="warm-up calls (2)")
    p.add_argument(
        "--min-time",
        type=float,
        metavar="S",
        help="more runs while they total under S seconds (0.5)",
    )
    p.add_argument(
        "--max-time",
        type=float,
        metavar="S",
        help="fewer runs (at least 3) if --repeat takes over S seconds (10)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the inputs (0)")
    p.add_argument(
        "--rtol",
        type=float,
        help="numerics flag threshold (1e-4; cuda: fp32 1e-4, fp16 1e-2, bf16 5e-2)",
    )
    p.add_argument(
        "--target",
        default="llvm",
        help="fftc's target: llvm (this CPU), llvm:<cpu name>, or cuda[:sm_XY] (this "
        "machine's GPU, suite longconv-gpu)",
    )
    p.add_argument(
        "--conv-fft",
        choices=("auto", "always", "never"),
        default="auto",
        help="fftc's FFT convolutions (see 'fftc compile --help')",
    )
    p.add_argument("--json", metavar="FILE", help="write every result and the machine to FILE")
    p.add_argument("--plot", metavar="FILE.png", help="plot time against size (matplotlib)")
    p.add_argument("--force", action="store_true", help="overwrite existing --json/--plot files")
    p.add_argument(
        "--cache-dir", metavar="DIR", help="exported models (default ~/.cache/fftc/bench)"
    )
    p.set_defaults(handler=cmd_bench)


def _at_least(value: float | None, option: str, default: float, minimum: float = 1) -> float:
    """``value`` (``default`` if not given), refused below ``minimum`` or NaN."""
    if value is None:
        return default
    if not value >= minimum:
        raise UsageError(f"{option} must be at least {minimum:g}")
    return value


def _implementations(text: str | None, gpu: bool) -> tuple[str, ...]:
    known = GPU_IMPL_NAMES if gpu else IMPL_NAMES
    if text is None:
        return known
    names = [IMPL_ALIASES.get(n.strip(), n.strip()) for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in IMPL_NAMES]
    if unknown:
        raise UsageError(
            f"--impl: unknown {unknown[0]!r}; implementations are: {', '.join(IMPL_NAMES)}"
        )
    if not names:
        raise UsageError(f"--impl: name at least one of: {', '.join(known)}")
    elsewhere = [n for n in names if n not in known]
    if elsewhere:
        raise UsageError(
            f"--impl: {elsewhere[0]} is measured on the CPU only; on cuda, fftc bench "
            f"measures {' and '.join(known)}"
        )
    return tuple(dict.fromkeys(names))


def _is_cuda(target: str) -> bool:
    return target.strip().partition(":")[0] == "cuda"


def _suite_names(names: Sequence[str], target: str) -> list[str]:
    """The suites to run: as named (each checked against the target's device), or every
    suite of the target's device."""
    from fftc.bench.suites import SUITES

    device = "cuda" if _is_cuda(target) else "cpu"
    if not names:
        return [n for n, suite in SUITES.items() if suite.device == device]
    for name in names:
        suite = SUITES.get(name)
        if suite is None or suite.device == device:
            continue  # unknown names are reported by select_cases
        if device == "cuda":
            raise UsageError(
                f"--target {target!r}: suite {name} runs on this CPU (llvm targets); "
                "the CUDA suite is longconv-gpu"
            )
        raise UsageError(
            f"suite {name} runs on a CUDA GPU: give --target cuda (this machine's GPU) "
            "or --target cuda:<arch>"
        )
    return list(names)


def _dtypes(text: str | None, gpu: bool) -> tuple[str, ...]:
    if text is None:
        return GPU_DEFAULT_DTYPES if gpu else ()
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    unknown = [n for n in names if n not in DTYPE_NAMES]
    if unknown or not names:
        raise UsageError(f"--dtype {text!r}: give one or more of {', '.join(DTYPE_NAMES)}")
    if not gpu and names != ("fp32",):
        raise UsageError(
            f"--dtype {text}: the CPU suites run in fp32; fp16 and bf16 are for the GPU "
            "suite (--target cuda)"
        )
    return names


def require_cuda_device(target: str) -> None:
    """Refuse, before any work, to run the GPU suite where no CUDA device can run it."""
    from fftc.runtime import tvm_runtime

    problem = tvm_runtime.cuda_runtime_error()
    if problem is None:
        return
    arch = target.strip().partition(":")[2] or "sm_90"
    raise UsageError(
        f"--target {target}: fftc bench runs its GPU suite on a CUDA device, and no CUDA "
        f"device was found here: {problem}. Run it on a machine with an NVIDIA GPU, or "
        f"cross-compile here with 'fftc compile MODEL.onnx --target cuda:{arch} -o m.fftc' "
        "(nvcc, no GPU needed) and measure there with 'fftc run m.fftc --random --benchmark 20'"
    )


def _require_torch_cuda() -> None:
    import torch

    if not torch.cuda.is_available():
        raise UsageError(
            f"fftc bench --target cuda makes its inputs and reference with PyTorch on the GPU; "
            f"this PyTorch ({torch.__version__}) has no CUDA support: install a CUDA build"
        )


def _sizes(text: str | None) -> list[int]:
    if not text:
        return []
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise UsageError(f"--sizes {text!r}: give whole numbers separated by commas") from None


def _check_environment(args: argparse.Namespace, plot: bool, gpu: bool) -> None:
    if plot and gpu:
        raise UsageError("--plot: the GPU suite has no plot yet; use --json")
    if plot and importlib.util.find_spec("matplotlib") is None:
        raise UsageError("--plot needs matplotlib: pip install 'fftc[bench]'")
    if args.rtol is not None and not args.rtol > 0:  # NaN would flag every result
        raise UsageError("--rtol must be positive")
    if args.target.strip().partition(":")[0] not in ("llvm", "cpu", "cuda"):
        raise UsageError(f"--target {args.target!r}: fftc bench measures on this CPU (llvm, "
                         "llvm:<cpu name>) or on a CUDA GPU (cuda, cuda:<arch>)")  # fmt: skip
    if gpu:
        from fftc.target import parse_target

        require_cuda_device(args.target)
        parse_target(args.target)  # a known arch (or this GPU's)
    missing = [m for m in ("torch", "onnxscript") if importlib.util.find_spec(m) is None]
    if missing:
        raise UsageError(
            f"fftc bench builds its models with PyTorch; {' and '.join(missing)} "
            "not installed: pip install 'fftc[bench]'"
        )
    if gpu:
        _require_torch_cuda()


def _settings(args: argparse.Namespace, cpus: int, gpu: bool) -> Settings:
    """The run's settings; --quick changes the defaults of the timing options."""
    from fftc.bench.timing import Settings

    quick = args.quick
    return Settings(
        threads=int(_at_least(args.threads, "--threads", cpus)),
        target=args.target,
        conv_fft=args.conv_fft,
        repeat=int(_at_least(args.repeat, "--repeat", 3 if quick else 20)),
        warmup=int(_at_least(args.warmup, "--warmup", 1 if quick else 2)),
        min_time_s=_at_least(args.min_time, "--min-time", 0.0 if quick else 0.5, 0),
        max_time_s=_at_least(args.max_time, "--max-time", 1.0 if quick else 10.0, 0),
        seed=int(_at_least(args.seed, "--seed", 0, 0)),  # NumPy refuses negative seeds
        rtol=1e-4 if args.rtol is None else args.rtol,
        rtol_from_dtype=gpu and args.rtol is None,
        implementations=_implementations(args.impl, gpu),
    )


def cmd_bench(args: argparse.Namespace) -> int:
    from fftc.bench.export import default_cache_dir
    from fftc.bench.suites import select_cases
    from fftc.threads import usable_cpus

    gpu = _is_cuda(args.target)
    suites = _suite_names(args.suites, args.target)
    dtypes = _dtypes(args.dtype, gpu)
    cases = select_cases(suites, args.quick, args.case, _sizes(args.sizes), dtypes)
    cpus = usable_cpus()
    settings = _settings(args, cpus, gpu)
    threads, impls = settings.threads, settings.implementations
    # refused before the run (and checked again before writing, see below)
    if args.json:
        check_new_file(args.json, args.force, "JSON report")
    if args.plot:
        check_new_file(args.plot, args.force, "plot")
    _check_environment(args, bool(args.plot), gpu)
    cache_dir = Path(args.cache_dir) if args.cache_dir else default_cache_dir()
    if cache_dir.exists() and not cache_dir.is_dir():
        raise UsageError(f"--cache-dir {cache_dir}: not a directory")
    threads_used = _set_threads(threads)
    from fftc.bench.report import machine_info, write_json, write_plot

    def log(line: str) -> None:
        if not args.quiet:
            sys.stderr.write(f"fftc: bench: {line}\n")
            sys.stderr.flush()

    load_before = _load_average()
    if load_before and load_before[0] > 0.5 * cpus:
        log(f"warning: the machine is busy (load average {load_before[0]:.1f} on {cpus} CPUs): "
            "timings will be noisy")  # fmt: skip
    run = _run_gpu if gpu else _run_cpu
    results, make_json = run(cases, settings, cache_dir, log, threads_used)
    machine = machine_info(_host_cpu(args.target))
    machine["load_average_before"] = load_before
    machine["load_average_after"] = _load_average()
    if args.json:
        # checked again: the run may have taken long enough for the file to appear
        json_path = check_new_file(args.json, args.force, "JSON report")
        write_json(json_path, make_json(machine, ["fftc", *sys.argv[1:]]))
        log(f"wrote {json_path}")
    if args.plot:
        plot_path = check_new_file(args.plot, args.force, "plot")
        title = (
            f"fftc bench, {machine['cpu_model']} ({machine['llvm_cpu']}), "
            f"{threads} threads, fp32, batch 1"
        )
        write_plot(plot_path, results, title)
        log(f"wrote {plot_path}")
    bad = _fftc_failures(results) if "fftc" in impls else []
    if bad:
        raise VerificationError(f"fftc failed or is off by more than --rtol on: {', '.join(bad)}")
    return 0


MakeJson = Callable[[dict[str, Any], list[str]], dict[str, Any]]


def _run_cpu(
    cases: Sequence[Case], settings: Settings, cache_dir: Path, log: Log, threads: dict[str, int]
) -> tuple[list[CaseResult], MakeJson]:
    from fftc.bench.report import format_table, to_json
    from fftc.bench.runner import run_cases

    results = run_cases(cases, settings, cache_dir, log)
    print(format_table(results, settings, threads), flush=True)
    return results, lambda machine, command: to_json(results, settings, threads, machine, command)


def _run_gpu(
    cases: Sequence[Case], settings: Settings, cache_dir: Path, log: Log, threads: dict[str, int]
) -> tuple[list[CaseResult], MakeJson]:
    from fftc.bench.gpu_report import format_gpu_table, gpu_to_json
    from fftc.bench.gpu_runner import gpu_info, run_gpu_cases

    info = gpu_info()
    log(f"{info.describe()}; bandwidth floor at {info.bandwidth.describe()}")
    results = run_gpu_cases(cases, settings, cache_dir, log)
    print(format_gpu_table(results, settings, info), flush=True)
    return results, lambda machine, command: gpu_to_json(
        results, settings, threads, machine, info, command
    )


def _host_cpu(target: str) -> str:
    """The LLVM name of the CPU the run measured on (cuda: the host's)."""
    from fftc.target import parse_target

    return parse_target("llvm" if _is_cuda(target) else target).arch


def _fftc_failures(results: Sequence[CaseResult]) -> list[str]:
    """The cases where fftc did not run or is off by more than its case's rtol."""
    return [
        r.case.label
        for r in results
        if (m := r.first("fftc")) is None or not m.ok or m.flagged(r.rtol)
    ]


def _load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (other work skews timings)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _set_threads(threads: int) -> dict[str, int]:
    """Every library's thread count: TVM's runtime (fftc and TVM), PyTorch, onnxruntime.

    ``TVM_NUM_THREADS`` only takes effect before TVM's thread pool starts, so the value
    actually in use is read back and reported.  Starting single-threaded, TVM pins the
    calling thread to one CPU; the pin is undone so that every library (and the threads
    PyTorch and onnxruntime start later) may run on the same CPUs."""
    os.environ["TVM_NUM_THREADS"] = str(threads)
    import torch

    from fftc.codegen import tvm_api

    cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    used = {"tvm": tvm_api.runtime_threads()}  # starts TVM's thread pool
    if cpus is not None and os.sched_getaffinity(0) != cpus:
        os.sched_setaffinity(0, cpus)
    torch.set_num_threads(threads)
    return {**used, "torch": int(torch.get_num_threads()), "onnxruntime": threads}
