"""CPU schedule template for the fused FFT convolution (``fftc.kernels.fft_conv``).

The template is attached to the output block (``fft_conv.out``, into which
Relax fused the elementwise epilogue).  It:

1. fuses the output's row loops (every axis but the last) into one parallel
   loop;
2. computes every other block of the kernel (forward stages, the spectral
   product ``fft_conv.pack``, inverse stages) *inside* that loop, last
   producer first: each row's intermediates are then per-thread buffers of
   ``n/2`` complex points that stay in cache;
3. gives each stage the loop structure of the stand-alone FFT template
   (``schedules/cpu/fft.py``: ``f = (q*R + r)*L + k``, ``r`` and the complex
   part unrolled, ``k`` or ``q`` vectorised) without its own parallel loop.
   Region inference may shrink the last inverse stage to the outputs the
   convolution keeps (a causal convolution keeps half): its ``r`` loop then
   has fewer iterations;
4. vectorises the output over pairs ``t = 2j + p`` (even/odd points are the
   real/imaginary parts of one complex value) when the stride is 1 (with row
   lanes: leaves it to LLVM, see :func:`_lane_output`);
5. splits a frequency-sparse pack (annotation ``fftc.fft_conv.blocks``, see
   ``fftc/kernels/fft_conv_bands.py``) into its bin blocks and unrolls them, so
   each block runs its own body (zero blocks store zeros, loading nothing).

With ``fft_conv.rows = V > 1`` (default 8; used when ``V`` divides the row
count) the row loop is split into ``(group, lane)`` instead: every
intermediate is laid out ``(row // V, c, f, row % V)``, the blocks are
computed inside the parallel group loop, and in every stage the ``V`` rows are
the innermost, vectorised loop: each butterfly operand is one full vector
whatever the span, and no stage shuffles (the first stage gathers its inputs
across rows, the output block reads with stride ``V``).
"""

from __future__ import annotations

from typing import Any

from fftc.kernels.fft.stockham import RADIX_ATTR, SPAN_ATTR
from fftc.kernels.fft_conv_bands import BLOCKS_ATTR
from fftc.schedules.base import Knob, KnobSource, template

from .fft import (
    VECTOR,
    _extent,
    _lanes,
    _value,
    _width,
    kernel_tag,
    lane_stage,
    lay_out_lanes,
    tagged_blocks,
)

STAGE, PACK = "fft_conv.stage", "fft_conv.pack"
STRIDE_ATTR = "fftc.fft_conv.stride"

ROWS = Knob(
    "fft_conv.rows",
    (1, 4, 8, 16),
    8,
    # 768 x 2048 causal convolution, 1 thread: 1 row 3.6 ms, 4 rows 2.6, 8 rows 1.8, 16 rows 2.8
    # (16 rows of 1024 complex points per buffer overflow L1/L2)
    "rows computed together, one per fp32 vector lane (1: each row alone, vectorised along it)",
)


def _own_loops(sch: Any, block: Any, row: Any) -> list[Any]:
    """The block's loops inside ``row``, without unit loops."""
    loops = sch.get_loops(block)
    target = sch.get(row)
    index = next(i for i, lp in enumerate(loops) if sch.get(lp).same_as(target))
    return [lp for lp in loops[index + 1 :] if _extent(sch, lp) > 1]


def _schedule_stage(sch: Any, block: Any, row: Any, knobs: KnobSource) -> None:
    annotations = sch.get(block).annotations
    radix, span = int(annotations[RADIX_ATTR]), int(annotations[SPAN_ATTR])
    loops = _own_loops(sch, block, row)
    if len(loops) != 2:
        return
    lc, lf = loops
    extent = _extent(sch, lf)
    width = _width(sch, block, knobs)
    if extent % (radix * span) == 0:
        lq, lr, lk = sch.split(lf, factors=[extent // (radix * span), radix, span])
    elif extent % span == 0 and extent < radix * span:  # a pruned last stage
        lq = None
        lr, lk = sch.split(lf, factors=[extent // span, span])
    else:
        return
    groups = 1 if lq is None else _extent(sch, lq)
    lanes = _lanes(span, width)
    head = [] if lq is None else [lq]
    if lanes > 1:
        lko, lki = sch.split(lk, factors=[None, lanes])
        sch.reorder(*head, lko, lr, lc, lki)
        sch.vectorize(lki)
    elif span == 1 and lq is not None and _lanes(groups, width) > 1:
        lqo, lqi = sch.split(lq, factors=[None, _lanes(groups, width)])
        sch.reorder(lqo, lk, lr, lc, lqi)
        sch.vectorize(lqi)
    else:
        sch.reorder(*head, lk, lr, lc)
    sch.unroll(lr)
    sch.unroll(lc)


def _pack_blocks(sch: Any, block: Any, ln: Any) -> tuple[Any | None, Any]:
    """A frequency-sparse pack's point loop split into its bin blocks ``(t, n)``,
    ``t`` unrolled (each block's body is then its own: see ``fft_conv_bands``)."""
    blocks = int(sch.get(block).annotations.get(BLOCKS_ATTR, 1))
    extent = _extent(sch, ln)
    if blocks <= 1 or extent % blocks:
        return None, ln
    lt, ln = sch.split(ln, factors=[blocks, extent // blocks])
    sch.unroll(lt)
    return lt, ln


def _schedule_pack(sch: Any, block: Any, row: Any, knobs: KnobSource) -> None:
    loops = _own_loops(sch, block, row)
    if len(loops) != 2:
        return
    lc, ln = loops
    lt, ln = _pack_blocks(sch, block, ln)
    head = [] if lt is None else [lt]
    lanes = _lanes(_extent(sch, ln), _width(sch, block, knobs))
    if lanes > 1:
        lno, lni = sch.split(ln, factors=[None, lanes])
        sch.reorder(*head, lno, lc, lni)
        sch.vectorize(lni)
    else:
        sch.reorder(*head, ln, lc)
    sch.unroll(lc)


def _row_lanes(sch: Any, block: Any, row: Any, producers: list[Any], knobs: KnobSource) -> int:
    """How many rows share the vector lanes (1: vectorise along each row)."""
    bits = int(sch.get(block).writes[0].source.dtype.bits)
    lanes = _value(sch, knobs.get(ROWS)) * 32 // bits
    fits = all(len(sch.get(b).writes[0].source.shape) == 3 for b in producers)
    return lanes if lanes > 1 and fits and _extent(sch, row) % lanes == 0 else 1


def _schedule_lanes(sch: Any, block: Any, row: Any, lanes: int, producers: list[Any]) -> Any:
    """Rows ``lanes`` at a time; every intermediate laid out ``(row/V, c, f, row%V)``."""
    for producer in producers:
        lay_out_lanes(sch, producer, lanes)
    outer, inner = sch.split(row, factors=[None, lanes])
    sch.parallel(outer)
    for producer in reversed(producers):
        sch.compute_at(producer, outer, preserve_unit_loops=True)
    for producer in producers:
        lane_stage(sch, producer, outer)
        if kernel_tag(sch, producer) == PACK:  # its loops in the group: (f, c, lane)
            _pack_blocks(sch, producer, _own_loops(sch, producer, outer)[0])
    return inner


def _schedule_rows(sch: Any, row: Any, producers: list[Any], knobs: KnobSource) -> None:
    """One row at a time, each stage vectorised along the row."""
    sch.parallel(row)
    for producer in reversed(producers):
        sch.compute_at(producer, row, preserve_unit_loops=True)
    for producer in producers:
        if kernel_tag(sch, producer) == STAGE:
            _schedule_stage(sch, producer, row, knobs)
        else:
            _schedule_pack(sch, producer, row, knobs)


def _lane_output(sch: Any, lt: Any, lane: Any) -> None:
    """The output of ``V`` lane rows, transposed back to rows: ``y[lane, 2j + p]`` reads
    ``(p, j, lane)``.  The loops are ``(j, lane, p)`` with ``lane`` and ``p`` unrolled
    and nothing vectorised by TVM: LLVM's loop vectorizer then vectorises ``j`` with
    whole-vector loads and shuffles (an in-register transpose), where TVM's strided
    vector loads would load lane by lane (768 x 4096 causal, 2 threads: 5.00 ->
    4.50 ms for the gated model)."""
    lj, lp = sch.split(lt, factors=[None, 2])
    sch.reorder(lj, lane, lp)
    sch.unroll(lane)
    sch.unroll(lp)


@template("fft_conv.out", "llvm", knobs=(VECTOR, ROWS))
def schedule_fft_conv(sch: Any, block: Any, target: Any, knobs: KnobSource) -> None:
    loops = sch.get_loops(block)
    if len(loops) < 2:
        return
    stride = int(sch.get(block).annotations.get(STRIDE_ATTR, 1))
    row = sch.fuse(*loops[:-1]) if len(loops) > 2 else loops[0]
    lt = sch.get_loops(block)[-1]
    producers = tagged_blocks(sch, STAGE, PACK)
    lanes = _row_lanes(sch, block, row, producers, knobs)
    if lanes > 1:
        inner = _schedule_lanes(sch, block, row, lanes, producers)
        if stride == 1 and _extent(sch, lt) % 2 == 0:
            _lane_output(sch, lt, inner)
            return
    else:
        _schedule_rows(sch, row, producers, knobs)
    extent = _extent(sch, lt)
    width = _width(sch, block, knobs)
    if stride == 1 and extent % 2 == 0 and _lanes(extent // 4, width) >= 4:
        lj, lp = sch.split(lt, factors=[None, 2])
        # at least two vectors: one vector covering the row, with a fused epilogue,
        # makes TVM 0.27's CSE emit a use before its definition
        lanes = min(_lanes(extent // 2, width), extent // 4)
        ljo, lji = sch.split(lj, factors=[None, lanes])
        sch.reorder(ljo, lp, lji)
        sch.unroll(lp)
        sch.vectorize(lji)
