"""spectral-fusion: the exported rfft -> complex product -> irfft pattern becomes one
``fft_conv``; IR snapshot, refusals, and numerics of the compiled graph against a
float64 NumPy evaluation of the *original* graph (its op references).

Tolerance 1e-5 of max|y|: see tests/kernels/test_fft_conv.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from fftc.codegen.build import build
from fftc.codegen.tvm_api import tvm
from fftc.ir import DType, GraphBuilder, TensorType, parse_graph, print_graph
from fftc.ir.ops.dft import DFTAttrs
from fftc.ir.ops.movement import AxisAttrs, ConcatAttrs, PadAttrs, ReshapeAttrs, SliceAttrs
from fftc.ir.ops.registry import get_op
from fftc.passes import PassContext, run_pipeline
from fftc.target import parse_target

F32 = DType.float32


def _part(b, t, k, shape):
    return b.node1("slice", [t], SliceAttrs((0,) * (len(shape) - 1) + (k,), (*shape[:-1], k + 1),
                                             (1,) * len(shape)))  # fmt: skip


def hyena_pattern(rows=(1, 4), length=16, n=32, *, swap=False, runtime=False,
                  norms=("backward", "backward"), inverse_length=None, skip=None):  # fmt: skip
    """The graph PyTorch's exporter emits for irfft(rfft(u, n) * K, n)[..., :L] * gate
    (``skip``: the shape of a constant ``D``; then ``(y + D * u) * gate``, as in Hyena)."""
    rng = np.random.default_rng(0)
    b = GraphBuilder("g")
    u = b.input("u", TensorType((*rows, length), F32))
    gate = b.input("gate", TensorType((*rows, length), F32))
    r = len(rows)
    x = b.node1("pad", [u], PadAttrs((0,) * (2 * r + 1) + (n - length,)))
    x = b.node1("reshape", [x], ReshapeAttrs((*rows, n, 1)))
    f = b.node1("dft", [x], DFTAttrs(r, n, onesided=True, norm=norms[0]))
    fshape = (*rows, n // 2 + 1, 2)
    kshape = (rows[-1], n // 2 + 1, 1)
    if runtime:
        k = b.input("k", TensorType((rows[-1], n // 2 + 1, 2), F32))
        kr, ki = (
            _part(b, k, 0, (rows[-1], n // 2 + 1, 2)),
            _part(b, k, 1, (rows[-1], n // 2 + 1, 2)),
        )
    else:
        kr = b.constant(rng.standard_normal(kshape).astype(np.float32), "kr")
        ki = b.constant(rng.standard_normal(kshape).astype(np.float32), "ki")
    ar, ai = _part(b, f, 0, fshape), _part(b, f, 1, fshape)

    def mul(p, q):
        return b.node1("mul", [q, p] if swap else [p, q])

    re = b.node1("sub", [mul(ar, kr), mul(ai, ki)])
    im = b.node1("add", [mul(ai, kr), mul(ar, ki)] if swap else [mul(ar, ki), mul(ai, kr)])
    prod = b.node1("concat", [re, im], ConcatAttrs(r + 1))
    n_inv = inverse_length or n
    inv = b.node1("dft", [prod], DFTAttrs(r, n_inv, inverse=True, onesided=True, norm=norms[1]))
    y = b.node1("reshape", [inv], ReshapeAttrs((*rows, n_inv)))
    y = b.node1("slice", [y], SliceAttrs((0,) * (r + 1), (*rows, length), (1,) * (r + 1)))
    if skip is not None:
        d = b.constant(rng.standard_normal(skip).astype(np.float32), "D")
        du = mul(u, d)
        y = b.node1("add", [du, y] if swap else [y, du])
    y = b.node1("mul", [y, gate])
    return b.build([y], ["y"])


def _fused(graph):
    ctx = PassContext()
    return run_pipeline(graph, ctx, stop_after="spectral-fusion"), ctx


SNAPSHOT = """\
graph "g" {
  input %u: f32[1, 4, 16]
  input %gate: f32[1, 4, 16]
  const %spectrum_1: f32[4, 17, 2] = dense<elided sha256="f6c5383546fe9181">
  %fft_conv_2: f32[1, 4, 16] = fft_conv(%u, %spectrum_1) {length = 32, out_length = 16, \
stride = 1, factors = [], bands = []}
  %mul_8: f32[1, 4, 16] = mul(%fft_conv_2, %gate)
  output %mul_8 as "y"
}
"""


def test_ir_snapshot():
    out, ctx = _fused(hyena_pattern())
    text = print_graph(out, elide=True)
    assert [n.op for n in out.nodes] == ["fft_conv", "mul"], text
    assert print_graph(parse_graph(print_graph(out))) == print_graph(out)
    assert any("=> fft_conv" in str(d) and "constant spectrum" in str(d) for d in ctx.decisions)
    assert text == SNAPSHOT, text


def _widened(data):
    return data.astype(np.float64) if data.dtype.kind == "f" else data


def _evaluate(graph, feeds):
    """The graph in float64 through every op's NumPy reference."""
    values = {k: v.astype(np.float64) for k, v in feeds.items()}
    values.update({c.value.name: _widened(c.data) for c in graph.constants})
    for node in graph.nodes:
        outs = get_op(node.op).reference([values.get(i) if i else None for i in node.inputs],
                                         node.attrs)  # fmt: skip
        values.update({v.name: o for v, o in zip(node.outputs, outs, strict=True)})
    return values[graph.outputs[0]]


def _check_numerics(graph, op="fft_conv"):
    fused, _ = _fused(graph)
    assert op in [n.op for n in fused.nodes]
    rng = np.random.default_rng(1)
    feeds = {v.name: rng.standard_normal(v.type.shape).astype(np.float32) for v in graph.inputs}
    ref = _evaluate(graph, feeds)
    result = build(run_pipeline(graph, PassContext()), parse_target("llvm"))
    assert result is not None
    from tvm.runtime.vm import VirtualMachine

    dev = tvm.cpu()
    out = VirtualMachine(result.executable, dev)["main"](
        *(tvm.runtime.tensor(feeds[v.name], dev) for v in graph.inputs)
    )
    y = out[0].numpy() if not hasattr(out, "numpy") else out.numpy()
    assert np.abs(y - ref).max() <= 1e-5 * np.abs(ref).max()


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"swap": True},
        {"runtime": True},
        {"norms": ("ortho", "ortho")},
        {"norms": ("forward", "backward")},
        {"rows": (2, 3), "length": 97, "n": 194},
        {"rows": (1, 5), "length": 100, "n": 360},
    ],
    ids=[
        "exported",
        "operands-swapped",
        "run-time-spectrum",
        "ortho",
        "mixed-norms",
        "bluestein-97",
        "smooth-360",
    ],
)
def test_fused_graph_matches_the_original_in_float64(kwargs):
    _check_numerics(hyena_pattern(**kwargs))


def test_mismatched_lengths_are_refused_with_a_reason():
    graph = hyena_pattern(inverse_length=33)
    out, ctx = _fused(graph)
    assert "fft_conv" not in [n.op for n in out.nodes]
    assert "cmul" in [n.op for n in out.nodes]
    reasons = [str(d) for d in ctx.decisions if "fft_conv" in str(d)]
    assert any("no operand of the product" in r for r in reasons), reasons


def gfnet_pattern(shape=(1, 6, 8, 3), axis=1, *, scales=True, runtime=False, width_dft=None):
    """GFNet's global filter as PyTorch exports it: rfft2 over (axis, axis+1) with
    ``norm="ortho"`` written as scalar divisions and multiplications, a complex
    product with a (constant or run-time) spectrum, irfft2."""
    b = GraphBuilder("g")
    x = b.input("x", TensorType(shape, F32))
    nh, nw = shape[axis], width_dft or shape[axis + 1]
    spectral = list(shape)
    spectral[axis], spectral[axis + 1] = nh, nw // 2 + 1
    kshape = (*spectral[axis:], 2)
    rng = np.random.default_rng(4)
    if runtime:
        k = b.input("k", TensorType(kshape, F32))
    else:
        k = b.constant(rng.standard_normal(kshape).astype(np.float32), "k")
    root = b.constant(np.asarray(np.sqrt(nh), np.float32), "root_h")
    root_w = b.constant(np.asarray([np.sqrt(nw)], np.float32), "root_w")

    def scaled(t, op, c):
        return b.node1(op, [t, c]) if scales else t

    h = b.node1("reshape", [x], ReshapeAttrs((*shape, 1)))
    h = scaled(h, "div", root_w)
    h = b.node1("dft", [h], DFTAttrs(axis + 1, nw, onesided=True))
    h = scaled(h, "div", root)
    h = b.node1("dft", [h], DFTAttrs(axis, nh))
    h = b.node1("cmul", [h, k])
    h = b.node1("dft", [h], DFTAttrs(axis, nh, inverse=True))
    h = scaled(h, "mul", root)
    h = b.node1("dft", [h], DFTAttrs(axis + 1, nw, inverse=True, onesided=True))
    h = scaled(h, "mul", root_w)
    out = list(shape)
    out[axis + 1] = nw
    y = b.node1("reshape", [h], ReshapeAttrs(tuple(out)))
    return b.build([y], ["y"])


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"axis": 2, "shape": (1, 4, 6, 10), "scales": False}, {"runtime": True},
     {"shape": (2, 5, 6, 8), "axis": 1}],
    ids=["gfnet-nhwc-ortho", "nchw-backward", "run-time-spectrum", "batch-2"],
)  # fmt: skip
def test_rfft2_product_irfft2_becomes_fft_conv2d(kwargs):
    graph = gfnet_pattern(**kwargs)
    fused, ctx = _fused(graph)
    assert [n.op for n in fused.nodes if n.op != "mul"] == ["fft_conv2d"], print_graph(fused)
    assert any("=> fft_conv2d" in str(d) for d in ctx.decisions)
    _check_numerics(graph, "fft_conv2d")


def test_odd_last_length_is_refused_with_a_reason():
    graph = gfnet_pattern(shape=(1, 6, 7, 3))
    out, ctx = _fused(graph)
    assert "fft_conv2d" not in [n.op for n in out.nodes]
    reasons = [str(d) for d in ctx.decisions if "fft_conv2d" in str(d)]
    assert any("odd FFT length 7" in r for r in reasons), reasons


def fnet_pattern(shape=(1, 6, 8), axes=(2, 1), *, complex_input=False):
    """FNet's mixing as PyTorch exports ``torch.fft.fft2(x).real``: a DFT of the real
    input along one axis, a DFT of that along the other, the real part (gather 0)."""
    b = GraphBuilder("g")
    x = b.input("x", TensorType((*shape, 2) if complex_input else shape, F32))
    h = x if complex_input else b.node1("reshape", [x], ReshapeAttrs((*shape, 1)))
    for axis in axes:
        h = b.node1("dft", [h], DFTAttrs(axis, shape[axis]))
    zero = b.constant(np.asarray(0, np.int64), "zero")
    y = b.node1("gather", [h, zero], AxisAttrs(len(shape)))
    return b.build([y], ["y"])


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"axes": (1, 2)},
        {"shape": (2, 7, 9)},
        {"shape": (1, 5, 2)},
        {"shape": (3, 4, 6)},
        {"shape": (1, 6, 8, 3), "axes": (2, 1)},
    ],
    ids=["fnet", "other-order", "odd-lengths", "length-2", "batch-3", "trailing-channels"],
)
def test_real_part_of_fft2_becomes_half_spectrum_and_mirror(kwargs):
    """Re(fft2(x)) of a real x: the first DFT one-sided, the second on the half, then
    ``mirror_real`` (vs a float64 evaluation of the original graph, 1e-5 of max|y|)."""
    graph = fnet_pattern(**kwargs)
    fused, ctx = _fused(graph)
    ops = [n.op for n in fused.nodes]
    assert ops == ["reshape", "dft", "dft", "mirror_real"], print_graph(fused)
    assert [n.attrs.onesided for n in fused.nodes if n.op == "dft"] == [True, False]
    assert any("half spectrum + mirror" in str(d) for d in ctx.decisions)
    _check_numerics(graph, "mirror_real")


def test_real_part_of_complex_fft2_is_refused_with_a_reason():
    out, ctx = _fused(fnet_pattern(complex_input=True))
    assert "mirror_real" not in [n.op for n in out.nodes]
    reasons = [str(d) for d in ctx.decisions if "mirror" in str(d)]
    assert any("input is complex" in r for r in reasons), reasons
