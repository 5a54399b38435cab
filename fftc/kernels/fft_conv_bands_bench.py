"""Time the fused FFT convolution dense and frequency-sparse, in one process.

``python -m fftc.kernels.fft_conv_bands_bench [--rows 768] [--length 4096]
[--rounds 9] [--drop 0.5 0.79]`` builds ``fft_conv`` from the IR for a causal
convolution (``rows`` channels of ``length`` samples, ``n = 2 * length``, a
random constant spectrum) dense and with the highest ``drop`` fraction of the
sparsity pass's 64 frequency blocks dropped (``bands``), then times them
alternately: each round calls every variant once to warm up and 3 times
timed.  It prints each variant's median and minimum over the rounds (run it
with ``TVM_NUM_THREADS`` set, on an otherwise idle machine).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

from fftc.codegen.build import build
from fftc.codegen.tvm_api import tvm
from fftc.ir import DType, GraphBuilder, TensorType
from fftc.ir.ops.spectral import FFTConvAttrs
from fftc.passes.sparsity import block_edges
from fftc.target import parse_target


def compiled(x: np.ndarray, spectrum: np.ndarray, attrs: FFTConvAttrs) -> Callable[[], object]:
    """A call of the compiled ``fft_conv(x, spectrum){attrs}`` on ``x``."""
    from tvm.runtime.vm import VirtualMachine

    b = GraphBuilder("bench")
    xin = b.input("x", TensorType(x.shape, DType.float32))
    y = b.node1("fft_conv", [xin, b.constant(spectrum, "k")], attrs, name="fc")
    result = build(b.build([y], ["y"]), parse_target("llvm"))
    assert result is not None
    vm = VirtualMachine(result.executable, tvm.cpu())
    arg = tvm.runtime.tensor(x, tvm.cpu())
    return lambda: vm["main"](arg)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=768)
    p.add_argument("--length", type=int, default=4096)
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--drop", type=float, nargs="*", default=[0.5, 0.79])
    args = p.parse_args()
    half = args.length  # n = 2 * length
    rng = np.random.default_rng(0)
    spectrum = rng.standard_normal((args.rows, half + 1, 2)).astype(np.float32)
    x = rng.standard_normal((1, args.rows, args.length)).astype(np.float32)
    edges = block_edges(half)
    variants: dict[str, Callable[[], object]] = {}
    for drop in [0.0, *args.drop]:
        kept = len(edges) - 1 - int(drop * (len(edges) - 1))
        bands = () if drop == 0 else ((0, edges[kept]),)
        name = "dense" if drop == 0 else f"{drop:.0%} dropped, bins [0, {edges[kept]})"
        variants[name] = compiled(x, spectrum, FFTConvAttrs(2 * half, args.length, bands=bands))
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, call in variants.items():
            call()
            t0 = time.perf_counter()
            for _ in range(3):
                call()
            times[name].append((time.perf_counter() - t0) / 3 * 1e3)
    base = statistics.median(times["dense"])
    for name, ms in times.items():
        median = statistics.median(ms)
        print(f"{name:34s} median {median:7.2f} ms  min {min(ms):7.2f} ms  {base / median:.2f}x")


if __name__ == "__main__":
    main()
