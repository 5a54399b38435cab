"""Measure what the conv-to-fft cost model predicts: fftc's direct depthwise
(``--dense``: dense and grouped) convolution against the FFT convolution
(``conv_fft=never`` vs ``always``), in one process on the same inputs, and the
choice ``auto`` makes.

``python -m fftc.passes.conv_cost`` prints one row per case: both medians (ms),
the model's estimates, and whether ``auto`` picked the faster path.  The
constants in :mod:`fftc.passes.conv_to_fft` are fitted to its output.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

import numpy as np
from onnx import helper

#: (input shape, kernel, pads): the issue's dwconv2d suite, long causal 1-D convs,
#: and the cases between them where the choice flips
CASES: tuple[tuple[tuple[int, ...], tuple[int, ...], list[int]], ...] = (
    ((1, 128, 56, 56), (31, 31), [15] * 4),
    ((1, 256, 28, 28), (31, 31), [15] * 4),
    ((1, 512, 14, 14), (31, 31), [15] * 4),
    ((1, 96, 56, 56), (7, 7), [3] * 4),
    ((1, 128, 56, 56), (13, 13), [6] * 4),
    ((1, 768, 1024), (1024,), [1023, 0]),
    ((1, 64, 4096), (4096,), [4095, 0]),
    ((1, 768, 1024), (128,), [127, 0]),
    ((1, 768, 1024), (31,), [15, 15]),
)
#: dense and grouped convolutions (``--dense``): (input shape, C_out, kernel, pads, groups)
DENSE_CASES: tuple[tuple[tuple[int, ...], int, tuple[int, ...], list[int], int], ...] = (
    ((1, 64, 56, 56), 64, (7, 7), [3] * 4, 1),
    ((1, 32, 32, 32), 32, (31, 31), [15] * 4, 1),
    ((1, 64, 1024), 64, (128,), [127, 0], 1),
    ((1, 16, 4096), 16, (1024,), [1023, 0], 1),
    ((1, 64, 28, 28), 64, (13, 13), [6] * 4, 4),
)


def _median_ms(run: object, feeds: dict[str, np.ndarray], rounds: int) -> float:
    call = run.run  # type: ignore[attr-defined]
    call(feeds)
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        call(feeds)
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1e3)


def measure(
    shape: tuple[int, ...],
    kernel: tuple[int, ...],
    pads: list[int],
    rounds: int = 20,
    c_out: int | None = None,
    groups: int | None = None,
) -> str:
    import fftc
    from fftc.api import CompileOptions
    from fftc.ir import DType, TensorType
    from fftc.ir.ops.conv import ConvAttrs
    from fftc.passes.conv_to_fft import plan_fft_conv
    from fftc.testing.onnx_builder import graph_model

    rng = np.random.default_rng(0)
    c, rank = shape[1], len(kernel)
    c_out, groups = c_out or c, groups or c
    x = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal((c_out, c // groups, *kernel)).astype(np.float32)
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="cv", group=groups, pads=pads)
    model = graph_model([node], {"x": x}, ["y"], {"w": w})
    ms = {}
    for mode in ("never", "always"):
        module = fftc.compile(model, options=CompileOptions(pass_options={"conv_fft": mode}))
        ms[mode] = _median_ms(module, {"x": x}, rounds)
    f32 = DType.float32
    attrs = ConvAttrs((1,) * rank, tuple(pads), (1,) * rank, groups)
    plan = plan_fft_conv(TensorType(shape, f32), TensorType(w.shape, f32), attrs)
    picked = "fft" if plan.fft_cheaper else "direct"
    best = "fft" if ms["always"] < ms["never"] else "direct"
    return (
        f"{shape!s:18s} -> {c_out:4d} g={groups:<4d} k={kernel!s:12s} "
        f"direct {ms['never']:8.3f} ms  fft "
        f"{ms['always']:8.3f} ms  | est. direct {plan.direct_cost:8.3f} fft "
        f"{plan.fft_cost:8.3f}  auto: {picked:6s} {'ok' if picked == best else 'WRONG'}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m fftc.passes.conv_cost", description=__doc__)
    p.add_argument("--rounds", type=int, default=20, help="timed calls per path (default 20)")
    p.add_argument("--dense", action="store_true", help="the dense and grouped cases instead")
    args = p.parse_args(argv)
    if args.dense:
        for shape, c_out, kernel, pads, groups in DENSE_CASES:
            print(measure(shape, kernel, pads, args.rounds, c_out, groups), flush=True)
        return 0
    for shape, kernel, pads in CASES:
        print(measure(shape, kernel, pads, args.rounds), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
