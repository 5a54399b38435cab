"""The generic CPU template, for blocks no fftc kernel claims.

* Spatial-only (injective) blocks: all loops fused, split into a parallel
  outer loop and a vectorised inner loop.
* Matmul-like reductions (``C[..., i, j] += A[..., i, k] * B[..., k, j]``: one
  reduction loop, last; some input's innermost index is ``j``): a register
  tile of ``rows`` x ``vector_width`` outputs is accumulated in a local
  buffer over ``k``, with ``j`` vectorised, ``i`` unrolled and the outer tiles
  parallel; elementwise consumers (bias, activation) are computed as each
  tile is written back.
* Transposes (spatial-only blocks reading some input with its innermost index
  on another output axis than the innermost one): that axis and the innermost
  one are tiled (``transpose_tile`` x ``vector_width``), the tile's rows
  unrolled and its columns vectorised, so LLVM turns the tile into whole-vector
  loads and shuffles instead of a gather per vector (Hyena's (256, 192) ->
  (192, 256) layout change: 0.014 -> 0.004 ms); the tiles run in parallel.
* Other reductions: the spatial loops are fused and parallel.
"""

from __future__ import annotations

from typing import Any

from fftc.codegen.tvm_api import tirx

from ..base import Knob, KnobSource, template
from ..inline import covers_producers, has_conditional_value

VECTOR = Knob("vector_width", (4, 8, 16, 32), 16, "fp32 lanes of the innermost loop")
ROWS = Knob("rows", (1, 2, 4, 8, 16), 8, "rows of a matmul register tile")
TRANSPOSE_TILE = Knob(
    "transpose_tile", (4, 8, 16, 32), 8, "rows of a transpose tile (unrolled; columns: vector)"
)
MIN_PARALLEL = Knob(
    "parallel_from",
    (1024, 4096, 16384, 65536),
    4096,
    "points from which an elementwise or transpose loop runs on all threads (below: one)",
)


def _extent(sch: Any, loop: Any) -> int | None:
    try:
        return int(sch.get(loop).extent)
    except TypeError:
        return None


def _largest_divisor(extent: int, cap: int) -> int:
    for f in (32, 16, 8, 4, 2):
        if f <= cap and extent % f == 0:
            return f
    return 1


def _is_matmul_like(sch: Any, block: Any) -> bool:
    """One trailing reduction var, and an input whose innermost index is the last spatial var."""
    stmt = sch.get(block)
    kinds = [int(iv.iter_type) for iv in stmt.iter_vars]
    if len(kinds) < 3 or kinds[-1] != 2 or any(k != 0 for k in kinds[:-1]):
        return False
    j = stmt.iter_vars[-2].var
    k = stmt.iter_vars[-1].var
    contiguous_j = any(r.region and r.region[-1].min.same_as(j) for r in stmt.reads)
    uses_k = any(any(rng.min.same_as(k) for rng in r.region) for r in stmt.reads)
    return contiguous_j and uses_k


def _schedule_matmul(sch: Any, block: Any, knobs: KnobSource) -> None:
    loops = sch.get_loops(block)
    *outer, i, j, k = loops
    ext_i, ext_j = _extent(sch, i), _extent(sch, j)
    if ext_i is None or ext_j is None:
        return
    vec = _largest_divisor(ext_j, int(knobs.get(VECTOR)))
    rows = _largest_divisor(ext_i, int(knobs.get(ROWS)))
    io, ii = sch.split(i, factors=[None, rows])
    jo, ji = sch.split(j, factors=[None, vec])
    sch.reorder(*outer, io, jo, k, ii, ji)
    consumers = sch.get_consumers(block)
    tile = sch.cache_write(block, 0, "local")
    sch.reverse_compute_at(tile, jo)
    for consumer in consumers:  # the epilogue runs on each finished tile
        if not covers_producers(sch, consumer):
            break
        try:
            sch.reverse_compute_inline(consumer)
        except Exception:  # not elementwise over the tile: it stays a separate loop nest
            break
    sch.parallel(sch.fuse(*outer, io) if outer else io)
    if vec > 1:
        sch.vectorize(ji)
    if rows > 1:
        sch.unroll(ii)
    sch.decompose_reduction(block, k)


def _transposed_axis(sch: Any, block: Any) -> int | None:
    """The position of the output axis that some read's innermost index is (other than
    the innermost output axis), when that read also indexes the innermost output axis
    elsewhere (a transpose, not a broadcast); None when there is none."""
    stmt = sch.get(block)
    ivars = [iv.var for iv in stmt.iter_vars]
    for read in stmt.reads:
        if len(read.region) < 2 or not isinstance(read.region[-1].extent, tirx.IntImm):
            continue
        last = read.region[-1].min
        if int(read.region[-1].extent) != 1:
            continue
        if not any(rng.min.same_as(ivars[-1]) for rng in read.region[:-1]):
            continue
        for pos, var in enumerate(ivars[:-1]):
            if last.same_as(var):
                return pos
    return None


def _schedule_transpose(
    sch: Any, block: Any, loops: list[Any], pos: int, knobs: KnobSource
) -> bool:
    """Tile output axes ``pos`` and the innermost (see module doc); False if they are too
    short to tile."""
    ext_r, ext_c = _extent(sch, loops[pos]), _extent(sch, loops[-1])
    if ext_r is None or ext_c is None or has_conditional_value(sch, block):
        return False
    rows = _largest_divisor(ext_r, int(knobs.get(TRANSPOSE_TILE)))
    vec = _largest_divisor(ext_c, int(knobs.get(VECTOR)))
    if rows < 4 or vec < 4:
        return False
    r0, r1 = sch.split(loops[pos], factors=[None, rows])
    c0, c1 = sch.split(loops[-1], factors=[None, vec])
    others = [lp for i, lp in enumerate(loops[:-1]) if i != pos]
    sch.reorder(*others, r0, c0, r1, c1)
    tiles = sch.fuse(*others, r0, c0)
    count = _extent(sch, tiles) or 1
    if count >= 2 and count * rows * vec >= int(knobs.get(MIN_PARALLEL)):
        sch.parallel(tiles)
    sch.unroll(r1)
    sch.vectorize(c1)
    return True


@template("generic", "llvm", knobs=(VECTOR, ROWS, TRANSPOSE_TILE, MIN_PARALLEL))
def schedule_generic(sch: Any, block: Any, target: Any, knobs: KnobSource) -> None:
    loops = sch.get_loops(block)
    kinds = [int(iv.iter_type) == 0 for iv in sch.get(block).iter_vars]
    if not loops or len(kinds) != len(loops):  # loops already transformed: leave them
        return
    if any(_extent(sch, lp) == 0 for lp in loops):  # an empty tensor: nothing to run
        return
    if _is_matmul_like(sch, block):
        _schedule_matmul(sch, block, knobs)
        return
    spatial = [lp for lp, s in zip(loops, kinds, strict=True) if s]
    if not spatial or not all(kinds[: len(spatial)]):  # reduction loops interleaved
        return
    if all(kinds):
        pos = _transposed_axis(sch, block)
        if pos is not None and _schedule_transpose(sch, block, spatial, pos, knobs):
            return
        _schedule_injective(sch, block, spatial, knobs)
        return
    fused = sch.fuse(*spatial) if len(spatial) > 1 else spatial[0]
    extent = _extent(sch, fused)
    if extent is not None and extent >= 2:
        sch.parallel(fused)


def _schedule_injective(sch: Any, block: Any, loops: list[Any], knobs: KnobSource) -> None:
    """Vectorise the innermost loop when whole vectors fit it; the outer loops run
    in parallel.  Vector lanes never cross the innermost axis: lanes whose
    indices wrap around (``i % n``) in a select miscompile in TVM 0.27's
    vectoriser, so blocks with ``if_then_else`` values are not vectorised."""
    vec = int(knobs.get(VECTOR))
    total = 1
    for lp in loops:
        total *= _extent(sch, lp) or 1
    inner = loops[-1]
    extent = _extent(sch, inner) or 0
    outer = loops[:-1]
    if extent % vec == 0 and extent >= vec and not has_conditional_value(sch, block):
        rest, lanes = sch.split(inner, factors=[None, vec])
        sch.vectorize(lanes)
        outer = [*outer, rest]
    if outer and total >= int(knobs.get(MIN_PARALLEL)):
        sch.parallel(sch.fuse(*outer) if len(outer) > 1 else outer[0])
