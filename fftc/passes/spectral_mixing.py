"""spectral-fusion rule: a complex channel-mixing einsum written in real
arithmetic becomes ``freq_mix`` (FNO's spectral convolution).

Exporters cannot write complex einsums, so FNO-style models spell the
per-mode channel mixing ``einsum("bixy,ioxy->boxy", X, W)`` out on the real
and imaginary parts::

    re = einsum(Xr, Wr) - einsum(Xi, Wi)        im = einsum(Xr, Wi) + einsum(Xi, Wr)
    Y  = concat(reshape(re, (..., 1)), reshape(im, (..., 1)), axis=-1)

with ``Xr``/``Xi`` gathers of index 0/1 on the trailing dim of 2 of one
spectrum ``X``.  The equation must read ``<B><i><F>,<W>-><B><o><F>`` with
``<W>`` either ``<i><o><F>`` or ``<o><i><F>`` (``B`` batch letters, ``i``
summed input channels, ``o`` output channels, ``F`` the frequency letters).
The match becomes ``freq_mix(X, W)`` with ``W`` the planar
``(C_out, C_in, 2, *F)`` weight (computed at compile time from constant
``Wr``/``Wi``, else by a transpose and a concat in the graph).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fftc.ir.ops.linalg import EinsumAttrs
from fftc.ir.ops.mixing import FreqMixAttrs
from fftc.ir.ops.movement import AxisAttrs, ConcatAttrs, ReshapeAttrs, TransposeAttrs
from fftc.passes.rewrite import Match, RewriteRule
from fftc.passes.spectral_common import refusal


@dataclass(frozen=True)
class ComplexEinsum:
    """A matched complex mixing: the spectrum, the weight planes and their order."""

    x: str  # (B..., C_in, *F, 2)
    w_re: str
    w_im: str
    perm: tuple[int, ...]  # the weight term's axes -> (o, i, *F)


def _component(m: Match, name: str | None) -> tuple[str, int] | None:
    """``(X, k)`` when ``name`` is ``gather(X, k, axis=-1)`` of a trailing dim of 2."""
    node = m.producer(name)
    if node is None or node.op != "gather" or not isinstance(node.attrs, AxisAttrs):
        return None
    src, index = node.inputs[0] or "", m.b.const_value(node.inputs[1])
    shape = m.b.type_of(src).shape
    if index is None or index.shape != () or shape[-1:] != (2,):
        return None
    if node.attrs.axis != len(shape) - 1 or int(index) not in (0, 1):
        return None
    return src, int(index)


def _einsum(m: Match, name: str | None) -> tuple[str, int, str, str] | None:
    """``(X, k, weight, equation)`` for ``einsum(gather(X, k), weight)``."""
    node = m.producer(name)
    if node is None or node.op != "einsum" or len(node.inputs) != 2:
        return None
    assert isinstance(node.attrs, EinsumAttrs)
    part = _component(m, node.inputs[0])
    if part is None:
        return None
    return part[0], part[1], node.inputs[1] or "", node.attrs.equation.replace(" ", "")


def _unsqueezed(m: Match, name: str | None) -> str | None:
    """``t`` when ``name`` is ``reshape(t)`` adding a trailing unit dim."""
    node = m.producer(name)
    if node is None or node.op != "reshape":
        return None
    src = node.inputs[0] or ""
    return src if node.output.type.shape == (*m.b.type_of(src).shape, 1) else None


def mixing_perm(equation: str) -> tuple[int, ...] | str:
    """The weight term's permutation to ``(o, i, *F)``, or why the equation does
    not read ``<B><i><F>,<i><o><F>|<o><i><F>-><B><o><F>``."""
    if "..." in equation or "->" not in equation:
        return f"einsum {equation!r} is not an explicit two-operand equation"
    lhs, out = equation.split("->")
    terms = lhs.split(",")
    if len(terms) != 2 or len(set(equation) - {",", "-", ">"}) != len(set(terms[0] + terms[1])):
        return f"einsum {equation!r} is not a two-operand equation"
    xt, wt = terms
    summed = [c for c in xt if c in wt and c not in out]
    outs = [c for c in wt if c in out and c not in xt]
    if len(summed) != 1 or len(outs) != 1 or len(set(out)) != len(out):
        return f"einsum {equation!r} does not sum one channel axis into one other"
    i, o = summed[0], outs[0]
    at = out.index(o)
    batch, freq = out[:at], out[at + 1 :]
    if xt != batch + i + freq or wt not in (i + o + freq, o + i + freq):
        return f"einsum {equation!r} is not <B><i><F>,<i><o><F>-><B><o><F>"
    return tuple(wt.index(c) for c in o + i + freq)


def _match(m: Match) -> ComplexEinsum | str:
    n = m.node
    assert isinstance(n.attrs, ConcatAttrs)
    rank = n.output.type.rank
    if len(n.inputs) != 2 or n.attrs.axis != rank - 1:
        return "not a concat of two parts on the trailing axis"
    re, im = _unsqueezed(m, n.inputs[0]), _unsqueezed(m, n.inputs[1])
    re_node, im_node = m.producer(re), m.producer(im)
    if re_node is None or im_node is None or (re_node.op, im_node.op) != ("sub", "add"):
        return "parts are not (sub, add) of einsums"
    terms = [_einsum(m, t) for t in (*re_node.inputs, *im_node.inputs)]
    if any(t is None for t in terms):
        return "parts are not einsums of a spectrum's real or imaginary part"
    (x0, k0, wr, eq), (x1, k1, wi, _), *cross = [t for t in terms if t is not None]
    if {t[3] for t in terms if t is not None} != {eq} or len({x0, x1, *(t[0] for t in cross)}) != 1:
        return "the four einsums differ in equation or spectrum"
    if (k0, k1) != (0, 1) or {(t[1], t[2]) for t in cross} != {(0, wi), (1, wr)}:
        return "not the complex product (re = XrWr - XiWi, im = XrWi + XiWr)"
    perm = mixing_perm(eq)
    if isinstance(perm, str):
        return perm
    if m.b.type_of(wr) != m.b.type_of(wi):
        return "real and imaginary weights differ in shape"
    return ComplexEinsum(x0, wr, wi, perm)


def _check(m: Match) -> str | None:
    return refusal(_match(m))


def _rewrite(m: Match) -> Sequence[str]:
    found = _match(m)
    assert isinstance(found, ComplexEinsum)
    b, name = m.b, m.node.name
    re, im = b.const_value(found.w_re), b.const_value(found.w_im)
    if re is not None and im is not None:
        planes = np.stack([re.transpose(found.perm), im.transpose(found.perm)], axis=2)
        weight = b.constant(planes, f"{name}_weight")
    else:
        parts = []
        for w in (found.w_re, found.w_im):
            t = b.node1("transpose", [w], TransposeAttrs(found.perm), name=name)
            shape = b.type_of(t).shape
            parts.append(
                b.node1("reshape", [t], ReshapeAttrs((*shape[:2], 1, *shape[2:])), name=name)
            )
        weight = b.node1("concat", parts, ConcatAttrs(2), name=name)
    return [b.node1("freq_mix", [found.x, weight], FreqMixAttrs(1), name=name)]


def _candidate(m: Match) -> bool:
    """Worth a refusal line: a concat whose parts are trailing-unit reshapes of sub/add."""
    n = m.node
    if len(n.inputs) != 2:
        return False
    parts = [m.producer(_unsqueezed(m, i)) for i in n.inputs]
    return [p.op if p is not None else None for p in parts] == ["sub", "add"]


COMPLEX_EINSUM = RewriteRule(
    "complex einsum => freq_mix",
    ("concat",),
    _check,
    _rewrite,
    explain=True,
    why=lambda m: "channel mixing per frequency (FNO spectral convolution)",
    candidate=_candidate,
)
