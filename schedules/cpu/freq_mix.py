"""CPU schedule template for the per-frequency channel mixing kernel
(``fftc.kernels.freq_mix``), attached to its output block ``freq_mix.out``.

* The output rows ``(batch, o)`` are fused into one parallel loop; the
  reduction block (``freq_mix``) is computed inside it, one row at a time: the
  row's two planes (``2 * P`` floats) are the accumulator, zeroed, then for
  each input channel ``i`` of the group the frequencies are the vector lanes
  (``c``, the complex part, unrolled).  So the weight ``w[o, i, :, :]`` and the
  input planes ``x[b, i, :, :]`` are read once each, contiguously, per
  accumulation; at one batch row the kernel streams the weight once (it is
  memory bound, as dense spectral mixing at batch 1 is).
* The input transposition (``freq_mix.in``, interleaved to planes) runs
  before, parallel over its rows.
"""

from __future__ import annotations

from typing import Any

from fftc.schedules.base import Knob, KnobSource, template

from .fft import _value, tagged_blocks

VECTOR = Knob("freq_mix.vector", (4, 8, 16, 32), 16, "fp32 lanes over the frequencies")


def _split_vector(sch: Any, loop: Any, width: int) -> tuple[Any, Any]:
    extent = int(sch.get(loop).extent)
    outer, inner = sch.split(loop, factors=[None, min(width, extent)])
    return outer, inner


@template("freq_mix.out", "llvm", knobs=(VECTOR,))
def schedule_freq_mix(sch: Any, block: Any, target: Any, knobs: KnobSource) -> None:
    loops = sch.get_loops(block)
    if len(loops) != len(sch.get(block).iter_vars) or len(loops) < 3:
        return
    width = int(_value(sch, knobs.get(VECTOR)))
    rows, c = loops[:-2], loops[-1]
    row = sch.fuse(*rows) if len(rows) > 1 else rows[0]
    sch.parallel(row)
    sch.unroll(c)
    (acc,) = tagged_blocks(sch, "freq_mix")
    sch.compute_at(acc, row, preserve_unit_loops=True)
    inner = sch.get_loops(acc)[len(sch.get_loops(block)) - 2 :]
    part, points, red = inner[-3:]
    po, pi = _split_vector(sch, points, width)
    sch.reorder(red, po, part, pi)
    sch.unroll(part)
    sch.vectorize(pi)
    # last: after it the update block is neither complete nor a reduction block
    init = sch.decompose_reduction(acc, red)
    sch.vectorize(sch.get_loops(init)[-1])
    for prep in tagged_blocks(sch, "freq_mix.in"):
        ploops = sch.get_loops(prep)
        outer = sch.fuse(*ploops[:-2]) if len(ploops) > 3 else ploops[0]
        sch.parallel(outer)
        sch.unroll(ploops[-2])
        _, vec = _split_vector(sch, ploops[-1], width)
        sch.vectorize(vec)
