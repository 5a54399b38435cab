"""conv-to-fft for dense and grouped convolutions: the FFT chain with a
per-frequency channel mixing (``freq_mix``), against a float64 direct
summation and onnxruntime.

Tolerances as in test_conv_to_fft.py: the FFT form sums the same products in a
different order through transforms of N points (fp32 error ~eps*log2(N) of
the output's scale, and the mixing adds C_in/groups terms per frequency:
~eps*sqrt(C) more), so 1e-5 of max|y| against float64 and 1e-4 (the project's
model tolerance) against onnxruntime.  Measured: <= 1e-6.
"""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import fftc
from fftc.api import CompileOptions
from fftc.ir import DType, TensorType, parse_graph, print_graph
from fftc.ir.ops.conv import ConvAttrs
from fftc.passes import PassContext
from fftc.passes.conv_to_fft import CONV_TO_FFT, plan_fft_conv
from fftc.testing import run_onnxruntime
from fftc.testing.onnx_builder import graph_model
from tests.passes.test_conv_to_fft import _graph

F32 = DType.float32


def reference_conv(x, w, b, pads, strides, dilations, groups):
    """Grouped ONNX Conv in float64 by direct summation over taps and channels."""
    x, w = x.astype(np.float64), w.astype(np.float64)
    rank = x.ndim - 2
    xp = np.pad(x, [(0, 0), (0, 0), *((pads[i], pads[rank + i]) for i in range(rank))])
    ke = [d * (k - 1) + 1 for d, k in zip(dilations, w.shape[2:], strict=True)]
    out = [(xp.shape[2 + i] - ke[i]) // strides[i] + 1 for i in range(rank)]
    c_out, per_group = w.shape[:2]
    y = np.zeros((x.shape[0], c_out, *out))
    for o in range(c_out):
        first = o // (c_out // groups) * per_group
        for idx in np.ndindex(*w.shape[2:]):
            start = [i * d for i, d in zip(idx, dilations, strict=True)]
            window = tuple(
                slice(s, s + (n - 1) * st + 1, st)
                for s, n, st in zip(start, out, strides, strict=True)
            )
            patch = xp[(slice(None), slice(first, first + per_group), *window)]
            taps = w[(o, slice(None), *idx)][(None, slice(None)) + (None,) * rank]
            y[:, o] += (patch * taps).sum(axis=1)
    return y + b[(slice(None),) + (None,) * rank]


CASES = {
    # name: (input shape, C_out, kernel, pads, strides, dilations, groups)
    "dense-causal-1d": ((2, 3, 40), 5, (40,), [39, 0], [1], [1], 1),
    "dense-prime-1d": ((1, 4, 31), 2, (13,), [6, 6], [1], [1], 1),
    "grouped-strided-2d": ((1, 6, 11, 9), 4, (5, 4), [2, 1, 2, 2], [2, 1], [1, 1], 2),
    "dense-dilated-2d": ((2, 3, 12, 10), 4, (3, 3), [2, 2, 2, 2], [1, 1], [2, 1], 1),
    "depthwise-multiplier-2d": ((1, 3, 9, 9), 6, (7, 7), [3, 3, 3, 3], [1, 1], [1, 1], 3),
    "dense-3d": ((1, 2, 5, 6, 4), 3, (3, 3, 3), [1] * 6, [1, 1, 1], [1, 1, 1], 1),
}


def _model(shape, c_out, kernel, pads, strides, dilations, groups):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal((c_out, shape[1] // groups, *kernel)).astype(np.float32)
    b = rng.standard_normal(c_out).astype(np.float32)
    attrs = dict(group=groups, pads=pads, strides=strides, dilations=dilations)
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], name="cv", **attrs)
    return graph_model([node], {"x": x}, ["y"], {"w": w, "b": b}), x, w, b


@pytest.mark.parametrize("case", sorted(CASES))
def test_dense_fft_conv_matches_float64_and_onnxruntime(case):
    _, _, _, pads, strides, dilations, groups = CASES[case]
    model, x, w, b = _model(*CASES[case])
    module = fftc.compile(model, options=CompileOptions(pass_options={"conv_fft": "always"}))
    chosen = [d for d in module.decisions if "conv => fft conv" in d and "not" not in d]
    assert chosen
    assert "per-frequency channel mixing" in chosen[0]
    y = module.run({"x": x})["y"]
    ref64 = reference_conv(x, w, b, pads, strides, dilations, groups)
    assert y.shape == ref64.shape
    assert np.abs(y - ref64).max() <= 1e-5 * np.abs(ref64).max()
    ort = run_onnxruntime(model, {"x": x})["y"]
    assert np.abs(y - ort).max() <= 1e-4 * np.abs(ort).max()


def test_dense_rewrite_is_the_dft_chain_with_freq_mix():
    """(1, 8, 20) -> 8 channels, kernel 5, pads 2: 24 points (20 + 4), the planar
    weight spectrum (C_out, C_in, 2, 13)."""
    graph = _graph((1, 8, 20), (5,), groups=1)
    out = CONV_TO_FFT.run(graph, PassContext({"conv_fft": "always"}))
    assert print_graph(parse_graph(print_graph(out))) == print_graph(out)
    assert [n.op for n in out.nodes] == ["pad", "reshape", "dft", "freq_mix", "dft", "slice",
                                         "reshape"]  # fmt: skip
    (mix,) = [n for n in out.nodes if n.op == "freq_mix"]
    assert out.type_of(mix.inputs[1] or "").shape == (8, 8, 2, 13)


def test_cost_model_sends_large_dense_kernels_to_the_fft():
    """Measured (python -m fftc.passes.conv_cost --dense, docs/benchmarks.md): dense 31x31
    at 32x32 and a 1024-tap causal 1-D conv run 2.2-4.1x faster as FFTs, a grouped 13x13
    at 28x28 1.2x; a 7x7 dense conv at 56x56 is 1.2x faster direct."""

    def plan(shape, c_out, kernel, pads, groups=1):
        rank = len(kernel)
        attrs = ConvAttrs((1,) * rank, tuple(pads), (1,) * rank, groups)
        w = TensorType((c_out, shape[1] // groups, *kernel), F32)
        return plan_fft_conv(TensorType(shape, F32), w, attrs)

    assert plan((1, 32, 32, 32), 32, (31, 31), [15] * 4).fft_cheaper
    assert plan((1, 16, 4096), 16, (1024,), [1023, 0]).fft_cheaper
    assert not plan((1, 64, 56, 56), 64, (7, 7), [3] * 4).fft_cheaper
    assert plan((1, 64, 28, 28), 64, (13, 13), [6] * 4, groups=4).fft_cheaper
    assert plan((1, 32, 32, 32), 32, (31, 31), [15] * 4).mixing
