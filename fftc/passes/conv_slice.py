"""simplify's rule ``slice(conv) => conv``: a slice that keeps a window of a
convolution's outputs becomes smaller pads of the convolution itself.

Exporters write a causal 1-D convolution (Hyena's and H3's short filters, a
causal TCN) as ``conv(x, pads=[k-1, k-1])[..., :L]``: the convolution computes
``k - 1`` outputs that the slice drops, and the slice is one more pass over the
result (a second parallel loop after the convolution's kernel).  Keeping the
outputs ``[s, e)`` of a spatial axis is the same convolution with
``s * stride`` less padding at the start and ``(O - e) * stride`` less at the
end (``O`` the old output length): output ``j`` of the new one reads the
window of old output ``s + j``, and the floor in the output length formula
keeps the same remainder.  Applies when every slice step is 1, the batch and
channel axes are kept whole, both new pads are non-negative, and the slice is
the convolution's only user.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from fftc.ir import Node
from fftc.ir.ops.conv import ConvAttrs
from fftc.ir.ops.movement import SliceAttrs
from fftc.passes.rewrite import Match, RewriteRule


def _trimmed(m: Match) -> tuple[Node, ConvAttrs] | str:
    a = m.node.attrs
    assert isinstance(a, SliceAttrs)
    conv = m.producer(m.node.inputs[0])
    if conv is None or conv.op != "conv":
        return "input is not a convolution"
    name = conv.outputs[0].name
    if not m.feeds_only(name):
        return "the convolution's result has other users"
    ca = conv.attrs
    assert isinstance(ca, ConvAttrs)
    shape = conv.outputs[0].type.shape
    if any(step != 1 for step in a.steps):
        return "strides or reverses"
    if a.starts[:2] != (0, 0) or a.ends[:2] != shape[:2]:
        return "slices the batch or channel axis"
    rank = len(shape) - 2
    begins, ends = list(ca.pads[:rank]), list(ca.pads[rank:])
    for i in range(rank):
        start, end, out, stride = a.starts[2 + i], a.ends[2 + i], shape[2 + i], ca.strides[i]
        begins[i] -= start * stride
        ends[i] -= (out - end) * stride
        if begins[i] < 0 or ends[i] < 0:
            return f"keeps outputs [{start}, {end}) of axis {2 + i}: more than the padding"
    return conv, replace(ca, pads=(*begins, *ends))


def _check(m: Match) -> str | None:
    found = _trimmed(m)
    return found if isinstance(found, str) else None


def _rewrite(m: Match) -> Sequence[str]:
    found = _trimmed(m)
    assert not isinstance(found, str)
    conv, attrs = found
    return [m.b.node1("conv", list(conv.inputs), attrs, name=conv.name)]


SLICE_CONV = RewriteRule("slice(conv) => conv with less padding", ("slice",), _check, _rewrite)
