"""Time the example models in fftc, PyTorch (eager) and onnxruntime, side by side.

    python examples/bench_examples.py                    # every headline and zoo example
    python examples/bench_examples.py --only hyena_block gfnet --rounds 15 --threads 2

Every implementation is timed the same way: a Python call with NumPy arrays in and out
(PyTorch under ``inference_mode``, onnxruntime's CPU provider), with the same number of
threads, in alternating rounds of 20 calls each, so that the machine's drifts fall on
all of them. Each round starts with a 0.2 s pause, so that the previous implementation's
spin-waiting threads are asleep (OpenMP's, onnxruntime's and TVM's pools spin after a
call and would take this one's cores), and warm-up calls for 50 ms (at least 3): after
the pause a thread pool's workers are asleep, and Linux first wakes them onto the
caller's core; timed at once, fftc's 2-thread rounds came out bimodal, 0.08 or 0.13 ms
for the same FNet block. The table shows the median over rounds of each round's median
per call. fftc is built twice: with its default schedules (no tuning log), and with the
shipped tuning log when ``tuning_logs/`` has one for the model ("-" otherwise). The
speedup is the faster peer's time over fftc's as a plain ``fftc compile`` builds it
(shipped logs apply by default). Before timing, each output is checked against
onnxruntime (max error <= 1e-4 x the output's largest magnitude, the bound the examples
were exported and tested with).

Needs the examples' extras (``pip install -e '.[examples]'``: torch).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make `examples.models` importable
    sys.path.insert(0, str(ROOT))

RTOL = 1e-4
SETTLE_S = 0.2
WARMUP_S = 0.05
MAX_WARMUP = 1000
Call = Callable[[], list[np.ndarray]]


def _fftc_calls(path: Path, feeds: dict[str, np.ndarray]) -> dict[str, Call | None]:
    import fftc
    from fftc.api import CompileOptions
    from fftc.target import parse_target

    spec = parse_target("llvm")
    out: dict[str, Call | None] = {}
    default = fftc.compile(path, spec, options=CompileOptions(shipped_logs=False))
    out["fftc"] = lambda: list(default.run(feeds).values())
    shipped = ROOT / "tuning_logs"
    logs = [p for p in shipped.glob(f"{path.stem}-llvm-*") if p.is_dir()]
    if logs:
        tuned = fftc.compile(path, spec, options=CompileOptions(tuning_log=str(logs[0])))
        out["fftc tuned"] = lambda: list(tuned.run(feeds).values())
    else:
        out["fftc tuned"] = None
    return out


def _torch_call(spec: Any, feeds: dict[str, np.ndarray], threads: int) -> Call:
    import torch

    torch.set_num_threads(threads)
    module = spec.build()
    args = [torch.from_numpy(feeds[name]) for name in spec.input_names]

    def call() -> list[np.ndarray]:
        with torch.inference_mode():
            result = module(*args)
        results = result if isinstance(result, tuple | list) else (result,)
        return [r.numpy() for r in results]

    return call


def _ort_call(path: Path, feeds: dict[str, np.ndarray], threads: int) -> Call:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    return lambda: list(session.run(None, feeds))


def _check(name: str, got: list[np.ndarray], want: list[np.ndarray]) -> None:
    for g, w in zip(got, want, strict=True):
        scale = max(float(np.abs(w).max()), 1e-30)
        err = float(np.abs(np.asarray(g, np.float64) - w).max())
        if err > RTOL * scale:
            raise SystemExit(f"fftc: error: {name}: output differs from onnxruntime: {err:.3g}")


def _round_ms(call: Call, number: int = 20) -> float:
    # the previous implementation's spinning threads go to sleep (module doc); warm up
    time.sleep(SETTLE_S)
    start = time.perf_counter()
    for i in range(MAX_WARMUP):
        call()
        if i >= 2 and time.perf_counter() - start > WARMUP_S:
            break
    times = []
    for _ in range(number):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def bench(spec: Any, threads: int, rounds: int) -> dict[str, float | None]:
    from fftc.testing import random_inputs

    path = ROOT / "examples" / spec.group / f"{spec.name}.onnx"
    feeds = random_inputs(path, 0, {})
    calls: dict[str, Call | None] = {
        **_fftc_calls(path, feeds),
        "torch": _torch_call(spec, feeds, threads),
        "onnxruntime": _ort_call(path, feeds, threads),
    }
    live = {k: c for k, c in calls.items() if c is not None}
    reference = live["onnxruntime"]()
    for name, call in live.items():
        _check(f"{spec.name} ({name})", call(), reference)
    samples: dict[str, list[float]] = {k: [] for k in live}
    for _ in range(rounds):
        for name, call in live.items():
            samples[name].append(_round_ms(call))
    return {k: (statistics.median(samples[k]) if k in samples else None) for k in calls}


def main(argv: list[str] | None = None) -> int:
    from examples.models import EXAMPLES

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", nargs="+", metavar="NAME", help="examples to time (default: all)")
    p.add_argument("--threads", type=int, default=2, help="threads for every implementation")
    p.add_argument("--rounds", type=int, default=9, help="alternating rounds of 20 calls")
    args = p.parse_args(argv)
    # before TVM starts its thread pool (fftc.threads only sets a default)
    os.environ["TVM_NUM_THREADS"] = str(args.threads)
    specs = [s for s in EXAMPLES if s.group in ("onnx", "zoo")]
    if args.only:
        unknown = set(args.only) - {s.name for s in specs}
        if unknown:
            p.error(f"unknown example(s): {', '.join(sorted(unknown))}")
        specs = [s for s in specs if s.name in args.only]
    cols = ("fftc", "fftc tuned", "torch", "onnxruntime")
    print("| model | " + " | ".join(f"{c} ms" for c in cols) + " | best peer | speedup |")
    print("| --- | " + " | ".join("---:" for _ in cols) + " | --- | ---: |")
    for spec in specs:
        t = bench(spec, args.threads, args.rounds)
        peers = {k: v for k, v in t.items() if not k.startswith("fftc") and v is not None}
        peer = min(peers, key=peers.__getitem__)
        # what a plain `fftc compile` gives: shipped logs apply by default
        ours = t["fftc tuned"] or t["fftc"] or float("nan")
        cells = " | ".join("-" if t[c] is None else f"{t[c]:.3f}" for c in cols)
        print(f"| {spec.group}/{spec.name} | {cells} | {peer} | {peers[peer] / ours:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
