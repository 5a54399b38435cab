"""CPU schedule templates for fftc's FFT kernel (``fftc.kernels.fft``).

``fft.stage``: one Stockham stage, a block over ``(b, c, f)`` (batch, real or
imaginary part, flat index) whose annotations give the radix ``R`` and span
``L``.  The template splits ``f = (q*R + r)*L + k`` into three loops, which
makes the block's index arithmetic affine, then:

* unrolls ``r`` and ``c`` just outside the vector loop: the ``Select``s of
  the block body fold to constants, and the ``2R`` outputs of a butterfly
  share its loads, twiddles and sub-expressions (LLVM value numbering);
* vectorises ``k`` (loads ``Y[t*M + q*L + k]`` and stores
  ``Y'[(q*R + r)*L + k]`` are contiguous in ``k``) with the largest power of
  two ``<= V`` dividing ``L`` (at least 4); in the first stage (``L = 1``) it
  vectorises ``q`` instead: contiguous loads, stores with stride ``R`` (which
  LLVM partly turns into shuffles); other spans stay scalar (only ``L = 2``
  with the default radix order);
* fuses the remaining outer loops (batch, ``q``, outer ``k``) into one
  parallel loop when the stage is large enough to pay for the threads.

``fft.pack``: a source materialised as a planar ``(B, 2, N)`` tensor (the
irfft pre-processing): ``c`` unrolled, ``n`` vectorised.

``fft.post``: the output block over the caller's layout ``(..., n, ..., c)``
(annotated with the transformed ``axis``).  The complex part ``c`` is
unrolled and ``n`` vectorised: the values are read contiguously from the
planar core result and LLVM turns the stride-2 stores of the real and
imaginary vectors into shuffles.  Onesided outputs have ``n/2 + 1`` points:
that loop is partitioned into a vectorisable ``[0, n/2)`` part and the last
point.  For the half-length irfft (annotation ``pairs``) ``n`` is split into
``(j, p)`` with ``out[2j + p] = Re/Im z[j]`` and ``p`` unrolled.  Elementwise
consumers fused into the block by Relax keep its loops, so the template still
applies.

**Group by group** (knob ``fft.rows``, see :func:`group_lanes`): when the
batch is one dimension of the output and divisible by 4-8 lanes, the
``fft.post`` template computes the whole FFT per group of ``V`` transforms
instead (every intermediate laid out ``(b // V, c, f, b % V)``, all stages
inside one parallel group loop, the ``V`` transforms as the vector lanes), and
the stage and pack templates leave their blocks to it.  The fused FFT
convolutions (``fft_conv.py``, ``fft_conv2d.py``) use the same
:func:`lane_stage`.

Knob values may be MetaSchedule random variables; decisions that pick a
strategy read their current value with ``sch.get``.
"""

from __future__ import annotations

import math
from typing import Any

from fftc.kernels.fft import AXIS_ATTR, PAIRS_ATTR
from fftc.kernels.fft.stockham import RADIX_ATTR, SPAN_ATTR

from ..base import KERNEL_ATTR, Knob, KnobSource, template

VECTOR = Knob("fft.vector_width", (4, 8, 16), 16, "fp32 lanes of the vectorised loop")
PARALLEL_MIN = Knob(
    "fft.parallel_min",
    (8192, 32768, 131072, 1 << 30),
    32768,
    # 2 cores: a 16384-point stage ran no faster on two threads (each stage
    # mixes the whole array, so the threads trade cache lines), 32768 did
    "a block with fewer points (batch x length) runs on one thread; the last choice: never",
)
ROWS = Knob(
    "fft.rows",
    (1, 4, 8, 16),
    8,
    "transforms computed together with the batch as the vector lanes, every stage of a "
    "group in cache (1: each stage over the whole batch, vectorised along the signal)",
)
#: grouped transforms keep a group's buffer (rows x n complex points) within this many bytes
GROUP_BYTES = 256 * 1024
#: the fewest lanes worth a vector loop
MIN_LANES = 4


def _value(sch: Any, knob_value: Any) -> int:
    """The integer value of a knob (a plain value or a sampled random variable)."""
    return int(knob_value) if isinstance(knob_value, int) else int(sch.get(knob_value))


def _extent(sch: Any, loop: Any) -> int:
    return int(sch.get(loop).extent)


def _width(sch: Any, block: Any, knobs: KnobSource) -> int:
    """Vector lanes for the block's output dtype (the knob counts fp32 lanes)."""
    bits = int(sch.get(block).writes[0].source.dtype.bits)
    return max(1, _value(sch, knobs.get(VECTOR)) * 32 // bits)


def _lanes(extent: int, width: int) -> int:
    """The largest power of two ``<= width`` dividing ``extent``; 1 if below 4."""
    lanes = width
    while lanes >= MIN_LANES:
        if extent % lanes == 0:
            return lanes
        lanes //= 2
    return 1


def _parallel(sch: Any, loops: list[Any], points: int, knobs: KnobSource) -> None:
    """Fuse ``loops`` (adjacent, outermost first) and run them in parallel if worth it."""
    if not loops:
        return
    fused = sch.fuse(*loops) if len(loops) > 1 else loops[0]
    if points >= _value(sch, knobs.get(PARALLEL_MIN)) and _extent(sch, fused) > 1:
        sch.parallel(fused)


def kernel_tag(sch: Any, block: Any) -> str:
    """The block's ``fftc.kernel`` annotation ("" if none)."""
    return str(sch.get(block).annotations.get(KERNEL_ATTR, ""))


def tagged_blocks(sch: Any, *tags: str) -> list[Any]:
    """The root's child blocks whose ``fftc.kernel`` tag is one of ``tags``, in order."""
    return [b for b in sch.get_child_blocks(sch.get_sblock("root")) if kernel_tag(sch, b) in tags]


def _post_block(sch: Any) -> Any | None:
    blocks = sch.get_child_blocks(sch.get_sblock("root"))
    return next((b for b in blocks if kernel_tag(sch, b) == "fft.post"), None)


def group_lanes(sch: Any, knobs: KnobSource) -> int:
    """Transforms per group when the whole FFT is computed group by group (see
    :func:`schedule_grouped`), else 1: the batch must be one dimension of the
    output (besides unit ones), a multiple of the lanes, with at least two groups,
    each group's buffers within ``GROUP_BYTES``."""
    post = _post_block(sch)
    if post is None:
        return 1
    annotations = sch.get(post).annotations
    if AXIS_ATTR not in annotations or bool(int(annotations[PAIRS_ATTR])):
        return 1
    axis = int(annotations[AXIS_ATTR])
    out_shape = [int(d) for d in sch.get(post).writes[0].source.shape]
    if sum(d > 1 for d in (*out_shape[:axis], *out_shape[axis + 1 : -1])) > 1:
        return 1  # the fused batch index must be one loop (else its region is not a range)
    name = sch.get(post).name_hint
    producers = [
        b for b in sch.get_child_blocks(sch.get_sblock("root")) if sch.get(b).name_hint != name
    ]
    shapes = [tuple(int(d) for d in sch.get(b).writes[0].source.shape) for b in producers]
    if not shapes or any(len(sh) != 3 or sh[0] != shapes[0][0] for sh in shapes):
        return 1
    bits = int(sch.get(post).writes[0].source.dtype.bits)
    wanted = _value(sch, knobs.get(ROWS)) * 32 // bits
    batch, length = shapes[0][0], max(sh[2] for sh in shapes)
    # the most lanes up to the knob that divide the batch (7 for 385 transforms: LLVM
    # pads a 7-lane vector to 8); fewer than MIN_LANES is not worth it
    lanes = next((d for d in range(wanted, MIN_LANES - 1, -1) if batch % d == 0), 1)
    fits = lanes * length * 2 * bits // 8 <= GROUP_BYTES
    return lanes if wanted > 1 and lanes > 1 and batch >= 2 * lanes and fits else 1


def _point_loops(sch: Any, block: Any, lf: Any) -> list[Any]:
    """A stage's point loop ``f`` split into ``(q, k, r)`` (``r`` unrolled) where its
    extent allows; a pruned last stage (fewer outputs kept) into ``(k, r)``."""
    annotations = sch.get(block).annotations
    radix, span = int(annotations[RADIX_ATTR]), int(annotations[SPAN_ATTR])
    extent = _extent(sch, lf)
    if extent % (radix * span) == 0:
        lq, lr, lk = sch.split(lf, factors=[extent // (radix * span), radix, span])
        sch.unroll(lr)
        return [lq, lk, lr]
    if extent > span:  # r's last iteration may be partial
        lr, lk = sch.split(lf, factors=[None, span])
        sch.unroll(lr)
        return [lk, lr]
    return [lf]


def lane_stage(sch: Any, block: Any, group: Any) -> None:
    """A stage (or, untagged, a pack block) computed for ``V`` transforms at once
    inside ``group``: its loops there are ``(lane, *batch, c, f)``; the lane (the
    ``V`` transforms) becomes the innermost, vectorised loop."""
    loops = sch.get_loops(block)
    target = sch.get(group)
    index = next(i for i, lp in enumerate(loops) if sch.get(lp).same_as(target))
    lane, *batch, lc, lf = loops[index + 1 :]
    is_stage = kernel_tag(sch, block).endswith(".stage")
    points = _point_loops(sch, block, lf) if is_stage else [lf]
    sch.reorder(*batch, *points, lc, lane)
    sch.unroll(lc)
    if _extent(sch, lane) > 1:
        sch.vectorize(lane)


def lay_out_lanes(sch: Any, block: Any, lanes: int) -> None:
    """Batch ``b`` of a ``(b, c, f)`` intermediate -> ``(b // V, c, f, b % V)``."""
    sch.transform_layout(block, ("write", 0), lambda b, c, f: (b // lanes, c, f, b % lanes))


def schedule_grouped(sch: Any, block: Any, lanes: int) -> None:
    """The whole FFT group by group: the output's batch loops fused and split into
    ``(group, lane)``, every stage computed inside the parallel group loop with the
    ``V`` transforms as the innermost, vectorised loop (one full vector per
    butterfly operand whatever the span; the group's buffers stay in cache)."""
    axis = int(sch.get(block).annotations[AXIS_ATTR])
    loops = sch.get_loops(block)
    rows = [*loops[:axis], *loops[axis + 1 : -1]]
    points, lc = loops[axis], loops[-1]
    sch.reorder(*rows, points, lc)
    row = sch.fuse(*rows) if len(rows) > 1 else rows[0]
    group, lane = sch.split(row, factors=[None, lanes])
    sch.reorder(group, points, lc, lane)
    sch.unroll(lc)
    sch.vectorize(lane)
    sch.parallel(group)
    producers = tagged_blocks(sch, "fft.stage", "fft.pack")
    for producer in producers:
        lay_out_lanes(sch, producer, lanes)
    for producer in reversed(producers):
        sch.compute_at(producer, group, preserve_unit_loops=True)
    for producer in producers:
        lane_stage(sch, producer, group)


@template("fft.stage", "llvm", knobs=(VECTOR, PARALLEL_MIN, ROWS))
def schedule_stage(sch: Any, block: Any, target: Any, knobs: KnobSource) -> None:
    if group_lanes(sch, knobs) > 1:
        return  # the output block's template computes the stages group by group
    annotations = sch.get(block).annotations
    radix, span = int(annotations[RADIX_ATTR]), int(annotations[SPAN_ATTR])
    loops = sch.get_loops(block)
    if len(loops) != 3:
        return
    lb, lc, lf = loops
    length = _extent(sch, lf)
    points = _extent(sch, lb) * length
    groups = length // (radix * span)
    lq, lr, lk = sch.split(lf, factors=[groups, radix, span])
    width = _width(sch, block, knobs)
    lanes = _lanes(span, width)
    if lanes > 1:
        lko, lki = sch.split(lk, factors=[None, lanes])
        sch.reorder(lb, lq, lko, lr, lc, lki)
        sch.vectorize(lki)
        outer = [lb, lq, lko]
    elif span == 1 and _lanes(groups, width) > 1:
        # the first stage: vectorise q (contiguous loads, stores with stride R)
        lqo, lqi = sch.split(lq, factors=[None, _lanes(groups, width)])
        sch.reorder(lb, lqo, lk, lr, lc, lqi)
        sch.vectorize(lqi)
        outer = [lb, lqo]
    else:
        # L = 2, or L without a power-of-two factor >= 4.  (Vectorising q and k
        # fused gives non-affine vector indices, on which TVM's CSE pass
        # breaks the let bindings of the block body.)
        sch.reorder(lb, lq, lk, lr, lc)
        outer = [lb, lq]
    sch.unroll(lr)
    sch.unroll(lc)
    _parallel(sch, outer, points, knobs)


def _writes_function_output(sch: Any, block: Any) -> bool:
    """Whether the block writes a parameter of the function (not an intermediate).

    Loop-partitioning a block whose output is an intermediate buffer leaves TVM
    0.27 placing that buffer's allocation where a later reader cannot see it
    ("used before its definition"); intermediates are not partitioned.
    """
    written = sch.get(block).writes[0].source
    root = sch.get(sch.get_sblock("root"))
    return not any(buf.same_as(written) for buf in root.alloc_buffers)


@template("fft.post", "llvm", knobs=(VECTOR, PARALLEL_MIN, ROWS))
def schedule_post(sch: Any, block: Any, target: Any, knobs: KnobSource) -> None:
    loops = sch.get_loops(block)
    annotations = sch.get(block).annotations
    if AXIS_ATTR not in annotations or len(sch.get(block).iter_vars) != len(loops):
        return
    lanes = group_lanes(sch, knobs)
    if lanes > 1:
        schedule_grouped(sch, block, lanes)
        return
    axis = int(annotations[AXIS_ATTR])
    pairs = bool(int(annotations[PAIRS_ATTR]))
    extents = [_extent(sch, lp) for lp in loops]
    points = math.prod(extents)
    width = _width(sch, block, knobs)
    extent = extents[axis]
    outer = loops[:axis]
    fusable: list[Any] | None = None
    if (
        not pairs
        and _writes_function_output(sch, block)
        and _lanes(extent, width) == 1
        and extent > width
        and _lanes(extent - 1, width) > 1
    ):
        # n/2 + 1 points: vectorise [0, n/2), the last point stays scalar.  The
        # partitions are new blocks, nested below the loops outside ``axis``.
        name, var = sch.get(block).name_hint, sch.get(loops[axis]).loop_var.name
        sch.loop_partition(loops[axis], factors=[extent - 1, None])
        loops = [*outer, *sch.get_loops(sch.get_sblock(f"{name}_{var}0"))]
        extent -= 1
        fusable = outer if math.prod(extents[:axis]) > 1 else []
    points_loop, inner, lc = loops[axis], loops[axis + 1 : -1], loops[-1]
    unrolled = [lc]
    if pairs:  # out[2j + p] = Re / Im of one value: p joins the unrolled loops
        points_loop, lp = sch.split(points_loop, factors=[None, 2])
        unrolled = [lp, lc]
        extent //= 2
    lanes = _lanes(extent, width)
    if lanes > 1:
        lo, li = sch.split(points_loop, factors=[None, lanes])
        sch.reorder(lo, *inner, *unrolled, li)
        sch.vectorize(li)
        inside = [lo, *inner]
    else:
        sch.reorder(points_loop, *inner, *unrolled)
        inside = [points_loop, *inner]
    for loop in unrolled:
        sch.unroll(loop)
    if fusable is None:
        _parallel(sch, [*outer, *inside], points, knobs)
    else:  # the partition's loops cannot fuse with those outside it
        _parallel(sch, fusable or inside, points, knobs)


@template("fft.pack", "llvm", knobs=(VECTOR, PARALLEL_MIN, ROWS))
def schedule_pack(sch: Any, block: Any, target: Any, knobs: KnobSource) -> None:
    if group_lanes(sch, knobs) > 1:
        return  # computed group by group with the stages
    loops = sch.get_loops(block)
    if len(loops) != 3:
        return
    lb, lc, ln = loops
    points = _extent(sch, lb) * _extent(sch, ln)
    lanes = _lanes(_extent(sch, ln), _width(sch, block, knobs))
    if lanes > 1:
        lno, lni = sch.split(ln, factors=[None, lanes])
        sch.reorder(lb, lno, lc, lni)
        sch.vectorize(lni)
        outer = [lb, lno]
    else:
        sch.reorder(lb, ln, lc)
        outer = [lb, ln]
    sch.unroll(lc)
    _parallel(sch, outer, points, knobs)
