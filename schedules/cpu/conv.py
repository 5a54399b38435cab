"""CPU schedule templates for fftc's direct convolutions (``fftc.kernels.conv``).

The ``conv`` block is tiled into a register tile covered by the innermost,
vectorised loop and a few unrolled loops, with the reduction (input channels,
then taps) outside the tile, so the accumulators stay in vector registers:

* ``width`` layout: tile = ``tile_m`` output channels of a group x
  ``tile_h`` output rows x ``tile_w`` vectors along the output width.  A tap
  broadcasts one weight per channel and loads one input vector per
  (row, vector), shared by the channels of the tile.  The kernel-row tap loop
  is moved inside the kernel-column loop and unrolled (``row_taps``), so an
  input row loaded for one output row of the tile is reused by the others:
  for a 7x7 depthwise conv with 8-row tiles this cuts the loads per
  multiply-add from 1 to (8+6)/(8*7) = 0.25 and doubled the speed.
* ``channel`` layout: tile = ``tile_oc`` vectors of output channels x
  ``tile_px`` output pixels of a row.  A tap loads ``tile_oc`` weight vectors
  and broadcasts one input scalar per pixel.

Outer spatial loops (batch, channel blocks, rows) are fused into one parallel
loop.  The ``conv.out`` block (the copy to NC[D]HW with the bias, and every
elementwise op Relax fused after the conv) is computed at the tile and
vectorised along the width, so the accumulators go to the final output in one
pass.  ``conv.pad`` and ``conv.wpack`` are copies scheduled on their own.

Knob values may be plain ints (each is then shrunk to a divisor of its loop,
so the default build has no partial tiles) or MetaSchedule random variables
(used as split factors as they are).
"""

from __future__ import annotations

from typing import Any

from fftc.codegen.tvm_api import tvm
from fftc.kernels.conv import (
    CG_ATTR,
    COMPUTE_KNOBS,
    LANES_ATTR,
    MG_ATTR,
    PHASES_ATTR,
    RANK_ATTR,
    REARRANGED_ATTR,
    STRATEGY_ATTR,
)

from ..base import KERNEL_ATTR, Knob, KnobSource, template

TILE_M = Knob("conv.tile_m", (1, 2, 4, 6, 8), 6, "width layout: output channels per tile")
TILE_H = Knob("conv.tile_h", (1, 2, 4, 7, 8, 14), 8, "width layout: output rows per tile")
TILE_W = Knob("conv.tile_w", (1, 2, 4, 8), 2, "width layout: vectors along the width per tile")
ROW_TAPS = Knob(
    "conv.row_taps",
    (1, 3, 5, 7, 15, 31, 63),
    63,
    "width layout: kernel rows unrolled inside the tap loop (input-row reuse)",
)
TILE_OC = Knob("conv.tile_oc", (1, 2, 3, 4), 2, "channel layout: channel vectors per tile")
TILE_PX = Knob("conv.tile_px", (4, 7, 8, 14, 16), 14, "channel layout: output pixels per tile")

#: share of the vector registers a tile's accumulators may use
ACCUMULATOR_SHARE = 0.75
#: multiply-adds (vector instructions) in one unrolled tap-loop body
MAX_UNROLLED_FMAS = 1024


def vector_registers(target: Any) -> tuple[int, int]:
    """Number and width in bytes of the target's vector registers (x86 feature sets)."""
    has = tvm.target.codegen.target_has_features
    if has("avx512f", target):
        return 32, 64
    if has("avx", target):
        return 16, 32
    return 16, 16


def accumulator_budget(target: Any, vector_bytes: int) -> int:
    """How many ``vector_bytes``-wide accumulators a tile may keep in registers."""
    count, width = vector_registers(target)
    return max(1, int(count * ACCUMULATOR_SHARE) * width // vector_bytes)


def _extent(sch: Any, loop: Any) -> int:
    return int(sch.get(loop).extent)


def _fit(value: Any, extent: int, cap: int | None = None) -> Any:
    """A plain knob value shrunk to the largest divisor of ``extent``; RVs pass through."""
    if not isinstance(value, int):
        return value
    limit = max(1, min(value, extent if cap is None else cap))
    return max(d for d in range(1, limit + 1) if extent % d == 0)


def _as_int(value: Any, fallback: int) -> int:
    return value if isinstance(value, int) else fallback


def _consumer(sch: Any, block: Any, kind: str) -> Any:
    for consumer in sch.get_consumers(block):
        if str(sch.get(consumer).annotations.get(KERNEL_ATTR, "")) == kind:
            return consumer
    raise ValueError(f"conv block without a {kind} consumer")


def _producer(sch: Any, block: Any, kind: str) -> Any:
    for producer in sch.get_producers(block):
        if str(sch.get(producer).annotations.get(KERNEL_ATTR, "")) == kind:
            return producer
    return None


def _pad_chain(sch: Any, pad: Any) -> list[Any]:
    """``pad`` and the ``conv.pad`` blocks it reads from, consumers first."""
    chain = [pad]
    producer = _producer(sch, pad, "conv.pad")
    while producer is not None:
        chain.append(producer)
        producer = _producer(sch, producer, "conv.pad")
    return chain


def _finish(sch: Any, block: Any, reduction: Any, tile: list[Any], vector: Any) -> None:
    """Initialise the tile outside the reduction, unroll the tile, vectorise."""
    for loop in tile:
        sch.unroll(loop)
    sch.vectorize(vector)
    sch.decompose_reduction(block, reduction)


def _reuse_input_rows(
    sch: Any, taps: list[Any], tile_h: Any, tile_size: int, knobs: KnobSource
) -> list[Any]:
    """Move the kernel-row tap loop ``kh`` inside ``kw`` and unroll it.

    Output row ``oh_i`` of the tile reads input row ``oh_i*s + kh``; with ``kh``
    and ``oh_i`` both unrolled, each input vector is loaded once per ``kw`` and
    used by up to ``tile_h`` accumulators (LLVM merges the identical loads)
    instead of being loaded once per multiply-add.  Returns the new loop order.
    """
    if isinstance(tile_h, int) and tile_h == 1:
        return taps
    *before, kh, kw = taps
    rows = _fit(knobs.get(ROW_TAPS), _extent(sch, kh), MAX_UNROLLED_FMAS // tile_size)
    if isinstance(rows, int) and rows == 1:
        return taps
    if isinstance(rows, int) and rows == _extent(sch, kh):
        order = [*before, kw, kh]
        inner = kh
    else:
        kh_o, inner = sch.split(kh, factors=[None, rows])
        order = [*before, kh_o, kw, inner]
    sch.unroll(inner)
    return order


def _schedule_width(
    sch: Any, block: Any, knobs: KnobSource, lanes: int, rank: int, budget: int, width: int
) -> Any:
    """Width layout; loops ``n, m, o1..or, [rc], k1..kr``.

    Returns the loop ``conv.out`` is computed at: the tile loop, or the loop
    over rows of tiles when the output ``width`` is not a whole number of
    vectors (the output copy then covers whole rows and needs no bounds test).
    Depthwise-like convs (one input channel per tile) run in parallel over
    channel planes and pad each plane inside that loop; the others run in
    parallel over tiles (or rows of tiles).
    """
    loops = sch.get_loops(block)
    n, m, *rest = loops
    spatial, reduction = rest[:rank], rest[rank:]
    padded_width = _extent(sch, spatial[-1])
    annotations = sch.get(block).annotations
    mg, cg = int(annotations[MG_ATTR]), int(annotations[CG_ATTR])
    tile_w = _fit(knobs.get(TILE_W), padded_width // lanes)
    tile_m = _fit(knobs.get(TILE_M), mg, budget // _as_int(tile_w, 1))
    ow_o, ow_u, ow_v = sch.split(spatial[-1], factors=[None, tile_w, lanes])
    m_o, m_i = sch.split(m, factors=[None, tile_m])
    outer = list(spatial[:-1])
    tile = [m_i]
    if rank >= 2:
        rows_budget = budget // (_as_int(tile_w, 1) * _as_int(tile_m, 1))
        tile_h = _fit(knobs.get(TILE_H), _extent(sch, spatial[-2]), rows_budget)
        oh_o, oh_i = sch.split(spatial[-2], factors=[None, tile_h])
        outer[-1] = oh_o
        tile.append(oh_i)
        tile_size = _as_int(tile_w, 1) * _as_int(tile_m, 1) * _as_int(tile_h, 1)
        reduction = _reuse_input_rows(sch, reduction, tile_h, tile_size, knobs)
    tile.append(ow_u)
    sch.reorder(n, m_o, *outer, ow_o, *reduction, *tile, ow_v)
    whole_tiles = padded_width == width
    pad = _producer(sch, block, "conv.pad")
    if pad is not None and cg == 1:
        # one input plane per parallel iteration: pad it right there, so the
        # padded copy is produced and consumed in cache instead of memory
        planes = sch.fuse(n, m_o)
        sch.parallel(planes)
        for stage in _pad_chain(sch, pad):
            sch.compute_at(stage, planes)
            _order_pad_loops(sch, stage)
        attach = ow_o if whole_tiles else (outer[-1] if outer else planes)
    else:
        attach = sch.fuse(n, m_o, *outer, ow_o) if whole_tiles else sch.fuse(n, m_o, *outer)
        sch.parallel(attach)
    _finish(sch, block, reduction[0], tile, ow_v)
    return attach


def _schedule_channel(sch: Any, block: Any, knobs: KnobSource, rank: int, budget: int) -> Any:
    """Channel layout; loops ``n, g, b, o1..or, v, [rc], k1..kr``.

    Returns the parallel loop over tiles, which ``conv.out`` is computed at.
    """
    loops = sch.get_loops(block)
    n, g, b, *rest = loops
    spatial, v, reduction = rest[:rank], rest[rank], rest[rank + 1 :]
    tile_oc = _fit(knobs.get(TILE_OC), _extent(sch, b))
    tile_px = _fit(knobs.get(TILE_PX), _extent(sch, spatial[-1]), budget // _as_int(tile_oc, 1))
    b_o, b_i = sch.split(b, factors=[None, tile_oc])
    ow_o, ow_i = sch.split(spatial[-1], factors=[None, tile_px])
    outer = spatial[:-1]
    sch.reorder(n, g, b_o, *outer, ow_o, *reduction, b_i, ow_i, v)
    tiles = sch.fuse(n, g, b_o, *outer, ow_o)
    sch.parallel(tiles)
    _finish(sch, block, reduction[0], [b_i, ow_i], v)
    return tiles


@template(
    "conv", "llvm", knobs=(*COMPUTE_KNOBS, TILE_M, TILE_H, TILE_W, ROW_TAPS, TILE_OC, TILE_PX)
)
def schedule_conv(sch: Any, block: Any, target: Any, knobs: KnobSource) -> None:
    annotations = sch.get(block).annotations
    strategy = str(annotations[STRATEGY_ATTR])
    lanes = int(annotations[LANES_ATTR])
    rank = int(annotations[RANK_ATTR])
    out = _consumer(sch, block, "conv.out")
    accumulator = sch.get(block).writes[0].source  # the tmp buffer
    vector_bytes = lanes * int(tvm.DataType(str(accumulator.dtype)).bits) // 8
    budget = accumulator_budget(target, vector_bytes)
    if strategy == "width":
        width = int(sch.get(out).iter_vars[-1].dom.extent)
        tiles = _schedule_width(sch, block, knobs, lanes, rank, budget, width)
    else:
        tiles = _schedule_channel(sch, block, knobs, rank, budget)
    if REARRANGED_ATTR in sch.get(out).annotations:
        # a pixel shuffle reads tmp out of order: a pass of its own after the conv
        _parallel_outer(sch, out, inner=1)
        return
    sch.reverse_compute_at(out, tiles)
    _vectorize_epilogue(sch, out, tiles, lanes)


def _vectorize_epilogue(sch: Any, out: Any, tiles: Any, lanes: int) -> None:
    """Vectorise the output copy (and the fused epilogue) along its innermost loop.

    Uses the widest power-of-two vector up to ``lanes`` that divides the loop,
    so no lane needs a bounds test.  When the copy has no loop of its own
    under the tile loop (a single output point per tile), nothing is done.
    """
    loops = sch.get_loops(out)
    tile_stmt = sch.get(tiles)
    if sch.get(loops[-1]).same_as(tile_stmt):
        return
    inner = loops[-1]
    extent = _extent(sch, inner)
    width = lanes
    while width >= 4 and extent % width:
        width //= 2
    if width < 4:
        return
    if width < extent:
        _, inner = sch.split(inner, factors=[None, width])
    sch.vectorize(inner)


@template("conv.out", "llvm")
def schedule_conv_out(sch: Any, block: Any, target: Any, knobs: KnobSource) -> None:
    """Nothing to do: :func:`schedule_conv` computes this block at its tile."""


def _parallel_outer(sch: Any, block: Any, inner: int) -> None:
    """Fuse all but the ``inner`` innermost loops into one parallel loop."""
    loops = sch.get_loops(block)
    outer = loops[: len(loops) - inner]
    if outer:
        sch.parallel(sch.fuse(*outer) if len(outer) > 1 else outer[0])


def _order_pad_loops(sch: Any, pad: Any) -> int:
    """Put a deinterleaved pad's phase loop innermost; returns the inner loop count.

    Writing ``pad[.., p, j] = x[.., j*s + p]`` with ``p`` innermost and
    unrolled reads ``x`` contiguously, which LLVM vectorises as interleaved
    loads and shuffles instead of gathers.
    """
    if PHASES_ATTR not in sch.get(pad).annotations:
        return 1
    *_, phase, position = sch.get_loops(pad)
    sch.reorder(position, phase)
    sch.unroll(phase)
    return 2


@template("conv.pad", "llvm")
def schedule_conv_pad(sch: Any, block: Any, target: Any, knobs: KnobSource) -> None:
    _parallel_outer(sch, block, inner=_order_pad_loops(sch, block))


@template("conv.wpack", "llvm")
def schedule_conv_wpack(sch: Any, block: Any, target: Any, knobs: KnobSource) -> None:
    _parallel_outer(sch, block, inner=1)
