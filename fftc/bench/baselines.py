"""The implementations measured per case: fftc, PyTorch eager, onnxruntime, and TVM.

Each is a :class:`Candidate` whose ``prepare()`` compiles or loads it and returns a
:class:`Prepared` (``run()`` for the numerics, ``measure(n)`` for the timing); preparing
lazily keeps one implementation's memory alive at a time (the largest longconv case holds
~1 GB per implementation).  ``prepare`` raises :class:`NotAvailable` where the
implementation cannot run the case at all (TVM's ONNX frontend and DFT).

Timing: fftc and TVM with TVM's ``time_evaluator`` on inputs already in TVM tensors (what
``fftc run --benchmark`` uses); PyTorch and onnxruntime as Python calls on tensors/arrays
made once.  Outputs are fresh tensors in every case.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fftc.bench.export import OUTPUT_NAME
from fftc.bench.suites import Problem
from fftc.bench.timing import NotAvailable, Settings, Timing, time_calls
from fftc.errors import FftcError

#: ONNX ops TVM 0.27's ONNX frontend has no converter for
TVM_MISSING_OPS = ("DFT", "STFT")


@dataclass
class Prepared:
    #: one call; returns the output (NumPy, or a GPU tensor for the GPU suite)
    run: Callable[[], Any]
    measure: Callable[[int], Timing]
    #: compile time (fftc, TVM) or session creation (onnxruntime), seconds
    compile_s: float | None = None
    #: what the implementation chose (fftc's decisions)
    details: list[str] = field(default_factory=list)


@dataclass
class Candidate:
    impl: str  # fftc | torch | onnxruntime | tvm
    variant: str  # e.g. "direct" / "fft" for PyTorch, "" otherwise
    prepare: Callable[[], Prepared]


# -- fftc ---------------------------------------------------------------------------------------


def _prepare_fftc(problem: Problem, model: Path, settings: Settings) -> Prepared:
    import fftc
    from fftc.api import CompileOptions

    t0 = time.perf_counter()
    module = fftc.compile(
        model,
        target=settings.target,
        options=CompileOptions(pass_options={"conv_fft": settings.conv_fft}),
    )
    compile_s = time.perf_counter() - t0
    feeds = problem.inputs

    def run() -> np.ndarray:
        return np.asarray(module.run(feeds)[OUTPUT_NAME])

    def measure(runs: int) -> Timing:
        t = module.benchmark(feeds, number=1, repeat=runs)
        return Timing(t["median_ms"], t["min_ms"], t["max_ms"], runs)

    return Prepared(run, measure, compile_s, list(module.decisions))


# -- PyTorch --------------------------------------------------------------------------------------


def _torch_candidates(problem: Problem, settings: Settings) -> list[Candidate]:
    from fftc.bench.torch_models import candidate_impls

    impls = candidate_impls(problem)
    return [
        Candidate("torch", name, functools.partial(_prepare_torch, problem, impl, settings))
        for name, impl in impls.items()
    ]


def _prepare_torch(
    problem: Problem, impl: Callable[[dict[str, Any]], Any], settings: Settings
) -> Prepared:
    import torch

    tensors = {name: torch.from_numpy(a) for name, a in problem.inputs.items()}

    def run() -> np.ndarray:
        with torch.inference_mode():
            return np.asarray(impl(tensors).numpy())

    def measure(runs: int) -> Timing:
        with torch.inference_mode():
            return time_calls(lambda: impl(tensors), runs, settings.max_time_s)

    return Prepared(run, measure)


# -- onnxruntime ----------------------------------------------------------------------------------


def _prepare_ort(problem: Problem, model: Path, settings: Settings) -> Prepared:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = settings.threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    t0 = time.perf_counter()
    session = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
    create_s = time.perf_counter() - t0
    feeds = problem.inputs

    def run() -> np.ndarray:
        return np.asarray(session.run([OUTPUT_NAME], feeds)[0])

    def measure(runs: int) -> Timing:
        return time_calls(lambda: session.run([OUTPUT_NAME], feeds), runs, settings.max_time_s)

    return Prepared(run, measure, create_s)


# -- TVM without fftc ----------------------------------------------------------------------------


def _prepare_tvm(problem: Problem, model_path: Path, settings: Settings) -> Prepared:
    import onnx

    from fftc.runtime import tvm_runtime
    from fftc.target import parse_target

    model = onnx.load(str(model_path))
    missing = sorted({n.op_type for n in model.graph.node} & set(TVM_MISSING_OPS))
    if missing:
        raise NotAvailable(f"TVM's ONNX frontend has no {'/'.join(missing)} converter")
    from fftc.codegen import tvm_api

    spec = parse_target(settings.target)
    target = tvm_api.llvm_target(spec.arch, num_cores=settings.threads)
    t0 = time.perf_counter()
    try:
        mod = tvm_api.relax_from_onnx(model)
    except Exception as err:
        raise NotAvailable(f"TVM's ONNX frontend failed: {error_text(err)}") from err
    executable = tvm_api.build_relax_untuned(mod, target)
    compile_s = time.perf_counter() - t0
    dev = tvm_runtime.device("llvm")
    vm = tvm_runtime.virtual_machine(executable, dev)
    args = [tvm_runtime.to_device(problem.inputs[name], dev) for name in problem.inputs]

    def run() -> np.ndarray:
        return np.asarray(tvm_runtime.outputs_of(vm["main"](*args))[0].numpy())

    def measure(runs: int) -> Timing:
        return Timing.of(tvm_runtime.time_function(vm, dev, args, 1, runs))

    return Prepared(run, measure, compile_s, ["untuned: relax 'zero' pipeline, no MetaSchedule"])


def error_text(err: BaseException) -> str:
    """A failure in one line: fftc's own message, else the exception's type and the last
    line of its message (where TVM puts the error itself), at most 300 characters."""
    if isinstance(err, FftcError):
        return str(err)
    lines = [line for line in str(err).strip().splitlines() if line.strip()]
    return f"{type(err).__name__}: {lines[-1] if lines else ''}"[:300]


_PREPARERS: dict[str, Callable[[Problem, Path, Settings], Prepared]] = {
    "fftc": _prepare_fftc,
    "onnxruntime": _prepare_ort,
    "tvm": _prepare_tvm,
}


def candidates(problem: Problem, model: Path, settings: Settings) -> list[Candidate]:
    """The candidates of ``settings.implementations`` for this case, in that order."""
    found: list[Candidate] = []
    for impl in settings.implementations:
        if impl == "torch":
            found += _torch_candidates(problem, settings)
        else:
            prepare = functools.partial(_PREPARERS[impl], problem, model, settings)
            found.append(Candidate(impl, "", prepare))
    return found
