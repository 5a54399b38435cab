"""spectral-fusion's complex-einsum rule (FNO's spectral convolution written in
real arithmetic) becomes ``freq_mix``: IR, refusals, and numerics of the
compiled graph against a float64 evaluation of the original graph.

Tolerance 1e-5 of max|y|: see tests/kernels/test_freq_mix.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from fftc.ir import DType, GraphBuilder, TensorType, parse_graph, print_graph
from fftc.ir.ops.linalg import EinsumAttrs
from fftc.ir.ops.movement import AxisAttrs, ConcatAttrs, ReshapeAttrs
from fftc.passes.spectral_mixing import mixing_perm
from tests.passes.test_spectral_fusion import _check_numerics, _fused

F32 = DType.float32


def fno_pattern(batch=2, c_in=4, c_out=3, modes=(5, 3), *, weight="ioxy", runtime=False,
                swap_add=False):  # fmt: skip
    """What FNO's ``mix_channels`` exports to: four real einsums on gathers of a spectrum."""
    rng = np.random.default_rng(0)
    b = GraphBuilder("g")
    x = b.input("x", TensorType((batch, c_in, *modes, 2), F32))
    sizes = {"i": c_in, "o": c_out, "x": modes[0], "y": modes[1]}
    wshape = tuple(sizes[c] for c in weight)
    if runtime:
        wr, wi = (b.input(n, TensorType(wshape, F32)) for n in ("wr", "wi"))
    else:
        wr, wi = (b.constant(rng.standard_normal(wshape).astype(np.float32), n)
                  for n in ("wr", "wi"))  # fmt: skip
    parts = [
        b.node1("gather", [x, b.constant(np.asarray(k, np.int64), f"k{k}")], AxisAttrs(4))
        for k in (0, 1)
    ]
    eq = EinsumAttrs(f"bixy,{weight}->boxy")

    def ein(p, w):
        return b.node1("einsum", [parts[p], w], eq)

    re = b.node1("sub", [ein(0, wr), ein(1, wi)])
    im_terms = [ein(0, wi), ein(1, wr)]
    im = b.node1("add", im_terms[::-1] if swap_add else im_terms)
    oshape = (batch, c_out, *modes, 1)
    stacked = [b.node1("reshape", [t], ReshapeAttrs(oshape)) for t in (re, im)]
    y = b.node1("concat", stacked, ConcatAttrs(4))
    return b.build([b.node1("mul", [y, y])], ["y"])


def test_fno_mixing_becomes_one_freq_mix():
    out, ctx = _fused(fno_pattern())
    assert [n.op for n in out.nodes] == ["freq_mix", "mul"], print_graph(out)
    assert print_graph(parse_graph(print_graph(out))) == print_graph(out)
    (mix,) = [n for n in out.nodes if n.op == "freq_mix"]
    assert out.type_of(mix.inputs[1] or "").shape == (3, 4, 2, 5, 3)
    assert any("complex einsum => freq_mix" in str(d) for d in ctx.decisions)


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"weight": "oixy"}, {"runtime": True}, {"swap_add": True}, {"batch": 1, "c_in": 1}],
    ids=["ioxy", "oixy", "run-time-weights", "add-swapped", "one-channel"],
)
def test_fused_graph_matches_the_original_in_float64(kwargs):
    _check_numerics(fno_pattern(**kwargs), op="freq_mix")


@pytest.mark.parametrize(
    ("equation", "expected"),
    [
        ("bixy,ioxy->boxy", (1, 0, 2, 3)),
        ("bix,oix->box", (0, 1, 2)),
        ("ix,iox->ox", (1, 0, 2)),
        ("bixy,ioyx->boxy", "is not <B><i><F>"),
        ("bixy,ixy->bxy", "does not sum one channel axis"),
        ("...ix,iox->...ox", "not an explicit"),
    ],
)
def test_equation_forms(equation, expected):
    got = mixing_perm(equation)
    if isinstance(expected, tuple):
        assert got == expected
    else:
        assert isinstance(got, str)
        assert expected in got


def test_real_minus_real_only_is_refused_with_a_reason():
    """re = XrWr - XiWi but im = XrWr + XiWi (not a complex product): refused, explained."""
    g = fno_pattern()
    text = print_graph(g).replace("einsum(%gather, %wi)", "einsum(%gather, %wr)")
    text = text.replace("einsum(%gather_1, %wr)", "einsum(%gather_1, %wi)")
    out, ctx = _fused(parse_graph(text))
    assert "freq_mix" not in [n.op for n in out.nodes]
    assert any("not the complex product" in str(d) for d in ctx.decisions)
