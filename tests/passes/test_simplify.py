"""Graph passes: IR text before/after snapshots, and the pipeline's checks."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from fftc.ir import DType, GraphBuilder, IRError, TensorType, evaluate, print_graph, verify
from fftc.ir.ops.elementwise import CastAttrs
from fftc.ir.ops.movement import ReshapeAttrs, TransposeAttrs
from fftc.passes import PassContext, run_pipeline
from fftc.passes.dce import DeadCodeElimination
from fftc.passes.fold_constants import FoldConstants
from fftc.passes.simplify import SIMPLIFY

F32 = DType.float32


def messy_graph():
    b = GraphBuilder("messy")
    x = b.input("x", TensorType((2, 3, 4), F32))
    one = b.constant(np.ones((), np.float32), "one")
    w = b.constant(np.arange(6, dtype=np.float32).reshape(2, 3), "w")
    wt = b.node1("transpose", [w], TransposeAttrs((1, 0)))  # constant: folds
    r1 = b.node1("reshape", [x], ReshapeAttrs((6, 4)))
    r2 = b.node1("reshape", [r1], ReshapeAttrs((3, 8)))
    t1 = b.node1("transpose", [x], TransposeAttrs((2, 0, 1)))
    t2 = b.node1("transpose", [t1], TransposeAttrs((1, 2, 0)))  # composes to identity
    m = b.node1("mul", [t2, one])  # x * 1
    c1 = b.node1("cast", [m], CastAttrs(DType.float64))
    c2 = b.node1("cast", [c1], CastAttrs(F32))  # round trip through f64
    b.node1("relu", [x])  # dead
    return b.build([r2, c2, wt], ["r", "c", "wt"])


AFTER = """\
graph "messy" {
  input %x: f32[2, 3, 4]
  const %transpose_1: f32[3, 2] = [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]
  %reshape_2: f32[3, 8] = reshape(%x) {shape = [3, 8]}
  output %reshape_2 as "r"
  output %x as "c"
  output %transpose_1 as "wt"
}
"""


def test_pipeline_snapshot_and_semantics():
    g = messy_graph()
    out = run_pipeline(g)
    assert print_graph(out) == AFTER
    x = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)
    before, after = evaluate(g, {"x": x}), evaluate(out, {"x": x})
    for name in ("r", "c", "wt"):
        np.testing.assert_array_equal(before[name], after[name])


def test_lossy_cast_chains_stay():
    b = GraphBuilder("lossy")
    x = b.input("x", TensorType((4,), F32))
    h = b.node1("cast", [x], CastAttrs(DType.float16))
    y = b.node1("cast", [h], CastAttrs(F32))
    out = SIMPLIFY.run(b.build([y]), PassContext())
    assert out.count_ops() == {"cast": 2}


def test_each_pass_alone_keeps_the_graph_valid():
    g = messy_graph()
    for p in (FoldConstants(), SIMPLIFY, DeadCodeElimination()):
        verify(p.run(g, PassContext()))


def test_pipeline_checks_requirements(monkeypatch):
    import fftc.passes.pipeline as pipeline

    needy = dataclasses.replace(DeadCodeElimination(), requires=frozenset({"magic"}))
    monkeypatch.setattr(pipeline, "PIPELINE", (needy,))
    with pytest.raises(IRError, match=r"requires \['magic'\]"):
        pipeline.run_pipeline(messy_graph())
