"""Algebraic clean-ups that later pattern passes rely on: no identity reshapes,
transposes, casts or slices, no reshape/transpose chains, no x*1 or x+0, no
slice of a convolution's outputs (``conv_slice``: smaller pads instead)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fftc.ir.ops.elementwise import CastAttrs
from fftc.ir.ops.movement import ReshapeAttrs, SliceAttrs, TransposeAttrs
from fftc.passes.conv_slice import SLICE_CONV
from fftc.passes.rewrite import Match, RewritePass, RewriteRule


def _same_as_input(m: Match) -> str | None:
    n = m.node
    src = n.inputs[0]
    assert src is not None
    if m.b.type_of(src) != n.output.type:
        return "changes the type"
    if isinstance(n.attrs, TransposeAttrs) and n.attrs.perm != tuple(range(len(n.attrs.perm))):
        return "permutes axes"
    if isinstance(n.attrs, SliceAttrs) and any(s != 1 for s in n.attrs.steps):
        return "reverses or strides"
    return None


def _forward_input(m: Match) -> Sequence[str]:
    src = m.node.inputs[0]
    assert src is not None
    return [src]


IDENTITY = RewriteRule(
    "identity(x) => x",
    ("reshape", "transpose", "cast", "slice", "broadcast_to", "tile"),
    _same_as_input,
    _forward_input,
)


def _reshape_chain_check(m: Match) -> str | None:
    prev = m.producer(m.node.inputs[0])
    if prev is None or prev.op != "reshape":
        return "input is not a reshape"
    return None


def _reshape_chain(m: Match) -> Sequence[str]:
    prev = m.producer(m.node.inputs[0])
    assert prev is not None
    assert isinstance(m.node.attrs, ReshapeAttrs)
    return [m.b.node1("reshape", [prev.inputs[0]], m.node.attrs, name=m.node.name)]


RESHAPE_CHAIN = RewriteRule(
    "reshape(reshape(x)) => reshape(x)", ("reshape",), _reshape_chain_check, _reshape_chain
)


def _transpose_chain_check(m: Match) -> str | None:
    prev = m.producer(m.node.inputs[0])
    if prev is None or prev.op != "transpose":
        return "input is not a transpose"
    return None


def _transpose_chain(m: Match) -> Sequence[str]:
    prev = m.producer(m.node.inputs[0])
    assert prev is not None
    first, second = prev.attrs, m.node.attrs
    assert isinstance(first, TransposeAttrs)
    assert isinstance(second, TransposeAttrs)
    perm = tuple(first.perm[p] for p in second.perm)
    return [m.b.node1("transpose", [prev.inputs[0]], TransposeAttrs(perm), name=m.node.name)]


TRANSPOSE_CHAIN = RewriteRule(
    "transpose(transpose(x)) => transpose(x)",
    ("transpose",),
    _transpose_chain_check,
    _transpose_chain,
)


def _cast_chain_check(m: Match) -> str | None:
    prev = m.producer(m.node.inputs[0])
    if prev is None or prev.op != "cast":
        return "input is not a cast"
    src = prev.inputs[0]
    assert src is not None
    mid = prev.output.type.dtype
    if not (mid.is_float and m.b.type_of(src).dtype.is_float and mid.itemsize >= 4):
        return "the inner cast may lose information"
    return None


def _cast_chain(m: Match) -> Sequence[str]:
    prev = m.producer(m.node.inputs[0])
    assert prev is not None
    assert isinstance(m.node.attrs, CastAttrs)
    src = prev.inputs[0]
    assert src is not None
    if m.b.type_of(src).dtype == m.node.attrs.to:
        return [src]
    return [m.b.node1("cast", [src], m.node.attrs, name=m.node.name)]


CAST_CHAIN = RewriteRule("cast(cast(x)) => cast(x)", ("cast",), _cast_chain_check, _cast_chain)


def _neutral_check(m: Match) -> str | None:
    n = m.node
    a, c = n.inputs
    assert a is not None
    assert c is not None
    value = m.b.const_value(c)
    if value is None:
        return "operand is not a constant"
    neutral = 1 if n.op in ("mul", "div") else 0
    if not np.all(value == neutral):
        return f"constant is not {neutral}"
    if m.b.type_of(a) != n.output.type:
        return "the constant broadcasts the result"
    return None


NEUTRAL = RewriteRule(
    "x*1, x/1, x+0, x-0 => x", ("mul", "div", "add", "sub"), _neutral_check, _forward_input
)

SIMPLIFY = RewritePass(
    "simplify",
    "Remove identity data movement and neutral arithmetic; merge reshape/transpose/cast "
    "chains; fold a slice of a convolution's outputs into its pads.",
    (IDENTITY, RESHAPE_CHAIN, TRANSPOSE_CHAIN, CAST_CHAIN, NEUTRAL, SLICE_CONV),
    requires=frozenset({"imported"}),
)
