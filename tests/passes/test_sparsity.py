"""sparsity: IR snapshot, decisions, the detection of zero frequency blocks, the
``freq_sparsity`` option's error estimate, and numerics of the compiled graphs.

Tolerances: detected blocks are exact up to float32 rounding, so the compiled
graph is within 1e-5 of max|y| of the float64 reference of the *original*
spectrum (see tests/kernels/test_fft_conv.py).  The reported error of
``freq_sparsity`` is an expectation for white noise; measured on 32 x 512
white-noise samples per channel it agrees within 10% (seen: within 3%; the
sampling spread of an L2 norm over ~16k samples is ~1%).
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest

from fftc.codegen.build import build
from fftc.codegen.tvm_api import tvm
from fftc.errors import UsageError
from fftc.ir import (
    DType,
    GraphBuilder,
    IRError,
    Node,
    TensorType,
    parse_graph,
    print_graph,
    verify,
)
from fftc.ir.ops.spectral import FFTConvAttrs, fft_conv_reference
from fftc.kernels.fft_conv_bands import kept_mask, pack_blocks, pack_runs
from fftc.passes import PassContext, run_pipeline
from fftc.passes.sparsity import SPARSITY, block_edges, freq_sparsity
from fftc.target import parse_target

F32 = DType.float32


def lowpass_spectrum(channels: int, n: int, cutoff: int, seed: int = 0) -> np.ndarray:
    """A constant (C, n/2+1, 2) spectrum that is zero from bin ``cutoff`` on."""
    rng = np.random.default_rng(seed)
    spec = rng.standard_normal((channels, n // 2 + 1, 2))
    spec[:, cutoff:] = 0.0
    return spec.astype(np.float32)


def smooth_spectrum(channels: int, n: int, seed: int = 0) -> np.ndarray:
    """The spectrum of a smooth, decaying kernel (most energy in the low bins)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n // 2)
    taps = np.exp(-t / rng.uniform(20, 60, (channels, 1))) * np.cos(t / 9.0)
    taps += 0.01 * rng.standard_normal(taps.shape)
    k = np.conj(np.fft.rfft(taps, n=n))
    return np.stack([k.real, k.imag], axis=-1).astype(np.float32)


def conv_graph(spec: np.ndarray, rows: tuple[int, ...], length: int, n: int, out: int,
               stride: int = 1):  # fmt: skip
    b = GraphBuilder("g")
    x = b.input("x", TensorType((*rows, length), F32))
    k = b.constant(spec, "k")
    y = b.node1("fft_conv", [x, k], FFTConvAttrs(n, out, stride), name="fc")
    return b.build([y], ["y"])


def bands_of(node: Node) -> tuple[tuple[int, int], ...]:
    assert isinstance(node.attrs, FFTConvAttrs)
    return node.attrs.bands


def run_compiled(graph, x: np.ndarray) -> np.ndarray:
    result = build(graph, parse_target("llvm"))
    assert result is not None
    assert not result.schedule.failed, result.schedule.failed
    from tvm.runtime.vm import VirtualMachine

    vm = VirtualMachine(result.executable, tvm.cpu())
    out = vm["main"](tvm.runtime.tensor(x, tvm.cpu()))
    return out.numpy() if hasattr(out, "numpy") else out[0].numpy()


SNAPSHOT = """\
graph "g" {
  input %x: f32[1, 2, 64]
  const %fc_spectrum: f32[2, 65, 2] = dense<elided sha256="ca8ab9add7e1c1ad">
  %fft_conv: f32[1, 2, 64] = fft_conv(%x, %fc_spectrum) {length = 128, out_length = 64, \
stride = 1, factors = [], bands = [[0, 16]]} loc("fc")
  output %fft_conv as "y"
}
"""


def test_ir_snapshot_and_decision_for_a_detected_lowpass():
    """Bins 16.. are zero; h = 64: 64 blocks of one bin (the last of two), 48 of them
    zero, so bands [[0, 16]]."""
    graph = conv_graph(lowpass_spectrum(2, 128, 16), (1, 2), 64, 128, 64)
    ctx = PassContext()
    out = SPARSITY.run(graph, ctx)
    verify(out)
    text = print_graph(out, elide=True)
    assert text == SNAPSHOT, text
    full = print_graph(out)
    assert print_graph(parse_graph(full)) == full
    (decision,) = ctx.decisions
    assert decision.node == "fft_conv 'fc'"
    assert decision.choice == "48 of 64 frequency blocks zero (detected): skipped"
    assert "kept bins [0, 16) of 65" in decision.reason


def test_cuda_keeps_the_zeros_in_the_spectrum_without_bands():
    """The Monarch kernel has no band skip: on cuda the dropped bins are zeroed in the
    constant but no bands are set (which would send the op off the tensor cores)."""
    graph = conv_graph(lowpass_spectrum(2, 128, 16), (1, 2), 64, 128, 64)
    ctx = PassContext({"target_kind": "cuda", "freq_sparsity": 0.9})
    out = SPARSITY.run(graph, ctx)
    (node,) = out.nodes
    assert isinstance(node.attrs, FFTConvAttrs)
    assert node.attrs.bands == ()
    spectrum = out.const(node.inputs[1])
    assert spectrum is not None
    assert np.count_nonzero(np.abs(spectrum).sum(axis=(0, 2))) <= 8  # 57 of 64 blocks zeroed
    assert "cuda: zeroed in the spectrum, not skipped" in ctx.decisions[0].reason


def test_dense_and_runtime_spectra_are_left_alone():
    rng = np.random.default_rng(1)
    graph = conv_graph(rng.standard_normal((2, 65, 2)).astype(np.float32), (1, 2), 64, 128, 64)
    ctx = PassContext()
    assert SPARSITY.run(graph, ctx) is graph
    assert [(d.choice, d.reason) for d in ctx.decisions] == [
        ("dense spectrum", "no frequency block is zero (64 blocks)")
    ]
    b = GraphBuilder("g")
    x = b.input("x", TensorType((1, 2, 64), F32))
    k = b.input("k", TensorType((2, 65, 2), F32))
    graph = b.build([b.node1("fft_conv", [x, k], FFTConvAttrs(128, 64), name="fc")], ["y"])
    ctx = PassContext({"freq_sparsity": 0.5})
    assert SPARSITY.run(graph, ctx) is graph
    assert ctx.decisions[0].reason == "the spectrum is computed at run time"


def test_detection_threshold_is_the_dtype_resolution():
    """Bins at 1e-9 of the largest (below float32's eps) count as zero; at 1e-5 they do not."""
    for level, zero in ((1e-9, True), (1e-5, False)):
        spec = lowpass_spectrum(2, 256, 40)
        spec[:, 40:] = level
        out = SPARSITY.run(conv_graph(spec, (1, 2), 128, 256, 128), PassContext())
        bands = bands_of(out.nodes[0])
        assert bands == (((0, 40),) if zero else ()), bands
        if zero:  # the dropped bins are exact zeros in the new constant
            assert not out.constants[0].data[:, 40:].any()


@pytest.mark.parametrize(
    ("rows", "length", "n", "out", "stride", "cutoff"),
    [
        ((2, 8), 1024, 2048, 1024, 1, 230),  # causal, 78% of the bins zero
        ((3, 4), 180, 360, 180, 1, 100),  # h = 180: blocks of 2-3 bins, not a power of two
        ((1, 5), 100, 210, 30, 3, 33),  # strided output
    ],
)
def test_pipeline_detects_zero_blocks_and_the_compiled_graph_matches(rows, length, n, out, stride,
                                                                    cutoff):  # fmt: skip
    """The whole pipeline on a constant low-pass spectrum: bands set, and the compiled graph
    within 1e-5 of the float64 reference of the original spectrum."""
    spec = lowpass_spectrum(rows[-1], n, cutoff, seed=2)
    graph = conv_graph(spec, rows, length, n, out, stride)
    compiled = run_pipeline(graph, PassContext())
    (node,) = compiled.nodes
    edges = block_edges(n // 2)
    first_zero = min(e for e in edges if e >= cutoff)
    assert bands_of(node) == ((0, first_zero),)
    x = np.random.default_rng(3).standard_normal((*rows, length)).astype(np.float32)
    ref = fft_conv_reference(x.astype(np.float64), spec.astype(np.float64),
                             FFTConvAttrs(n, out, stride))  # fmt: skip
    y = run_compiled(compiled, x)
    assert np.abs(y - ref).max() <= 1e-5 * np.abs(ref).max()


@pytest.mark.parametrize("ratio", [0.5, 0.79])
def test_freq_sparsity_reports_the_measured_error(ratio, caplog):
    """R of the 64 blocks (the least energy) zeroed; the decision's estimate is the
    relative L2 error of the compiled outputs for white noise, worst channel."""
    channels, length, n = 4, 512, 1024
    graph = conv_graph(smooth_spectrum(channels, n), (32, channels), length, n, length)
    ctx = PassContext({"freq_sparsity": ratio})
    with caplog.at_level(logging.WARNING, logger="fftc.passes"):
        out = SPARSITY.run(graph, ctx)
    (decision,) = ctx.decisions
    dropped = int(ratio * 64)
    assert decision.choice == f"freq-sparsity {ratio:g}: {dropped} of 64 frequency blocks zeroed"
    estimate = float(decision.reason.split("est. output error ")[1].split(" ")[0])
    assert f"freq-sparsity {ratio:g}: zeroed {dropped} of 64 frequency blocks" in caplog.text
    kept = kept_mask(bands_of(out.nodes[0]), n // 2)
    assert int((~kept).sum()) >= dropped * (n // 2 // 64)

    x = np.random.default_rng(5).standard_normal((32, channels, length)).astype(np.float32)
    original = conv_graph(smooth_spectrum(channels, n), (32, channels), length, n, length)
    exact = fft_conv_reference(x.astype(np.float64), original.constants[0].data.astype(np.float64),
                               FFTConvAttrs(n, length))  # fmt: skip
    y = run_compiled(out, x).astype(np.float64)
    measured = np.sqrt(((y - exact) ** 2).sum(axis=(0, 2)) / (exact**2).sum(axis=(0, 2))).max()
    assert 0.0 < estimate < 0.5  # a smooth kernel: most of its energy is kept
    assert abs(measured / estimate - 1) < 0.1, (measured, estimate)


@pytest.mark.parametrize("value", [1.0, -0.1, 1.5, "half", math.nan, True, None])
def test_bad_freq_sparsity_values_are_refused(value):
    with pytest.raises(UsageError, match=r"^--freq-sparsity: must be a number with 0 <= R < 1"):
        freq_sparsity({"freq_sparsity": value})
    with pytest.raises(UsageError, match="--freq-sparsity"):
        SPARSITY.run(conv_graph(lowpass_spectrum(2, 128, 16), (1, 2), 64, 128, 64),
                     PassContext({"freq_sparsity": value}))  # fmt: skip


@pytest.mark.parametrize(
    "bands", [((10, 5),), ((0, 10), (5, 20)), ((0, 66),), ((-1, 3),), ((20, 30), (0, 10))]
)
def test_infer_refuses_bad_bands(bands):
    graph = conv_graph(lowpass_spectrum(2, 128, 16), (1, 2), 64, 128, 64)
    (node,) = graph.nodes
    bad = graph.replace(nodes=(node.replace(attrs=node.attrs.replace(bands=bands)),))
    with pytest.raises(IRError, match=r"fft_conv: bands must be sorted, disjoint, non-empty"):
        verify(bad)


def test_pack_blocks_follow_the_band_edges():
    """h = 4096, bins [0, 896) kept: 32 blocks of 128 (896 = 7 * 128); runs: the kept
    block range, the zeros, the masked mirrored edge, the mirrored kept range."""
    mask = kept_mask(((0, 896),), 4096)
    assert pack_blocks(mask) == 32
    assert pack_runs(mask, 32) == [(0, 7), (7, 25), (25, 26), (26, 32)]
    assert pack_blocks(kept_mask(((0, 2049),), 4096)) == 32  # on no edge: the most allowed


def test_cli_freq_sparsity(tmp_path):
    """`--freq-sparsity` on inspect --explain (decision and warning) and the error for a bad R."""
    from tests.cli.test_cli import fftc_cli
    from tests.passes.test_conv_to_fft import _model

    model, *_ = _model((1, 4, 512), (512,), [511, 0], [1], [1])
    path = tmp_path / "longconv.onnx"
    path.write_bytes(model.SerializeToString())
    r = fftc_cli("inspect", str(path), "--explain", "--freq-sparsity", "0.5")
    assert r.returncode == 0, r.stderr
    assert "[sparsity] fft_conv 'cv': freq-sparsity 0.5: 32 of 64 frequency blocks zeroed" in (
        r.stdout
    )
    assert "fftc: WARNING: fftc.passes: freq-sparsity 0.5: zeroed 32 of 64" in r.stderr
    for command in (["compile", str(path), "-o", str(tmp_path / "m.fftc")], ["verify", str(path)],
                    ["inspect", str(path)]):  # fmt: skip
        r = fftc_cli(*command, "--freq-sparsity", "1")
        assert r.returncode == 2, r.stderr
        assert r.stderr.startswith("fftc: error: --freq-sparsity: must be a number"), r.stderr
