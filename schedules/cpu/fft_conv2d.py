"""CPU schedule template for the fused 2-D FFT convolution (``fftc.kernels.fft_conv2d``).

Attached to the output block (``fft_conv2d.out``, with Relax's fused epilogue).
The kernel's rows ``b`` (every axis but the two transformed ones) are split
into groups of ``V`` (knob ``fft_conv2d.rows``, the largest power of two not
above it dividing the row count); then:

1. the output's row loops are fused and split into ``(group, lane)``; the
   group loop is parallel and outermost, the lane loop innermost and vectorised;
2. every other block (the row, column and inverse FFT stages and the irfft
   pack) is computed inside the group loop, last producer first: each group's
   intermediates are contiguous ranges of its batches (``b*E + e`` for ``E``
   image rows, bins or output rows per row ``b``) and stay in cache;
3. each intermediate is laid out ``(group, e, c, f, lane)``, so that in every
   stage the lane loop (the ``V`` rows) is innermost and contiguous: each
   butterfly operand is one full vector and no stage shuffles;
4. each stage's point index is split ``f = (q*R + r)*L + k`` as in the 1-D
   template, ``r`` and the complex part unrolled.
"""

from __future__ import annotations

from typing import Any

from fftc.schedules.base import Knob, KnobSource, template

from .fft import _value, lane_stage, tagged_blocks

STAGE, PACK = "fft_conv2d.stage", "fft_conv2d.pack"
AXIS_ATTR, ROWS_ATTR = "fftc.fft_conv2d.axis", "fftc.fft_conv2d.rows"
SPECTRUM_ATTR = "fftc.fft_conv2d.spectrum"

ROWS = Knob(
    "fft_conv2d.rows",
    (0, 1, 4, 8, 16),
    0,
    "rows (channels) computed together, one per fp32 vector lane; 0: by the size of a "
    "row's column spectra (see _auto_rows)",
)


def _auto_rows(points: int, bits: int) -> int:
    """Rows per group for ``points`` complex column-spectrum points per row.

    Measured (2 threads, kernel alone, rows 4 / 8 / 16): 56x56 GFNet, 1624 points:
    2.9 / 2.5 / 1.7 ms; 45x48, 1125 points: 0.62 / 0.61 / 0.65; 30x30, 480 points:
    0.25 / 0.21 / 0.27; 72x72, 2664 points: 0.70 / 0.77 / 0.76.  So: 16 rows from
    1500 points while 16 rows' spectra fit 256 KiB, else 8 within 128 KiB, else 4.
    """
    per_row = points * 2 * bits // 8
    if points >= 1500 and 16 * per_row <= 256 * 1024:
        return 16
    return 8 if 8 * per_row <= 128 * 1024 else 4


def _group_lanes(rows: int, wanted: int) -> int:
    lanes = wanted
    while lanes > 1 and rows % lanes:
        lanes //= 2
    return lanes


def _lay_out(sch: Any, block: Any, lanes: int) -> None:
    """Batch ``(b, e)`` -> ``(b // V, e, c, f, b % V)``."""

    def index_map(b: Any, e: Any, c: Any, f: Any) -> tuple[Any, ...]:
        return (b // lanes, e, c, f, b % lanes)

    sch.transform_layout(block, ("write", 0), index_map)


@template("fft_conv2d.out", "llvm", knobs=(ROWS,))
def schedule_fft_conv2d(sch: Any, block: Any, target: Any, knobs: KnobSource) -> None:
    annotations = sch.get(block).annotations
    first, rows = int(annotations[AXIS_ATTR]), int(annotations[ROWS_ATTR])
    loops = sch.get_loops(block)
    if len(loops) != len(sch.get(block).iter_vars):
        return
    row_loops = [*loops[:first], *loops[first + 2 :]]
    ly, lx = loops[first], loops[first + 1]
    if row_loops:
        sch.reorder(*row_loops, ly, lx)
        row = sch.fuse(*row_loops) if len(row_loops) > 1 else row_loops[0]
    else:
        row = sch.add_unit_loop(ly)
    bits = int(sch.get(block).writes[0].source.dtype.bits)
    wanted = _value(sch, knobs.get(ROWS))
    if wanted == 0:
        wanted = _auto_rows(int(annotations[SPECTRUM_ATTR]), bits)
    lanes = _group_lanes(rows, wanted * 32 // bits)
    group, lane = sch.split(row, factors=[None, lanes])
    sch.reorder(group, ly, lx, lane)
    if lanes > 1:
        sch.vectorize(lane)
    sch.parallel(group)
    producers = tagged_blocks(sch, STAGE, PACK)
    if lanes > 1:
        for producer in producers:
            _lay_out(sch, producer, lanes)
    for producer in reversed(producers):
        sch.compute_at(producer, group, preserve_unit_loops=True)
    for producer in producers:
        lane_stage(sch, producer, group)
