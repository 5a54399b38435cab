"""Time fftc's direct Conv/ConvTranspose kernels against onnxruntime, in one process.

``python -m fftc.kernels.conv_bench [--threads N] [--extra]`` prints a table
for the default cases (the shapes the kernels are tuned for).  Both runtimes
use the same number of threads (default: all cores; TVM would otherwise pick
its own default, which is 1 on a 2-core machine) and are timed the same way
through their Python APIs: the fastest of ``repeat`` rounds, each the mean of
a batch of calls lasting at least ``min_round_s``, after two warm-up rounds,
the two runtimes alternating round by round with a pause in between.  The
minimum is the statistic least disturbed by other processes on a shared
machine; still, run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fftc.codegen.schedule import ScheduleReport, apply_schedules
from fftc.codegen.tvm_api import llvm_target, relax, tvm

from .conv import emit_conv
from .conv_transpose import emit_conv_transpose


@dataclass(frozen=True)
class ConvSpec:
    """One Conv/ConvTranspose configuration, in ONNX attribute conventions."""

    x: tuple[int, ...]
    w: tuple[int, ...]
    strides: tuple[int, ...]
    pads: tuple[int, ...]
    dilations: tuple[int, ...] | None = None
    groups: int = 1
    bias: bool = True
    transpose: bool = False
    output_padding: tuple[int, ...] | None = None
    knobs: Mapping[str, int | str] = field(default_factory=dict)
    name: str = ""

    @property
    def rank(self) -> int:
        return len(self.x) - 2

    @property
    def dil(self) -> tuple[int, ...]:
        return self.dilations or (1,) * self.rank

    @property
    def out_pad(self) -> tuple[int, ...]:
        return self.output_padding or (0,) * self.rank

    @property
    def out_channels(self) -> int:
        return self.w[1] * self.groups if self.transpose else self.w[0]

    def random_inputs(
        self, dtype: str = "float32", seed: int = 0
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Standard-normal ``x``, ``w`` and (if ``bias``) ``b``."""
        rng = np.random.default_rng(seed)
        x = rng.standard_normal(self.x).astype(dtype)
        w = rng.standard_normal(self.w).astype(dtype)
        b = rng.standard_normal(self.out_channels).astype(dtype) if self.bias else None
        return x, w, b


def onnx_model(
    spec: ConvSpec, w: np.ndarray, b: np.ndarray | None, out_shape: Sequence[int]
) -> bytes:
    """A one-node fp32 ONNX model of ``spec`` with ``w``/``b`` as initializers."""
    from onnx import TensorProto, helper

    attrs: dict[str, Any] = {
        "strides": list(spec.strides),
        "pads": list(spec.pads),
        "dilations": list(spec.dil),
        "group": spec.groups,
    }
    if spec.transpose:
        attrs["output_padding"] = list(spec.out_pad)
    inits = [helper.make_tensor("w", TensorProto.FLOAT, w.shape, w.ravel())]
    if b is not None:
        inits.append(helper.make_tensor("b", TensorProto.FLOAT, b.shape, b.ravel()))
    node = helper.make_node(
        "ConvTranspose" if spec.transpose else "Conv",
        ["x", "w"] + (["b"] if b is not None else []),
        ["y"],
        **attrs,
    )
    graph = helper.make_graph(
        [node],
        "conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, spec.x)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(out_shape))],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    return bytes(model.SerializeToString())


def ort_session(model: bytes, threads: int | None = None) -> Any:
    """An onnxruntime CPU session (``threads=None``: its default)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def compile_fftc(
    spec: ConvSpec,
    w: np.ndarray,
    b: np.ndarray | None,
    dtype: str = "float32",
    epilogue: Callable[[relax.BlockBuilder, relax.Expr], relax.Expr] | None = None,
) -> tuple[Any, ScheduleReport]:
    """``main(x) = epilogue(conv(x))`` fused, scheduled and compiled: (VM, report)."""
    target = llvm_target()
    bb = relax.BlockBuilder()
    x = relax.Var("x", relax.TensorType(spec.x, dtype))
    # relax.const turns float64 arrays into float32 unless given the dtype
    weight = relax.const(w, str(w.dtype))
    bias = relax.const(b, str(b.dtype)) if b is not None else None
    common: dict[str, Any] = {
        "strides": spec.strides,
        "pads": spec.pads,
        "dilations": spec.dil,
        "groups": spec.groups,
        "knobs": spec.knobs,
    }
    with bb.function("main", [x]):
        with bb.dataflow():
            if spec.transpose:
                y = emit_conv_transpose(bb, x, weight, bias, output_padding=spec.out_pad, **common)
            else:
                y = emit_conv(bb, x, weight, bias, **common)
            if epilogue is not None:
                y = epilogue(bb, y)
            out = bb.emit_output(y)
        bb.emit_func_output(out)
    with target:
        mod = relax.get_pipeline("zero")(bb.get())
    mod, report = apply_schedules(mod, target)
    return relax.VirtualMachine(tvm.compile(mod, target=target), tvm.cpu()), report


#: seconds to wait after timing one runtime before timing the other
SPIN_PAUSE_S = 0.3


def set_tvm_threads(threads: int) -> None:
    """Size TVM's CPU thread pool for this process.

    TVM caps its pool at ``TVM_NUM_THREADS`` (default: half the logical CPUs,
    assuming hyper-threading, i.e. 1 on a 2-core VM), so that is set first.
    """
    os.environ["TVM_NUM_THREADS"] = str(threads)
    tvm.get_global_func("runtime.config_threadpool")(1, threads)


def _time_ms(fn: Callable[[], Any], min_round_s: float) -> float:
    """Mean milliseconds per call over a batch of at least ``min_round_s``."""
    calls, start = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_round_s:
            return elapsed / calls * 1e3


def _time_both(
    run_fftc: Callable[[], Any], run_ort: Callable[[], Any], repeat: int, min_round_s: float
) -> tuple[float, float]:
    """Fastest round's ms per call of each, alternating rounds after two warm-ups.

    Both thread pools keep spinning for a while after a call; the pause after
    each round lets them go to sleep, so the one that is idle does not take
    cores from the one being timed (that doubled onnxruntime's times).
    """
    fftc_ms, ort_ms = [], []
    for round_ in range(repeat + 2):
        times = []
        for run in (run_fftc, run_ort):
            times.append(_time_ms(run, min_round_s))
            time.sleep(SPIN_PAUSE_S)
        if round_ >= 2:
            fftc_ms.append(times[0])
            ort_ms.append(times[1])
    return min(fftc_ms), min(ort_ms)


def conv_flops(spec: ConvSpec, out_shape: Sequence[int]) -> float:
    """Multiply-adds x 2 of the direct algorithm (ONNX semantics, no padding work)."""
    taps = math.prod(spec.w[2:])
    if spec.transpose:
        return 2.0 * math.prod(spec.x) * spec.w[1] * taps
    return 2.0 * math.prod(out_shape) * (spec.x[1] // spec.groups) * taps


def bench_conv(
    cases: Sequence[ConvSpec],
    *,
    threads: int | None = None,
    repeat: int = 10,
    min_round_s: float = 0.02,
) -> list[dict[str, Any]]:
    """Time each case with fftc and onnxruntime; one dict per case.

    Keys: ``name``, ``fftc_ms``, ``ort_ms``, ``ratio`` (fftc/ort), ``gflops``
    (fftc), ``max_err`` (max |fftc - ort| / max |ort|), ``compile_s``, ``threads``.
    """
    threads = threads or os.cpu_count() or 1
    set_tvm_threads(threads)
    return [_bench_one(spec, threads, repeat, min_round_s) for spec in cases]


def _bench_one(spec: ConvSpec, threads: int, repeat: int, min_round_s: float) -> dict[str, Any]:
    x, w, b = spec.random_inputs()
    start = time.perf_counter()
    vm, report = compile_fftc(spec, w, b)
    compile_s = time.perf_counter() - start
    if report.failed:
        raise RuntimeError(f"{spec.name}: scheduling failed: {report.failed}")
    x_tvm = tvm.runtime.tensor(x, tvm.cpu())
    y = vm["main"](x_tvm).numpy()
    sess = ort_session(onnx_model(spec, w, b, y.shape), threads)
    y_ort = sess.run(None, {"x": x})[0]
    fftc_ms, ort_ms = _time_both(
        lambda: vm["main"](x_tvm), lambda: sess.run(None, {"x": x}), repeat, min_round_s
    )
    return {
        "name": spec.name,
        "fftc_ms": fftc_ms,
        "ort_ms": ort_ms,
        "ratio": fftc_ms / ort_ms,
        "gflops": conv_flops(spec, y.shape) / fftc_ms / 1e6,
        "max_err": float(np.abs(y - y_ort).max() / np.abs(y_ort).max()),
        "compile_s": compile_s,
        "threads": threads,
    }


DEFAULT_CASES = (
    ConvSpec((1, 96, 56, 56), (96, 1, 7, 7), (1, 1), (3,) * 4, groups=96, name="dw 7x7 C96 56x56"),
    ConvSpec(
        (1, 128, 56, 56), (128, 1, 31, 31), (1, 1), (15,) * 4, groups=128,
        name="dw 31x31 C128 56x56",
    ),
    ConvSpec((1, 64, 56, 56), (64, 64, 3, 3), (1, 1), (1,) * 4, name="3x3 64->64 56x56"),
    ConvSpec((1, 256, 56, 56), (64, 256, 1, 1), (1, 1), (0,) * 4, name="1x1 256->64 56x56"),
    ConvSpec((1, 3, 224, 224), (64, 3, 7, 7), (2, 2), (3,) * 4, name="7x7/2 3->64 224 (stem)"),
    ConvSpec((1, 768, 4096), (768, 1, 31), (1,), (15, 15), groups=768, name="1-D dw k31 768x4096"),
)  # fmt: skip


#: more shapes from common models (MobileNet/EfficientNet, late ResNet stages, 1-D CNNs)
EXTRA_CASES = (
    ConvSpec((1, 96, 112, 112), (96, 1, 3, 3), (2, 2), (1,) * 4, groups=96,
             name="dw 3x3/2 C96 112"),
    ConvSpec((1, 96, 56, 56), (96, 1, 3, 3), (1, 1), (1,) * 4, groups=96, name="dw 3x3 C96 56x56"),
    ConvSpec((1, 64, 56, 56), (128, 64, 3, 3), (2, 2), (1,) * 4, name="3x3/2 64->128 56x56"),
    ConvSpec((1, 512, 7, 7), (512, 512, 3, 3), (1, 1), (1,) * 4, name="3x3 512->512 7x7"),
    ConvSpec((1, 256, 1024), (256, 256, 3), (1,), (1, 1), name="1-D 3 256->256 1024"),
    ConvSpec((1, 128, 28, 28), (128, 4, 3, 3), (1, 1), (1,) * 4, groups=32,
             name="3x3 g32 128 28x28"),
    ConvSpec((1, 64, 28, 28), (64, 32, 4, 4), (2, 2), (1,) * 4, transpose=True,
             name="convT 4x4/2 64->32 28"),
)  # fmt: skip


def format_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """The rows of :func:`bench_conv` as a fixed-width text table."""
    header = (
        f"{'case':<26} {'fftc ms':>9} {'ort ms':>9} {'fftc/ort':>8} {'GFLOP/s':>8} {'max err':>8}"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        lines.append(
            f"{row['name']:<26} {row['fftc_ms']:>9.3f} {row['ort_ms']:>9.3f} "
            f"{row['ratio']:>8.2f} {row['gflops']:>8.1f} {row['max_err']:>8.1e}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="default: all cores")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--extra", action="store_true", help="also time EXTRA_CASES")
    args = parser.parse_args(argv)
    cases = DEFAULT_CASES + (EXTRA_CASES if args.extra else ())
    rows = bench_conv(cases, threads=args.threads, repeat=args.repeat)
    print(f"threads: {rows[0]['threads']}, CPU: {llvm_target().attrs['mcpu']}")
    print(format_table(rows))


if __name__ == "__main__":
    main()
