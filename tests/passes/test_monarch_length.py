"""monarch-length: CUDA FFT convolution lengths without a Monarch plan widened to ones
with a plan.

Numerics compare the float64 reference of the old node with that of the widened one:
the convolutions are the same, so the difference is the rounding of the float32
spectrum constants (``eps = 6e-8`` per bin, and kernel values below eps times the
largest treated as zero: measured < 1e-6 of the largest output; 1e-5 allows for
lengths to 12K).  The
lowered kernel's own tolerances are those of tests/cuda/test_fft_conv_monarch.py.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from fftc.ir import DType, Graph, GraphBuilder, Node, TensorType
from fftc.ir.ops.spectral import (
    FFTConv2DAttrs,
    FFTConvAttrs,
    fft_conv2d_reference,
    fft_conv_reference,
)
from fftc.passes import PassContext
from fftc.passes.monarch_length import MONARCH_LENGTH
from tests.cuda.test_fft_conv_monarch import build_for_llvm, relative_error, run

F32 = DType.float32

#: (x shape, N, out_length, stride, spectrum rows, widened N): lengths without a Monarch
#: plan, random spectra (kernels on every lag): N' from the lags the outputs read
CASES = {
    "hyena-1000": ((2, 3, 1000), 2000, 1000, 1, 3, 2048),
    "strided": ((2, 700), 1500, 240, 3, 1, 1536),
    # 1280 = 16 x 80: fp16's 160 x 160 DFT block matrix is over 48 KiB of shared memory
    "centered-kernel": ((3, 500), 1200, 600, 1, 3, 1536),
    "6000": ((1, 3000), 6000, 3000, 1, 1, 8192),  # 6144 = 16 x 16 x 24: no tile split
    "circular": ((2, 2000), 2000, 2000, 1, 1, 4096),  # every lag: the periodic kernel
}


def _graph(shape: tuple[int, ...], attrs: FFTConvAttrs, spectrum: np.ndarray) -> Graph:
    b = GraphBuilder("g")
    x = b.input("x", TensorType(shape, F32))
    y = b.node1("fft_conv", [x, b.constant(spectrum, "k")], attrs, name="fc")
    return b.build([y], ["y"])


def _spectrum(n: int, rows: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((rows, n // 2 + 1, 2)).astype(np.float32)


def _run_pass(graph: Graph, kind: str = "cuda", dtype: str = "float16") -> tuple[Graph, list[str]]:
    ctx = PassContext({"target_kind": kind, "compute_dtype": dtype})
    out = MONARCH_LENGTH.run(graph, ctx)
    return out, [str(d) for d in ctx.decisions]


def _only(graph: Graph, op: str) -> Node:
    (node,) = [n for n in graph.nodes if n.op == op]
    return node


def _same_outputs(old: Graph, new: Graph, shape: tuple[int, ...], op: str) -> None:
    """The widened node's float64 outputs equal the old one's within 1e-5 (module doc)."""
    x = np.random.default_rng(1).standard_normal(shape)
    outs = []
    for graph in (old, new):
        node = _only(graph, op)
        spectrum = graph.const(node.inputs[1])
        assert spectrum is not None
        if isinstance(node.attrs, FFTConvAttrs):
            outs.append(fft_conv_reference(x, spectrum.astype(np.float64), node.attrs))
        else:
            assert isinstance(node.attrs, FFTConv2DAttrs)
            outs.append(fft_conv2d_reference(x, spectrum.astype(np.float64), node.attrs))
    assert outs[1].shape == outs[0].shape
    assert relative_error(outs[1], outs[0]) <= 1e-5


@pytest.mark.parametrize("case", sorted(CASES))
def test_widened_convolutions_give_the_same_outputs(case: str) -> None:
    shape, n, out, stride, rows, wide = CASES[case]
    graph = _graph(shape, FFTConvAttrs(n, out, stride), _spectrum(n, rows))
    widened, decisions = _run_pass(graph)
    attrs = _only(widened, "fft_conv").attrs
    assert isinstance(attrs, FFTConvAttrs)
    assert attrs.length == wide
    assert any("FFT convolution lengths => Monarch lengths" in d for d in decisions), decisions
    _same_outputs(graph, widened, shape, "fft_conv")


def test_a_short_kernel_needs_only_its_support() -> None:
    """A 50-tap causal kernel on 1000 points (FFT size 1100): the outputs read lags
    [-999, 999] but the kernel is zero beyond 49, so 1000 + 49 points suffice (1536 in
    fp16, see above), not 1999 (2048); the float32 spectrum's rounding stays below the
    zero floor."""
    taps = np.random.default_rng(5).standard_normal((2, 50))
    spectrum = np.fft.rfft(taps, n=1100)
    planar = np.stack([spectrum.real, spectrum.imag], axis=-1).astype(np.float32)
    graph = _graph((2, 1000), FFTConvAttrs(1100, 1000), planar)
    widened, decisions = _run_pass(graph)
    attrs = _only(widened, "fft_conv").attrs
    assert isinstance(attrs, FFTConvAttrs)
    assert attrs.length == 1536, decisions
    assert any("kernel nonzero on [0, 49]" in d for d in decisions), decisions
    _same_outputs(graph, widened, (2, 1000), "fft_conv")


def test_lengths_with_a_plan_and_cpu_targets_are_kept() -> None:
    graph = _graph((2, 1000), FFTConvAttrs(2048, 1000), _spectrum(2048, 1))
    assert _run_pass(graph) == (graph, [])
    graph = _graph((2, 1000), FFTConvAttrs(2000, 1000), _spectrum(2000, 1))
    assert _run_pass(graph, kind="llvm") == (graph, [])


def test_refusals_name_their_reason() -> None:
    attrs = FFTConvAttrs(2000, 1000, bands=((0, 100),))
    _, decisions = _run_pass(_graph((2, 1000), attrs, _spectrum(2000, 1)))
    assert any("frequency bands are set" in d for d in decisions), decisions
    b = GraphBuilder("g")
    x = b.input("x", TensorType((2, 1000), F32))
    k = b.input("k", TensorType((1, 1001, 2), F32))
    graph = b.build([b.node1("fft_conv", [x, k], FFTConvAttrs(2000, 1000), name="fc")], ["y"])
    out, decisions = _run_pass(graph)
    assert out == graph
    assert any("computed at run time" in d for d in decisions), decisions


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_widened_convolution_on_the_monarch_lowering_matches_float64(dtype: str) -> None:
    """The CUDA lowering of the widened node (built for llvm, as in test_fft_conv_monarch)
    against float64 at the model's length 2000: fp32 1e-5, fp16 3e-3 (that file's
    tolerances)."""
    shape, attrs, spectrum = (2, 3, 1000), FFTConvAttrs(2000, 1000), _spectrum(2000, 3)
    widened, _ = _run_pass(_graph(shape, attrs, spectrum), dtype=dtype)
    executable, notes, monarch = build_for_llvm(widened, dtype)
    assert monarch == ["fft_conv 'fc'"], notes
    x = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
    exact = fft_conv_reference(x.astype(np.float64), spectrum.astype(np.float64), attrs)
    (got,) = run(executable, x)
    assert relative_error(got, exact) <= {"float32": 1e-5, "float16": 3e-3}[dtype]


#: fft_conv2d: (x shape, lengths, out_shape, strides, axis, spectrum shape, widened lengths)
CASES_2D = {
    "nchw-same": ((2, 3, 28, 28), (45, 48), (28, 28), (1, 1), -2, (3, 45, 25, 2), (64, 64)),
    "nhwc-strided": ((1, 20, 24, 2), (30, 40), (10, 12), (2, 2), -3, (30, 21, 2, 2), (48, 48)),
    "gfnet-circular": ((2, 14, 14, 8), (14, 14), (14, 14), (1, 1), -3, (14, 8, 8, 2), (32, 32)),
}


def _graph_2d(case: tuple[Any, ...]) -> Graph:
    shape, lengths, out, strides, axis, kshape, _ = case
    attrs = FFTConv2DAttrs(lengths, out, strides, axis)
    spectrum = np.random.default_rng(3).standard_normal(kshape).astype(np.float32)
    b = GraphBuilder("g")
    x = b.input("x", TensorType(shape, F32))
    y = b.node1("fft_conv2d", [x, b.constant(spectrum, "k")], attrs, name="fc")
    return b.build([y], ["y"])


@pytest.mark.parametrize("case", sorted(CASES_2D))
def test_2d_lengths_widened_to_tile_multiples_give_the_same_outputs(case: str) -> None:
    graph = _graph_2d(CASES_2D[case])
    widened, decisions = _run_pass(graph, dtype="float32")
    attrs = _only(widened, "fft_conv2d").attrs
    assert isinstance(attrs, FFTConv2DAttrs)
    assert attrs.lengths == CASES_2D[case][-1], decisions
    _same_outputs(graph, widened, CASES_2D[case][0], "fft_conv2d")


def test_2d_images_over_the_kernel_limit_are_refused() -> None:
    case = ((1, 2, 56, 56), (72, 72), (56, 56), (1, 1), -2, (2, 72, 37, 2), None)
    _, decisions = _run_pass(_graph_2d(case))
    assert any("widened to 112x112" in d and "over the 4096" in d for d in decisions), decisions
