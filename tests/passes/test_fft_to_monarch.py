"""fft-to-monarch: IR snapshot, the per-target factorizations, factor checks, the
decisions in ``fftc inspect --explain``, and numerics of forced factorizations
against a float64 NumPy reference.

Tolerance 1e-5 of max|y| (the error relative to the output's scale): float32
rounding grows as ~eps * log2(N) through the stages whatever their radices
(eps = 6e-8, log2 N <= 11 here, 10x margin), Bluestein's included (two FFTs of
the padded length and a chirp product; see tests/kernels/test_fft.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from fftc.cli.main import main
from fftc.codegen.build import build
from fftc.codegen.tvm_api import tvm
from fftc.errors import UsageError
from fftc.ir import DType, Graph, GraphBuilder, IRError, TensorType, parse_graph, print_graph
from fftc.ir.graph import Attrs
from fftc.ir.ops.dft import DFTAttrs, dft_reference
from fftc.ir.ops.movement import ReshapeAttrs
from fftc.ir.ops.spectral import (
    FFTConv2DAttrs,
    FFTConvAttrs,
    fft_conv2d_reference,
    fft_conv_reference,
)
from fftc.passes import PassContext, run_pipeline
from fftc.passes.fft_to_monarch import FFT_TO_MONARCH, FLASHFFTCONV_FACTORS, monarch_radices
from fftc.target import parse_target
from fftc.testing import assert_close
from tests.conftest import EXAMPLES

F32 = DType.float32
RTOL = 1e-5


def _random(shape: tuple[int, ...], seed: int = 2) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def small_model() -> Graph:
    """One rfft and one fft_conv of the same rows."""
    b = GraphBuilder("g")
    x = b.input("x", TensorType((2, 16), F32))
    col = b.node1("reshape", [x], ReshapeAttrs((2, 16, 1)))
    spec = b.node1("dft", [col], DFTAttrs(axis=1, length=16, onesided=True), name="rfft")
    k = b.constant(_random((17, 2)), "k")
    y = b.node1("fft_conv", [x, k], FFTConvAttrs(32, 16), name="conv")
    return b.build([spec, y], ["spectrum", "y"])


SNAPSHOT = """\
graph "g" {
  input %x: f32[2, 16]
  const %k: f32[17, 2] = dense<elided sha256="b6b9eb630a48c75d">
  %reshape: f32[2, 16, 1] = reshape(%x) {shape = [2, 16, 1]}
  %dft: f32[2, 9, 2] = dft(%reshape) {axis = 1, length = 16, inverse = false, \
onesided = true, norm = "backward", factors = [4, 2]} loc("rfft")
  %fft_conv: f32[2, 16] = fft_conv(%x, %k) {length = 32, out_length = 16, stride = 1, \
factors = [4, 4], bands = []} loc("conv")
  output %dft as "spectrum"
  output %fft_conv as "y"
}
"""


def test_ir_snapshot_after_the_stage():
    ctx = PassContext()
    out = run_pipeline(small_model(), ctx, stop_after="fft-to-monarch")
    text = print_graph(out, elide=True)
    assert print_graph(parse_graph(print_graph(out))) == print_graph(out)
    assert text == SNAPSHOT, text
    lines = [str(d) for d in ctx.decisions if d.pass_name == "fft-to-monarch"]
    assert lines == [
        "[fft-to-monarch] dft 'rfft': rfft n=16: core 8 = 4x2 (llvm: radix-4 Stockham; radix 4 "
        "measured fastest on CPUs (n=65536, one Zen 5 core: radix 4 0.12 ms, 2 0.19 ms, 8 "
        "0.25 ms; radix 16 compiles ~30 s); real signal: a complex core of half the length)",
        "[fft-to-monarch] fft_conv 'conv': fft_conv n=32: core 16 = 4x4 (llvm: radix-4 "
        "Stockham; radix 4 measured fastest on CPUs (n=65536, one Zen 5 core: radix 4 0.12 "
        "ms, 2 0.19 ms, 8 0.25 ms; radix 16 compiles ~30 s); real signal: a complex core of "
        "half the length)",
    ]


def _factors_after(graph: Graph, **options: Any) -> list[Any]:
    out = FFT_TO_MONARCH.run(graph, PassContext(dict(options)))
    return [getattr(n.attrs, "factors", None) for n in out.nodes if n.op != "reshape"]


def _dft_graph(n: int, kind: str, factors: tuple[int, ...] = ()) -> Graph:
    """One ``fft``/``ifft``/``rfft``/``irfft`` of ``n`` points over 3 rows."""
    inverse, onesided = kind in ("ifft", "irfft"), kind in ("rfft", "irfft")
    extent = n // 2 + 1 if kind == "irfft" else n
    b = GraphBuilder("g")
    x = b.input("x", TensorType((3, extent, 1 if kind == "rfft" else 2), F32))
    attrs = DFTAttrs(1, n, inverse=inverse, onesided=onesided, factors=factors)
    return b.build([b.node1("dft", [x], attrs, name=kind)], ["y"])


@pytest.mark.parametrize(
    ("target", "n", "kind", "expect"),
    [
        ("llvm", 65536, "fft", (4,) * 8),
        ("llvm", 1000, "fft", (4, 2, 5, 5, 5)),
        ("llvm", 2000, "rfft", (4, 2, 5, 5, 5)),  # the half-length core
        ("llvm", 97, "fft", (4, 4, 4, 4)),  # Bluestein over 256 points
        ("cuda", 2048, "irfft", (32, 32)),
        ("cuda", 4096, "fft", (16, 16, 16)),
        ("cuda", 512, "fft", (32, 16)),
        ("cuda", 97, "fft", (16, 16)),
        ("cuda", 1000, "fft", (20, 2, 25)),
    ],
)
def test_per_target_cost_model(target, n, kind, expect):
    assert _factors_after(_dft_graph(n, kind), target_kind=target) == [expect]


def test_monarch_factors_are_flashfftconvs():
    for n, factors in FLASHFFTCONV_FACTORS.items():
        assert monarch_radices(n, 32) == factors
    assert monarch_radices(2048, 32) == (16, 16, 8)
    assert monarch_radices(65536, 32) == (16, 16, 16, 16)
    assert monarch_radices(1024, 16) == (16, 8, 8)


def test_fft_conv2d_gets_factors_per_axis():
    b = GraphBuilder("g")
    x = b.input("x", TensorType((1, 2, 12, 20), F32))
    k = b.constant(_random((2, 12, 11, 2)), "k")
    y = b.node1("fft_conv2d", [x, k], FFTConv2DAttrs((12, 20), (12, 20)))
    assert _factors_after(b.build([y])) == [((4, 3), (2, 5))]
    assert _factors_after(b.build([y]), fft_max_radix=8) == [((6, 2), (2, 5))]
    assert _factors_after(b.build([y]), fft_max_radix=16) == [((12,), (10,))]


def test_factors_set_before_are_kept():
    ctx = PassContext()
    out = FFT_TO_MONARCH.run(_dft_graph(360, "fft", (5, 3, 8, 3)), ctx)
    assert getattr(out.nodes[0].attrs, "factors", None) == (5, 3, 8, 3)
    assert str(ctx.decisions[0]).endswith("kept factors 5x3x8x3 (factors set before this pass)")


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"fft_max_radix": 5}, r"pass option fft_max_radix must be one of 2, 4, 8, 16, 32"),
        ({"fft_max_radix": "4"}, r"fft_max_radix .* got '4'"),
        ({"target_kind": "metal"}, r"no FFT cost model for target kind 'metal'"),
    ],
)
def test_bad_pass_options_are_clear_errors(options, match):
    with pytest.raises(UsageError, match=match):
        FFT_TO_MONARCH.run(_dft_graph(64, "fft"), PassContext(options))


def _node(op: str, attrs: Attrs, shapes: list[tuple[int, ...]]) -> None:
    b = GraphBuilder("g")
    inputs = [b.input(f"x{i}", TensorType(s, F32)) for i, s in enumerate(shapes)]
    b.node1(op, inputs, attrs)


@pytest.mark.parametrize(
    ("op", "attrs", "shapes", "match"),
    [
        ("dft", DFTAttrs(1, 1000, factors=(4, 4)), [(1, 1000, 2)],
         r"dft: factors \[4, 4\] multiply to 16, not the core FFT length 1000 \(nor >= 1999"),
        ("dft", DFTAttrs(1, 1000, onesided=True, factors=(4, 4, 4, 4)), [(1, 1000, 1)],
         r"dft: .* not the core FFT length 500 or 1000"),
        ("dft", DFTAttrs(1, 8, factors=(1, 8)), [(1, 8, 2)],
         r"dft: factors \[1, 8\]: every factor must be an integer >= 2"),
        ("fft_conv", FFTConvAttrs(32, 16, factors=(4, 2)), [(2, 16), (17, 2)],
         r"fft_conv: factors \[4, 2\] multiply to 8, not the core FFT length 16 \(nor >= 31"),
        ("fft_conv2d", FFTConv2DAttrs((8, 8), (8, 8), factors=((8,),)), [(1, 8, 8), (8, 5, 2)],
         r"fft_conv2d: factors must be one tuple per axis"),
        ("fft_conv2d", FFTConv2DAttrs((8, 8), (8, 8), factors=((8,), (3,))),
         [(1, 8, 8), (8, 5, 2)], r"fft_conv2d: factors of axis 1 \[3\] multiply to 3, not .* 4"),
    ],
)  # fmt: skip
def test_bad_factors_are_ir_errors_naming_the_op(op, attrs, shapes, match):
    with pytest.raises(IRError, match=match):
        _node(op, attrs, shapes)


def _stages(factors: tuple[int, ...]) -> str:
    return "x".join(str(f) for f in factors)


def _run(graph: Graph, feeds: dict[str, np.ndarray], **options: Any) -> np.ndarray:
    """Compile for llvm and run; the lowering must have built the planned stages."""
    planned = run_pipeline(graph, PassContext(dict(options)))
    result = build(planned, parse_target("llvm"))
    assert result is not None
    factors = getattr(planned.nodes[0].attrs, "factors", ())
    for axis in factors if factors and isinstance(factors[0], tuple) else [factors]:
        assert any(f"= {_stages(axis)}" in note for note in result.notes), result.notes
    from tvm.runtime.vm import VirtualMachine

    dev = tvm.cpu()
    out = VirtualMachine(result.executable, dev)["main"](
        *(tvm.runtime.tensor(feeds[v.name], dev) for v in graph.inputs)
    )
    return np.asarray(out.numpy() if hasattr(out, "numpy") else out[0].numpy())


def _check_dft(n: int, kind: str, factors: tuple[int, ...] = (), **options: Any) -> None:
    graph = _dft_graph(n, kind, factors)
    x = _random(graph.inputs[0].type.shape, seed=n)
    a = graph.nodes[0].attrs
    assert isinstance(a, DFTAttrs)
    ref = dft_reference(x.astype(np.float64), a)
    assert_close(_run(graph, {"x": x}, **options), ref, RTOL, f"{kind} n={n} {factors} {options}")


@pytest.mark.parametrize(
    ("n", "kind", "radix"),
    [
        (360, "rfft", 2),
        (1000, "fft", 8),
        (97, "fft", 4),  # Bluestein
        (194, "rfft", 8),  # half-length core 97: Bluestein
        (1000, "irfft", 2),
        (360, "ifft", 8),
        (1024, "rfft", 4),
    ],
)
def test_forced_max_radix_matches_float64(n, kind, radix):
    _check_dft(n, kind, fft_max_radix=radix)


@pytest.mark.parametrize(
    ("n", "kind", "factors"),
    [
        (360, "fft", (5, 3, 8, 3)),  # stages in any order
        (97, "ifft", (2, 8, 4, 4)),  # Bluestein over 256 points
        (97, "fft", (5, 5, 3, 3)),  # ... over a smooth 225 >= 193
        (200, "rfft", (5, 4, 5)),  # the half-length core (100)
        (200, "irfft", (8, 5, 5)),  # the full core (200): no half-length trick
    ],
)
def test_explicit_factors_match_float64(n, kind, factors):
    _check_dft(n, kind, factors)


@pytest.mark.parametrize(
    ("length", "factors", "options"),
    [
        (720, (), {"fft_max_radix": 8}),
        (194, (), {"fft_max_radix": 2}),  # core 97: Bluestein
        (240, (3, 4, 5, 2), {}),
    ],
)
def test_fft_conv_factors_match_float64(length, factors, options):
    rows, size = (2, 3), length // 2 - 3
    b = GraphBuilder("g")
    x = b.input("x", TensorType((*rows, size), F32))
    k = b.constant(_random((3, length // 2 + 1, 2)), "k")
    attrs = FFTConvAttrs(length, size, factors=factors)
    graph = b.build([b.node1("fft_conv", [x, k], attrs)])
    xs = _random((*rows, size), seed=length)
    ref = fft_conv_reference(xs.astype(np.float64), _random((3, length // 2 + 1, 2)), attrs)
    assert_close(_run(graph, {"x": xs}, **options), ref, RTOL, f"fft_conv {length} {factors}")


@pytest.mark.parametrize(
    ("factors", "options"), [((), {"fft_max_radix": 2}), (((3, 4), (2, 5)), {})]
)
def test_fft_conv2d_factors_match_float64(factors, options):
    b = GraphBuilder("g")
    x = b.input("x", TensorType((1, 2, 10, 17), F32))
    spectrum = _random((2, 12, 11, 2))
    k = b.constant(spectrum, "k")
    attrs = FFTConv2DAttrs((12, 20), (10, 17), factors=factors)
    graph = b.build([b.node1("fft_conv2d", [x, k], attrs)])
    xs = _random((1, 2, 10, 17), seed=5)
    ref = fft_conv2d_reference(xs.astype(np.float64), spectrum, attrs)
    assert_close(_run(graph, {"x": xs}, **options), ref, RTOL, f"fft_conv2d {factors}")


FNET = EXAMPLES / "onnx" / "fnet_mixing.onnx"


def test_explain_lists_the_factorization(capsys):
    assert main(["inspect", str(FNET), "--explain"]) == 0
    out = capsys.readouterr().out
    assert "[fft-to-monarch] dft 'node_DFT_17': fft n=64: core 64 = 4x4x4 (llvm: radix-4" in out
    assert "[lower] dft 'node_DFT_17': fft n=64 norm=backward: 64 = 4x4x4" in out
    assert main(["inspect", str(FNET), "--explain", "--fft-max-radix", "8"]) == 0
    out = capsys.readouterr().out
    assert "fft n=64: core 64 = 8x8 (llvm: radix-8 Stockham (fft_max_radix=8, pass option)" in out


def test_inspect_stage_on_cuda_uses_monarch_factors(capsys):
    args = ["inspect", str(FNET), "--stage", "fft-to-monarch", "--target", "cuda:sm_90"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert (
        'length = 64, inverse = false, onesided = false, norm = "backward", factors = [8, 8]}'
        in out
    )


def test_tune_lists_the_fft_knobs(capsys):
    assert main(["tune", "--list-knobs"]) == 0
    out = capsys.readouterr().out
    assert "fft.max_radix          2, 4*, 8, 16, 32" in out
    assert main(["tune"]) == 2
    assert "needs a model" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("n", "says"),
    [
        (65536, "N=65536 = 16 x 64 x 64"),  # the outer stage: full length, not 32768
        (512, "N=512 = 16 x 32"),
        # 96 = 16 x 6: no 16-wide second factor; with a spectrum computed at run time
        # monarch-length cannot widen it either
        (96, "does not take n=96"),
    ],
)
def test_cuda_explain_says_what_the_monarch_kernel_runs(n, says):
    """On CUDA the tensor-core kernel runs an fft_conv at its full complex length; the
    explanation must not claim only the half-length core."""
    b = GraphBuilder("g")
    x = b.input("x", TensorType((2, n // 2), F32))
    k = b.input("k", TensorType((2, n // 2 + 1, 2), F32))
    y = b.node1("fft_conv", [x, k], FFTConvAttrs(n, n // 2))
    ctx = PassContext({"target_kind": "cuda"})
    run_pipeline(b.build([y]), ctx)
    (reason,) = [d.reason for d in ctx.decisions if d.pass_name == "fft-to-monarch"]
    assert says in reason
