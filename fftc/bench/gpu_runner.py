"""Run the ``longconv-gpu`` cases on CUDA device 0: fftc and PyTorch (cuFFT), one process.

Per case: the ONNX file is exported (or reused from the cache) with a symbolic batch; the
inputs are made on the GPU from ``--seed``; the reference is PyTorch's float32 FFT
convolution of those inputs.  Then, one implementation at a time (device memory released
in between):

* ``fftc``: ``fftc.compile`` for ``--target`` with the case's dtype as ``--dtype`` and the
  batch pinned, run through TVM's VM on ``tvm.cuda(0)`` on the same tensors (DLPack, no
  copy), timed with TVM's ``time_evaluator`` (device timers);
* ``torch``: every candidate of :func:`fftc.bench.gpu_models.torch_impls`, each call timed
  with CUDA events.

A case whose inputs, output and reference alone exceed the free device memory is ``n/a``.
"""

from __future__ import annotations

import functools
import gc
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from fftc.bench.baselines import Candidate, Prepared, error_text
from fftc.bench.gpu_specs import GPU_RTOL, Bandwidth, GpuInfo, case_bytes, nominal_bandwidth
from fftc.bench.runner import CaseResult, Log, Measurement, describe, measure
from fftc.bench.suites import Case, Problem, make_problem
from fftc.bench.timing import Settings, Timing

#: the size of the copy that measures an unknown device's bandwidth
COPY_BYTES = 1 << 30
#: where PyTorch makes the inputs and runs (the host tests run the runner on "cpu")
DEVICE = "cuda"


def gpu_info() -> GpuInfo:
    """CUDA device 0, with its nominal bandwidth or, for a device not in the table, the
    bandwidth of a device-to-device copy measured now."""
    import torch

    props = torch.cuda.get_device_properties(0)
    bandwidth = nominal_bandwidth(props.name) or measured_bandwidth()
    return GpuInfo(
        props.name,
        f"sm_{props.major}{props.minor}",
        round(props.total_memory / 2**30, 1),
        bandwidth,
    )


def measured_bandwidth(nbytes: int = COPY_BYTES, copies: int = 10) -> Bandwidth:
    """(bytes read + bytes written) per second of ``torch`` copying ``nbytes`` on the GPU."""
    import torch

    src = torch.empty(nbytes, dtype=torch.uint8, device="cuda")
    dst = torch.empty_like(src)
    dst.copy_(src)  # warm-up
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(copies):
        dst.copy_(src)
    end.record()
    end.synchronize()
    seconds = start.elapsed_time(end) / 1e3 / copies
    source = f"measured: device-to-device copy of {nbytes / 2**30:g} GiB with torch"
    return Bandwidth(2 * nbytes / seconds, source)


def case_rtol(case: Case, settings: Settings) -> float:
    return GPU_RTOL[case.dtype] if settings.rtol_from_dtype else settings.rtol


def run_gpu_cases(
    cases: Sequence[Case], settings: Settings, cache_dir: Path, log: Log
) -> list[CaseResult]:
    return [run_gpu_case(case, settings, cache_dir, log) for case in cases]


def run_gpu_case(case: Case, settings: Settings, cache_dir: Path, log: Log) -> CaseResult:
    import torch

    from fftc.bench.export import cached_model
    from fftc.bench.gpu_models import export_gpu_onnx

    rtol = case_rtol(case, settings)
    free, _total = torch.cuda.mem_get_info()
    if case_bytes(case) > free:
        reason = (
            f"needs at least {case_bytes(case) / 2**30:.0f} GiB of device memory for the inputs, "
            f"output and reference; {free / 2**30:.0f} GiB free"
        )
        return _all_failed(case, settings, "n/a", reason, rtol, log)
    problem = make_problem(case, settings.seed)  # the weights
    t0 = time.perf_counter()
    try:
        model, cached = cached_model(problem, cache_dir, export_gpu_onnx)
    except Exception as err:
        return _all_failed(case, settings, "error", f"export: {error_text(err)}", rtol, log)
    if not cached:
        log(f"{case.label}: exported {model.name} in {time.perf_counter() - t0:.1f} s")
    try:
        measurements = _measure_all(problem, model, settings, rtol, log)
    except torch.cuda.OutOfMemoryError as err:  # making the inputs or the reference
        return _all_failed(case, settings, "error", error_text(err), rtol, log)
    finally:
        release_device_memory()
    return CaseResult(case, model, cached, measurements, rtol)


def _measure_all(
    problem: Problem, model: Path, settings: Settings, rtol: float, log: Log
) -> list[Measurement]:
    """Every implementation on the case's inputs (made here, freed on return)."""
    import torch

    from fftc.bench.gpu_models import make_inputs, max_rel_err, reference_impl

    with torch.inference_mode():
        inputs = make_inputs(problem.case, settings.seed, DEVICE)
        expected = reference_impl(problem, DEVICE)(inputs)
    error_of = functools.partial(max_rel_err, ref=expected)
    measurements = []
    for candidate in _candidates(problem, model, settings, inputs):
        m = measure(candidate, None, settings, error_of)
        measurements.append(m)
        log(f"{problem.case.label}: {describe(m, rtol)}")
        release_device_memory()
    return measurements


def _all_failed(
    case: Case, settings: Settings, status: str, reason: str, rtol: float, log: Log
) -> CaseResult:
    """Every implementation with the same status (the case could not run at all)."""
    log(f"{case.label}: {status} ({reason})")
    ms = [Measurement(impl, status=status, reason=reason) for impl in settings.implementations]
    return CaseResult(case, Path(), False, ms, rtol)


def release_device_memory() -> None:
    """Hand back what the last implementation left cached: PyTorch's caching allocator
    and TVM's pooled allocator (each would otherwise starve the other)."""
    import torch

    from fftc.codegen.tvm_api import tvm

    gc.collect()
    clear = tvm.get_global_func("vm.builtin.memory_manager.clear", allow_missing=True)
    if clear is not None:
        clear()
    torch.cuda.empty_cache()


# -- the implementations ---------------------------------------------------------------------


def _candidates(
    problem: Problem, model: Path, settings: Settings, inputs: dict[str, Any]
) -> list[Candidate]:
    from fftc.bench.gpu_models import torch_impls

    found: list[Candidate] = []
    for impl in settings.implementations:
        if impl == "fftc":
            prepare = functools.partial(_prepare_fftc, problem, model, settings, inputs)
            found.append(Candidate("fftc", "", prepare))
        elif impl == "torch":
            for name, call in torch_impls(problem, DEVICE).items():
                prepare = functools.partial(_prepare_torch, call, inputs)
                found.append(Candidate("torch", name, prepare))
    return found


def _prepare_fftc(
    problem: Problem, model: Path, settings: Settings, inputs: dict[str, Any]
) -> Prepared:
    import torch

    import fftc
    from fftc.api import CompileOptions
    from fftc.bench.export import OUTPUT_NAME
    from fftc.bench.gpu_models import input_shapes
    from fftc.errors import UsageError

    case = problem.case
    options = CompileOptions(
        input_shapes=input_shapes(case),
        pass_options={"conv_fft": settings.conv_fft},
        dtype=case.dtype,
    )
    notes = []
    t0 = time.perf_counter()
    try:
        module = fftc.compile(model, target=settings.target, options=options)
    except UsageError as err:  # --dtype fp16/bf16 has nothing to compute in half precision
        if case.dtype == "fp32":
            raise
        module = fftc.compile(model, target=settings.target, options=replace(options, dtype="fp32"))
        notes.append(f"compiled with --dtype fp32 ({err}); inputs and outputs in {case.dtype}")
    compile_s = time.perf_counter() - t0

    def run() -> Any:
        out = module.run(inputs)[OUTPUT_NAME]
        torch.cuda.synchronize()
        return out

    def time_runs(runs: int) -> Timing:
        t = module.benchmark(inputs, number=1, repeat=runs)
        return Timing(t["median_ms"], t["min_ms"], t["max_ms"], runs)

    return Prepared(run, time_runs, compile_s, [*notes, *module.decisions])


def _prepare_torch(call: Callable[[dict[str, Any]], Any], inputs: dict[str, Any]) -> Prepared:
    import torch

    def run() -> Any:
        with torch.inference_mode():
            out = call(inputs)
        torch.cuda.synchronize()
        return out

    def time_runs(runs: int) -> Timing:
        with torch.inference_mode():
            return time_cuda(lambda: call(inputs), runs)

    return Prepared(run, time_runs)


def time_cuda(call: Callable[[], object], runs: int) -> Timing:
    """Time ``runs`` calls with a pair of CUDA events around each (device time)."""
    import torch

    events = [
        (torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
        for _ in range(runs)
    ]
    for start, end in events:
        start.record()
        call()
        end.record()
    torch.cuda.synchronize()
    return Timing.of([start.elapsed_time(end) / 1e3 for start, end in events])
