"""The IR text form: an exact snapshot, round trips, and parse errors."""

from __future__ import annotations

import numpy as np
import pytest

from fftc.ir import DType, GraphBuilder, IRError, TensorType, parse_graph, print_graph, verify
from fftc.ir.ops.conv import ConvAttrs, PoolAttrs
from fftc.ir.ops.dft import DFTAttrs
from fftc.ir.ops.elementwise import CastAttrs, ClipAttrs
from fftc.ir.ops.movement import PadAttrs, ReshapeAttrs, SliceAttrs

F32 = DType.float32


def small_graph():
    b = GraphBuilder("small")
    x = b.input("x", TensorType((1, 2, 8), F32))
    w = b.constant(np.arange(6, dtype=np.float32).reshape(2, 1, 3), "w")
    y = b.node1("conv", [x, w, None], ConvAttrs((1,), (2, 0), (1,), 2), name="/conv")
    z = b.node1("reshape", [y], ReshapeAttrs((1, 2, 8, 1)))
    f = b.node1("dft", [z], DFTAttrs(axis=2, length=8, onesided=True))
    return b.build([f, y], ["spectrum", "conv"])


SNAPSHOT = """\
graph "small" {
  input %x: f32[1, 2, 8]
  const %w: f32[2, 1, 3] = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
  %conv: f32[1, 2, 8] = conv(%x, %w, _) {strides = [1], pads = [2, 0], dilations = [1], \
groups = 2} loc("/conv")
  %reshape: f32[1, 2, 8, 1] = reshape(%conv) {shape = [1, 2, 8, 1]}
  %dft: f32[1, 2, 5, 2] = dft(%reshape) {axis = 2, length = 8, inverse = false, \
onesided = true, norm = "backward", factors = []}
  output %dft as "spectrum"
  output %conv
}
"""


def test_snapshot():
    assert print_graph(small_graph()) == SNAPSHOT


def everything_graph():
    """Every kind of attribute value, odd names, big and small constants, multi-use."""
    b = GraphBuilder("every thing")
    x = b.input("in:0", TensorType((2, 3, 40), F32))
    big = b.constant(np.random.default_rng(0).standard_normal((3, 40)).astype(np.float32), "big")
    flags = b.constant(np.array([True, False]), "flags")
    ints = b.constant(np.array([[1, -2]], dtype=np.int64), "ints")
    a = b.node1("add", [x, big])
    c = b.node1("clip", [a], ClipAttrs(None, 1.5))
    p = b.node1("pad", [c], PadAttrs((0, 0, 1, 0, 0, 2), "reflect", 0.0))
    s = b.node1("slice", [p], SliceAttrs((0, 0, 42), (2, 3, -1), (1, 1, -3)))
    q = b.node1("pool", [s], PoolAttrs("avg", (2,), (2,), (0, 1), (1,), True, False))
    i = b.node1("cast", [q], CastAttrs(DType.float16))
    return b.build([i, flags, ints, x], ["half", "flags", "ints", "echo"])


def test_round_trip_exact():
    g = everything_graph()
    verify(g)
    text = print_graph(g)
    g2 = parse_graph(text)
    verify(g2)
    assert print_graph(g2) == text
    for c1, c2 in zip(g.constants, g2.constants, strict=True):
        assert c1.value == c2.value
        np.testing.assert_array_equal(c1.data, c2.data)
    assert g2.output_names == g.output_names


def test_elided_constants_need_their_data():
    g = everything_graph()
    text = print_graph(g, elide=True)
    assert "elided" in text
    with pytest.raises(IRError, match="elided and no data"):
        parse_graph(text)
    data = {c.value.name: c.data for c in g.constants}
    assert print_graph(parse_graph(text, data)) == print_graph(g)
    data["big"] = data["big"] + 1
    with pytest.raises(IRError, match="does not match its digest"):
        parse_graph(text, data)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('graph "g" {\n  input %x: f32[2]\n  %y: f32[2] = nosuch(%x)\n}', "unknown op"),
        ('graph "g" {\n  input %x: f32[2]\n  %y: f32[2] = relu(%x) {alpha = 1}\n}', "unknown attr"),
        ('graph "g" {\n  input %x: q9[2]\n}', "unknown dtype"),
        ('graph "g" {\n  input %x f32[2]\n}', "line 2: expected ':'"),
        ('graph "g" {\n  %y: f32[2] = slice(%x) {starts = 1}\n}', "expected a list"),
    ],
)
def test_parse_errors_name_the_line(text, message):
    with pytest.raises(IRError, match=message):
        parse_graph(text)
