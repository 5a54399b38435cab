"""The per-frequency channel mixing kernel: ``freq_mix`` as TE computes.

Three blocks, so that every inner loop runs over contiguous frequencies:

1. ``freq_mix.in``: the input spectrum ``(B..., C_in, *F, 2)`` to planes
   ``(B..., C_in, 2, P)`` (``P = prod(F)``);
2. ``freq_mix`` (the reduction over a group's input channels ``i``)::

       acc[b, o, 0, p] += xr * wr - xi * wi        acc[b, o, 1, p] += xr * wi + xi * wr

   reading the weight in its planar layout ``(C_out, C_in/groups, 2, *F)``;
3. ``freq_mix.out``: the planes back to ``(B..., C_out, *F, 2)``.

The CPU template (``schedules/cpu/freq_mix.py``) computes one output row
``(b, o)`` at a time: each weight element is read once per batch row.
"""

from __future__ import annotations

from collections.abc import Sequence

from fftc.codegen.tvm_api import te, tirx
from fftc.schedules.base import KERNEL_ATTR

KERNEL, IN, OUT = "freq_mix", "freq_mix.in", "freq_mix.out"


def _ravel(index: Sequence[tirx.PrimExpr], extents: Sequence[int]) -> tirx.PrimExpr:
    flat: tirx.PrimExpr = tirx.const(0, "int64")
    for idx, extent in zip(index, extents, strict=True):
        flat = flat * extent + idx
    return flat


def _unravel(flat: tirx.PrimExpr, extents: Sequence[int]) -> list[tirx.PrimExpr]:
    index = []
    for extent in reversed(extents):
        index.append(flat % extent)
        flat = flat // extent
    return index[::-1]


def freq_mix_compute(x: te.Tensor, w: te.Tensor, groups: int) -> te.Tensor:
    """``x`` ``(B..., C_in, *F, 2)``, ``w`` ``(C_out, C_in/groups, 2, P)`` (the
    weight's frequencies flattened, ``P = prod(F)``) -> ``(B..., C_out, *F, 2)``."""
    xs = [int(d) for d in x.shape]
    c_out, per_group, _, points = (int(d) for d in w.shape)
    freq = xs[len(xs) - 1 - _freq_rank(xs, points) : -1]
    lead = len(xs) - len(freq) - 2  # x's batch dims
    out_per_group = c_out // groups
    xp = te.compute(
        (*xs[:lead], xs[lead], 2, points),
        lambda *ix: x[(*ix[:-2], *_unravel(ix[-1], freq), ix[-2])],
        name="freq_mix_in",
        attrs={KERNEL_ATTR: IN},
    )
    i = te.reduce_axis((0, per_group), name="i")

    def body(*index: tirx.PrimExpr) -> tirx.PrimExpr:
        batch, o, c, p = index[:lead], index[lead], index[lead + 1], index[lead + 2]
        channel = o // out_per_group * per_group + i
        xr, xi = xp[(*batch, channel, 0, p)], xp[(*batch, channel, 1, p)]
        wr, wi = w[o, i, 0, p], w[o, i, 1, p]
        return te.sum(tirx.Select(c == 0, xr * wr - xi * wi, xr * wi + xi * wr), axis=i)

    acc = te.compute(
        (*xs[:lead], c_out, 2, points), body, name="freq_mix", attrs={KERNEL_ATTR: KERNEL}
    )
    return te.compute(
        (*xs[:lead], c_out, *freq, 2),
        lambda *ix: acc[(*ix[: lead + 1], ix[-1], _ravel(ix[lead + 1 : -1], freq))],
        name="freq_mix_out",
        attrs={KERNEL_ATTR: OUT},
    )


def _freq_rank(xs: Sequence[int], points: int) -> int:
    """How many of ``x``'s trailing dims (before the 2) multiply to ``points``."""
    total, rank = 1, 0
    while total < points:
        rank += 1
        total *= xs[-1 - rank]
    return rank
