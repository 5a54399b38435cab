"""simplify's ``slice(conv) => conv`` rule (``fftc/passes/conv_slice.py``): the
rewritten graph against the original through every op's float64 reference
(``fftc.ir.evaluate``); the same arithmetic on the same windows, so equal to
1e-12 relative (only summation order could differ)."""

from __future__ import annotations

import numpy as np
import pytest

from fftc.ir import DType, GraphBuilder, TensorType, evaluate
from fftc.ir.ops.conv import ConvAttrs
from fftc.ir.ops.movement import SliceAttrs
from fftc.passes import PassContext
from fftc.passes.simplify import SIMPLIFY

F32 = DType.float32


def conv_slice(shape, kernel, pads, strides, window, *, extra_user=False, groups=1):
    """``conv(x, w, b){pads, strides}[window]`` with ``window`` ((start, end, step) per
    spatial axis) and random weights."""
    rng = np.random.default_rng(0)
    rank = len(kernel)
    channels = shape[1]
    b = GraphBuilder("g")
    x = b.input("x", TensorType(shape, F32))
    w = b.constant(
        rng.standard_normal((channels, channels // groups, *kernel)).astype(np.float32), "w"
    )
    bias = b.constant(rng.standard_normal(channels).astype(np.float32), "b")
    y = b.node1("conv", [x, w, bias], ConvAttrs(strides, pads, (1,) * rank, groups), name="conv")
    out = b.type_of(y).shape
    starts = (0, 0, *(s for s, _, _ in window))
    ends = (*out[:2], *(e for _, e, _ in window))
    steps = (1, 1, *(st for _, _, st in window))
    z = b.node1("slice", [y], SliceAttrs(starts, ends, steps), name="slice")
    outputs, names = [z], ["z"]
    if extra_user:
        outputs, names = [z, b.node1("relu", [y])], ["z", "r"]
    return b.build(outputs, names)


def _simplified(graph):
    return SIMPLIFY.run(graph, PassContext())


def _same_numbers(graph, out):
    x = np.random.default_rng(1).standard_normal(graph.inputs[0].type.shape)
    wants = evaluate(graph, {"x": x}, precision="float64")
    gots = evaluate(out, {"x": x}, precision="float64")
    assert wants.keys() == gots.keys()
    for name, want in wants.items():
        got = gots[name]
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12 * np.abs(want).max())


@pytest.mark.parametrize(
    ("shape", "kernel", "pads", "strides", "window", "new_pads"),
    [
        # Hyena's causal short conv: pad k-1 on both sides, keep the first L outputs
        ((1, 6, 32), (3,), (2, 2), (1,), [(0, 32, 1)], (2, 0)),
        ((1, 4, 30), (4,), (3, 3), (2,), [(1, 16, 1)], (1, 1)),
        ((1, 2, 9, 10), (3, 3), (2, 2, 2, 2), (1, 1), [(1, 10, 1), (0, 10, 1)], (1, 2, 1, 0)),
    ],
    ids=["causal-1d", "strided-1d", "window-2d"],
)
def test_slice_becomes_smaller_pads(shape, kernel, pads, strides, window, new_pads):
    graph = conv_slice(
        shape, kernel, pads, strides, window, groups=shape[1] if len(kernel) == 1 else 1
    )
    out = _simplified(graph)
    assert [n.op for n in out.nodes] == ["conv"]
    assert out.nodes[0].attrs.pads == new_pads
    _same_numbers(graph, out)


@pytest.mark.parametrize(
    ("window", "extra_user"),
    [([(0, 30, 1)], False), ([(0, 34, 2)], False), ([(0, 32, 1)], True)],
    ids=["cuts-into-the-input", "strided-slice", "other-user"],
)
def test_slices_that_cannot_fold_stay(window, extra_user):
    graph = conv_slice((1, 6, 32), (3,), (2, 2), (1,), window, extra_user=extra_user)
    out = _simplified(graph)
    assert "slice" in [n.op for n in out.nodes]
    _same_numbers(graph, out)
