"""The verifier reports every problem of a malformed graph at once."""

from __future__ import annotations

import numpy as np
import pytest

from fftc.ir import (
    Constant,
    DType,
    Graph,
    GraphBuilder,
    IRError,
    Node,
    TensorType,
    Value,
    verify,
)
from fftc.ir.ops.conv import ConvAttrs
from fftc.ir.ops.movement import TransposeAttrs

T = TensorType((2, 3), DType.float32)


def test_builder_graph_verifies():
    b = GraphBuilder("ok")
    x = b.input("x", T)
    y = b.node1("relu", [x])
    verify(b.build([y]))


def test_all_problems_reported_together():
    x = Value("x", T)
    nodes = (
        Node("add", ("x", "later"), (Value("a", T),)),  # use before definition
        Node("relu", ("x",), (Value("a", T),)),  # duplicate definition
        Node("relu", ("x",), (Value("b", TensorType((3, 2), DType.float32)),)),  # wrong type
        Node("nosuch", ("x",), (Value("c", T),)),  # unknown op
        Node("relu", ("x", "x"), (Value("d", T),)),  # arity
        Node("transpose", ("x",), (Value("e", T),), ConvAttrs((1,), (0, 0), (1,))),  # attrs class
        Node("conv", (None, "x"), (Value("f", T),), ConvAttrs((1,), (0, 0), (1,))),  # missing x
        Node("relu", ("x",), (Value("later", T),)),
    )
    g = Graph("bad", (x,), (), nodes, ("a", "zzz"))
    with pytest.raises(IRError) as info:
        verify(g)
    text = str(info.value)
    for fragment in (
        "used before it is defined",
        "defined twice",
        "declared f32[3, 2], infers f32[2, 3]",
        "unknown op 'nosuch'",
        "takes 1 inputs, got 2",
        "attributes are ConvAttrs, expected TransposeAttrs",
        "required input x is missing",
        "graph output %zzz is not defined",
    ):
        assert fragment in text, fragment
    assert "8 problems" in text


def test_shape_rule_errors_are_reported():
    b = GraphBuilder("g")
    x = b.input("x", T)
    with pytest.raises(IRError, match="not a permutation"):
        b.node1("transpose", [x], TransposeAttrs((0, 0)))


def test_constant_type_must_match_data():
    with pytest.raises(IRError, match="data shape"):
        Constant(Value("c", T), np.zeros((3, 2), np.float32))
    c = Constant.of("c", np.zeros((2, 3), np.float32))
    assert not c.data.flags.writeable
