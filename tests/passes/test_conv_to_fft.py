"""conv-to-fft: IR snapshot, decisions, and numerics of the rewritten convolutions
against onnxruntime and a float64 NumPy reference.

Tolerances: the FFT convolution sums the same products as the direct one in a
different order, through two transforms of N points; float32 rounding grows as
~eps * log2(N) relative to the output's scale, so 1e-5 of max|y| (eps = 6e-8,
log2 N <= 14 here, with a 10x margin) against float64, and 1e-4 against
onnxruntime's float32 direct convolution (the project's model tolerance).
"""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import fftc
from fftc.api import CompileOptions
from fftc.ir import DType, GraphBuilder, TensorType, parse_graph, print_graph
from fftc.ir.ops.conv import ConvAttrs
from fftc.ir.ops.spectral import FFTConv2DAttrs
from fftc.passes import PassContext
from fftc.passes.conv_to_fft import CONV_TO_FFT, kernel_spectrum, plan_fft_conv, wrapped_spectrum
from fftc.testing import run_onnxruntime
from fftc.testing.onnx_builder import graph_model

F32 = DType.float32


def reference_conv(x, w, b, pads, strides, dilations):
    """Depthwise ONNX Conv in float64 by direct summation."""
    x, w = x.astype(np.float64), w.astype(np.float64)
    rank = x.ndim - 2
    xp = np.pad(x, [(0, 0), (0, 0), *((pads[i], pads[rank + i]) for i in range(rank))])
    ke = [d * (k - 1) + 1 for d, k in zip(dilations, w.shape[2:], strict=True)]
    out = [(xp.shape[2 + i] - ke[i]) // strides[i] + 1 for i in range(rank)]
    y = np.zeros((*x.shape[:2], *out))
    for idx in np.ndindex(*w.shape[2:]):
        start = [i * d for i, d in zip(idx, dilations, strict=True)]
        window = tuple(
            slice(s, s + (o - 1) * st + 1, st) for s, o, st in zip(start, out, strides, strict=True)
        )
        y += (
            xp[(slice(None), slice(None), *window)]
            * w[(slice(None), 0, *idx)][(...,) + (None,) * rank]
        )
    return y + b[(slice(None),) + (None,) * rank]


CASES = {
    # name: (input shape, kernel, pads, strides, dilations)
    "causal-long-1d": ((2, 3, 64), (64,), [63, 0], [1], [1]),
    "prime-length": ((1, 2, 97), (97,), [96, 0], [1], [1]),
    "strided-dilated-1d": ((2, 3, 50), (7,), [2, 5], [2], [3]),
    "asymmetric-2d": ((1, 4, 17, 19), (5, 7), [1, 2, 3, 4], [2, 1], [1, 2]),
    "large-kernel-2d": ((1, 3, 20, 20), (31, 31), [15, 15, 15, 15], [1, 1], [1, 1]),
    "valid-2d": ((1, 2, 23, 11), (9, 3), [0, 0, 0, 0], [1, 3], [1, 1]),
    "3d": ((1, 2, 6, 7, 8), (3, 3, 3), [1, 1, 1, 1, 1, 1], [1, 1, 1], [1, 1, 1]),
}


def _model(shape, kernel, pads, strides, dilations, seed=0):
    rng = np.random.default_rng(seed)
    c = shape[1]
    x = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal((c, 1, *kernel)).astype(np.float32)
    b = rng.standard_normal(c).astype(np.float32)
    attrs = dict(group=c, pads=pads, strides=strides, dilations=dilations)
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], name="cv", **attrs)
    return graph_model([node], {"x": x}, ["y"], {"w": w, "b": b}), x, w, b


def _compile(model, mode):
    return fftc.compile(model, options=CompileOptions(pass_options={"conv_fft": mode}))


@pytest.mark.parametrize("case", sorted(CASES))
def test_fft_conv_matches_float64_and_onnxruntime(case):
    shape, kernel, pads, strides, dilations = CASES[case]
    model, x, w, b = _model(shape, kernel, pads, strides, dilations)
    module = _compile(model, "always")
    assert any("conv => fft conv" in d and "not" not in d for d in module.decisions)
    y = module.run({"x": x})["y"]
    ref64 = reference_conv(x, w, b, pads, strides, dilations)
    assert y.shape == ref64.shape
    assert np.abs(y - ref64).max() <= 1e-5 * np.abs(ref64).max()
    ort = run_onnxruntime(model, {"x": x})["y"]
    assert np.abs(y - ort).max() <= 1e-4 * np.abs(ort).max()


def test_never_keeps_the_direct_convolution():
    model, *_ = _model((1, 2, 64), (64,), [63, 0], [1], [1])
    module = _compile(model, "never")
    assert any("disabled" in d for d in module.decisions)


def _graph(shape, kernel, groups=None, constant=True, dilation=1):
    b = GraphBuilder("g")
    c = shape[1]
    x = b.input("x", TensorType(shape, F32))
    wshape = (c, 1 if groups is None else c // groups, *kernel)
    rng = np.random.default_rng(1)
    if constant:
        w = b.constant(rng.standard_normal(wshape).astype(np.float32), "w")
    else:
        w = b.input("w", TensorType(wshape, F32))
    rank = len(kernel)
    pads = tuple(k // 2 for k in kernel) * 2
    attrs = ConvAttrs((1,) * rank, pads, (dilation,) * rank, groups or c)
    return b.build([b.node1("conv", [x, w, None], attrs, name="cv")], ["y"])


@pytest.mark.parametrize(
    ("graph", "reason"),
    [
        (_graph((1, 8, 32, 32), (3, 3)), "direct is cheaper"),
        (_graph((1, 8, 32, 32), (3, 3), groups=1), "direct is cheaper"),
        (_graph((1, 8, 64), (63,), constant=False, dilation=2), "dilated kernel computed at run"),
        (_graph((1, 8, 64), (63,), groups=1, constant=False), "the kernel is computed at run time"),
    ],
)
def test_refusals_are_explained(graph, reason):
    ctx = PassContext({"conv_fft": "auto"})
    out = CONV_TO_FFT.run(graph, ctx)
    assert [n.op for n in out.nodes] == ["conv"]
    assert len(ctx.decisions) == 1
    assert reason in ctx.decisions[0].reason


def test_cost_model_picks_fft_for_long_and_large_kernels():
    f32 = DType.float32
    long = plan_fft_conv(
        TensorType((1, 768, 4096), f32),
        TensorType((768, 1, 4096), f32),
        ConvAttrs((1,), (4095, 0), (1,), 768),
    )
    assert long.lengths == (8192,)
    assert long.fft_cheaper
    small = plan_fft_conv(
        TensorType((1, 96, 56, 56), f32),
        TensorType((96, 1, 3, 3), f32),
        ConvAttrs((1, 1), (1, 1, 1, 1), (1, 1), 96),
    )
    assert not small.fft_cheaper


def test_kernel_spectrum_is_the_conjugate_dft_of_the_dilated_kernel():
    w = np.arange(1.0, 7.0).reshape(2, 1, 3)
    spec = kernel_spectrum(w, [2], [8])
    wd = np.zeros((2, 8))
    wd[:, 0:5:2] = w[:, 0]
    expect = np.conj(np.fft.rfft(wd, axis=-1))
    np.testing.assert_allclose(spec[:, 0], expect, rtol=1e-12, atol=1e-12)


SNAPSHOT = """\
graph "g" {
  input %x: f32[1, 2, 6]
  const %b: f32[2] = [1.0, 1.0]
  const %cv_spectrum: f32[2, 5, 2] = dense<"eJxjYHBwYACCqiYph4ysMyoMDA32Roa9KmeFr+zbvYl7KZC/38iQF0gTpw4Aj6cYnQ==">
  %fft_conv: f32[1, 2, 6] = fft_conv(%x, %cv_spectrum) {length = 8, out_length = 6, stride = 1, \
factors = [], bands = []} loc("cv")
  %reshape: f32[2, 1] = reshape(%b) {shape = [2, 1]} loc("cv")
  %add: f32[1, 2, 6] = add(%fft_conv, %reshape) loc("cv")
  output %add as "y"
}
"""  # noqa: E501


def test_ir_snapshot_1d_is_one_fused_fft_conv():
    b = GraphBuilder("g")
    x = b.input("x", TensorType((1, 2, 6), F32))
    w = b.constant(np.ones((2, 1, 3), np.float32), "w")
    bias = b.constant(np.ones(2, np.float32), "b")
    conv = b.node1("conv", [x, w, bias], ConvAttrs((1,), (1, 1), (1,), 2), name="cv")
    out = CONV_TO_FFT.run(b.build([conv], ["y"]), PassContext({"conv_fft": "always"}))
    text = print_graph(out)
    assert text == SNAPSHOT, text
    assert print_graph(parse_graph(text)) == text


def test_2d_rewrite_is_one_fused_fft_conv2d():
    """8x8 input, 3x3 kernel, pads 1: no wrap needs 8 + 1 = 9 points per axis: 9 x 10
    (the last length even); the wrapped kernel's spectrum is (C, 9, 6, 2)."""
    graph = _graph((1, 2, 8, 8), (3, 3))
    out = CONV_TO_FFT.run(graph, PassContext({"conv_fft": "always"}))
    assert print_graph(parse_graph(print_graph(out))) == print_graph(out)
    (node,) = out.nodes
    assert node.op == "fft_conv2d"
    assert node.attrs == FFTConv2DAttrs((9, 10), (8, 8), (1, 1), -2)
    assert out.type_of(node.inputs[1] or "").shape == (2, 9, 6, 2)


def test_3d_rewrite_is_the_unfused_dft_chain():
    graph = _graph((1, 2, 4, 4, 4), (3, 3, 3))
    out = CONV_TO_FFT.run(graph, PassContext({"conv_fft": "always"}))
    assert print_graph(parse_graph(print_graph(out))) == print_graph(out)
    ops = [n.op for n in out.nodes]
    assert ops == [
        "pad", "reshape", "dft", "dft", "dft", "slice", "slice", "concat", "mul", "mul", "add",
        "dft", "dft", "dft", "slice", "reshape",
    ]  # fmt: skip


def test_wrapped_spectrum_handles_kernels_longer_than_the_fft():
    """A dilated kernel longer than N aliases onto N points (exact for the circular form)."""
    w = np.random.default_rng(3).standard_normal((2, 1, 5))
    spec = wrapped_spectrum(w, 4, 12, 2)  # taps at 0, 4, 8, 12 -> 0, 16 -> 4
    wrapped = np.zeros((2, 12))
    for j, t in enumerate([0, 4, 8, 0, 4]):
        wrapped[:, t] += w[:, 0, j]
    k = np.arange(7)
    expect = np.conj(np.fft.rfft(wrapped, axis=-1)) * np.exp(-2j * np.pi * k * 2 / 12)
    np.testing.assert_allclose(spec[..., 0] + 1j * spec[..., 1], expect, atol=1e-12)


def test_cli_explain_and_conv_fft_option(tmp_path):
    """`fftc inspect --explain` states the choice; `--conv-fft` changes it."""
    from tests.cli.test_cli import fftc_cli

    model, *_ = _model((1, 4, 512), (512,), [511, 0], [1], [1])
    path = tmp_path / "longconv.onnx"
    path.write_bytes(model.SerializeToString())
    r = fftc_cli("inspect", str(path), "--explain")
    assert r.returncode == 0, r.stderr
    assert "[conv-to-fft] conv 'cv': conv => fft conv (FFT lengths [1024]" in r.stdout
    r = fftc_cli("inspect", str(path), "--explain", "--conv-fft", "never")
    assert "FFT convolution disabled (conv_fft=never)" in r.stdout
    r = fftc_cli("inspect", str(path), "--stage", "conv-to-fft", "--conv-fft", "always")
    assert "fft_conv(" in r.stdout
    assert " conv(" not in r.stdout
    r = fftc_cli("verify", str(path), "--conv-fft", "always", "-q")
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize(
    "case", ["causal-long-1d", "prime-length", "asymmetric-2d-undilated", "large-kernel-2d"]
)
def test_kernel_computed_at_run_time_is_transformed_in_the_graph(case):
    """A depthwise kernel that is a model input: its spectrum is computed by graph ops
    (pad, DFTs, conjugate, the padding's phase) feeding the fused kernel."""
    cases = {**CASES, "asymmetric-2d-undilated": ((1, 4, 17, 19), (5, 7), [1, 2, 3, 4], [2, 1],
                                                  [1, 1])}  # fmt: skip
    shape, kernel, pads, strides, dilations = cases[case]
    _, x, w, b = _model(shape, kernel, pads, strides, dilations)
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], name="cv", group=shape[1], pads=pads,
                            strides=strides, dilations=dilations)  # fmt: skip
    model = graph_model([node], {"x": x, "w": w}, ["y"], {"b": b})
    module = _compile(model, "always")
    chosen = [d for d in module.decisions if "conv => fft conv" in d and "not" not in d]
    assert chosen
    assert "kernel transformed in the graph" in chosen[0]
    y = module.run({"x": x, "w": w})["y"]
    ref64 = reference_conv(x, w, b, pads, strides, dilations)
    assert np.abs(y - ref64).max() <= 1e-5 * np.abs(ref64).max()
