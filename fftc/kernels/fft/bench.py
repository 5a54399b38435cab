"""Benchmark the FFT kernel against ``numpy.fft`` on the same data.

``python -m fftc.kernels.fft.bench`` prints a table for the default cases
(fp32).  The TVM runtime's thread pool defaults to one thread on this
machine and reads ``TVM_NUM_THREADS`` once, at its first parallel launch, so
the script sets it (to the CPU count unless already set) and re-executes
itself before importing anything else.  Each case is compiled alone
(``emit_dft`` -> Relax ``zero`` pipeline -> fftc schedules -> ``tvm.compile``),
checked against NumPy in float64, and timed with the VM's
``time_evaluator``; NumPy is timed on the same input (complex64 or float32).
"""

from __future__ import annotations

import functools
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from fftc.codegen.schedule import apply_schedules
from fftc.codegen.tvm_api import llvm_target, relax, tvm
from fftc.schedules.base import KnobValue

from . import emit_dft, plan_dft


@dataclass(frozen=True)
class BenchCase:
    """One transform: input ``shape`` (trailing 1 real, 2 complex), DFT along ``axis``."""

    name: str
    shape: tuple[int, ...]
    axis: int
    length: int
    inverse: bool = False
    onesided: bool = False
    knobs: Mapping[str, KnobValue] = field(default_factory=dict)


DEFAULT_CASES = (
    BenchCase("fft 65536", (65536, 2), 0, 65536),
    BenchCase("rfft 65536", (65536, 1), 0, 65536, onesided=True),
    BenchCase("irfft 65536", (32769, 2), 0, 65536, inverse=True, onesided=True),
    BenchCase("rfft (768, 4096)", (768, 4096, 1), 1, 4096, onesided=True),
    BenchCase("fft 8191 (prime)", (8191, 2), 0, 8191),
)


def build_dft(case: BenchCase) -> relax.VirtualMachine:
    """Compile one case into a Relax VM on the host CPU."""
    bb = relax.BlockBuilder()
    x = relax.Var("x", relax.TensorType(case.shape, "float32"))
    with bb.function("main", [x]):
        with bb.dataflow():
            y = emit_dft(
                bb,
                x,
                axis=case.axis,
                length=case.length,
                inverse=case.inverse,
                onesided=case.onesided,
                knobs=case.knobs,
            )
            out = bb.emit_output(y)
        bb.emit_func_output(out)
    target = llvm_target()
    with target:
        mod = relax.get_pipeline("zero")(bb.get())
    mod, report = apply_schedules(mod, target)
    if report.failed:
        raise RuntimeError(f"scheduling failed: {report.failed}")
    return relax.VirtualMachine(tvm.compile(mod, target=target), tvm.cpu())


def numpy_dft(case: BenchCase) -> Callable[[np.ndarray], np.ndarray]:
    """The NumPy transform of a case, on NumPy's complex (or real) form of the input."""
    n, axis = case.length, case.axis
    if case.inverse:
        inverse = np.fft.irfft if case.onesided else np.fft.ifft
        return lambda a: inverse(a, n, axis=axis)
    forward = np.fft.rfft if case.onesided else np.fft.fft
    return lambda a: forward(a, n, axis=axis)


def _as_numpy(data: np.ndarray) -> np.ndarray:
    """Interleaved ``(..., 2)`` -> complex, ``(..., 1)`` -> real."""
    if data.shape[-1] == 2:
        return data[..., 0] + 1j * data[..., 1]
    return data[..., 0]


def _sample_ms(fn: Callable[[], object], number: int, repeat: int) -> np.ndarray:
    """``repeat`` samples of the mean time of ``number`` calls, in ms (as ``time_evaluator``)."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - start) / number)
    return np.asarray(samples) * 1e3


def bench_fft(
    cases: Sequence[BenchCase] = DEFAULT_CASES, number: int = 10, repeat: int = 10
) -> list[dict[str, object]]:
    """Compile, check and time each case; one result row per case.

    Times are the median (``*_ms``) and the minimum (``*_min_ms``) over
    ``repeat`` samples of ``number`` calls: on a shared machine the minimum
    is the steadier of the two.
    """
    rows: list[dict[str, object]] = []
    rng = np.random.default_rng(0)
    for case in cases:
        start = time.perf_counter()
        vm = build_dft(case)
        compile_s = time.perf_counter() - start
        data = rng.standard_normal(case.shape).astype(np.float32)
        arg = tvm.runtime.tensor(data)
        out = _as_numpy(vm["main"](arg).numpy())
        reference = numpy_dft(case)
        expected = reference(_as_numpy(data.astype(np.float64)))
        error = float(np.abs(out - expected).max() / np.abs(expected).max())
        timer = vm.time_evaluator("main", tvm.cpu(), number=number, repeat=repeat)
        tvm_ms = np.asarray(timer(arg).results) * 1e3
        np_input = _as_numpy(data)  # complex64 or float32, as a caller would hold it
        numpy_ms = _sample_ms(functools.partial(reference, np_input), number, repeat)
        plan = plan_dft(
            case.length,
            inverse=case.inverse,
            onesided=case.onesided,
            real_input=case.shape[-1] == 1,
            knobs=case.knobs,
        )
        rows.append(
            {
                "case": case.name,
                "plan": plan.explain(),
                "compile_s": compile_s,
                "tvm_ms": float(np.median(tvm_ms)),
                "tvm_min_ms": float(tvm_ms.min()),
                "numpy_ms": float(np.median(numpy_ms)),
                "numpy_min_ms": float(numpy_ms.min()),
                "ratio": float(np.median(tvm_ms) / np.median(numpy_ms)),
                "rel_error": error,
            }
        )
    return rows


def format_table(rows: Sequence[Mapping[str, object]]) -> str:
    """A plain-text table of :func:`bench_fft` rows (times in ms: median / min)."""
    header = ("case", "fftc ms", "numpy ms", "ratio", "compile s", "rel err")
    lines = ["{:<18} {:>15} {:>15} {:>6} {:>9} {:>8}  plan".format(*header)]
    for row in rows:
        fftc = f"{row['tvm_ms']:.3f} / {row['tvm_min_ms']:.3f}"
        numpy = f"{row['numpy_ms']:.3f} / {row['numpy_min_ms']:.3f}"
        lines.append(
            f"{row['case']!s:<18} {fftc:>15} {numpy:>15} {row['ratio']:>6.2f} "
            f"{row['compile_s']:>9.1f} {row['rel_error']:>8.1e}  {row['plan']}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    if "TVM_NUM_THREADS" not in os.environ:
        os.environ["TVM_NUM_THREADS"] = str(os.cpu_count() or 1)
        os.execv(sys.executable, [sys.executable, "-m", "fftc.kernels.fft.bench", *sys.argv[1:]])
    print(f"TVM_NUM_THREADS={os.environ['TVM_NUM_THREADS']}")
    print(format_table(bench_fft()))
