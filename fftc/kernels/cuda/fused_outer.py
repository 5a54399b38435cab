"""The fused schedule of the outer Monarch plan (N > 4096): three CUDA kernels, not thirteen.

The outer plan (:mod:`.outer`) has thirteen stages over two batch axes, ``S =
row*chunks + c`` (a column chunk of the outer matmuls) and ``B = row*n0 + k0``
(one inner Monarch FFT).  A stage reads its producer across the other axis
(``t0`` gathers ``a0`` over the chunks of a row, ``t4`` gathers ``c4`` over
``k0``), so the plan runs as three kernels that exchange data through global
memory only at those two points, each built like the two-factor fused kernel
(:func:`.fused.fuse_rows`: one thread block per anchor row, the stages before
the anchor ``compute_at`` its row loop in shared memory, WMMA for fp16/bf16,
loops over the block's threads for fp32):

1. outer forward, per ``S``: ``x0`` (the chunk of the signal, shared memory)
   then ``a0`` (WMMA; its float32 result stored to global memory);
2. inner, per ``B``: ``t0`` (reads ``a0`` from global memory), ``c1``, ``t1``,
   ``c2``, ``p``, ``c3``, ``t3``, ``c4`` exactly as the two-factor kernel with
   ``t0`` for ``x1``; ``c4``'s accumulators are stored to global memory;
3. outer inverse, per ``S``: ``t4`` (reads ``c4``, shared memory), ``y0`` and
   the output block (with any epilogue Relax fused into it) ``reverse_compute_at``
   ``y0``'s row loop, ``y0`` then in shared memory.

The output reads ``y0[r*chunks + (i % M)//width, i // M, i % width]``, not an
affine map of ``S``.  TVM's ``reverse_compute_at`` at ``y0``'s ``S`` loop does
not refuse it but over-approximates the region (it computes points of other
chunks before they exist: wrong code), so the output block is first re-indexed
(``transform_block_layout``) by ``(S, i // M, i % width)``: a bijection when its
length is a multiple of ``M`` (the causal ``L = N/2`` is; checked first).  TVM
substitutes the inverse map unsimplified, and its region-cover check would then
refuse the later ``compute_at`` steps in the scope; a ``reindex`` of the read
(whose copy TVM writes with simplified indices) inlined back gives the output
``y0[S, j, w]``, checked before it is anchored.  A length that is not a
multiple of ``M``, or a strided output, keeps the output as its own elementwise
kernel (four kernels), ``y0`` then in global memory.

Shared memory per thread block, fp16/bf16: outer forward ``2 n0 width`` bytes
(``x0``), inner ``8 M`` static (one float32 matmul result, reused) + ``4 M``
dynamic as the two-factor kernel of length ``M``, outer inverse ``4 n0 width``
static (``y0``) + ``4 n0 width`` dynamic (``t4``); fp32 keeps everything dynamic.
"""

from __future__ import annotations

from typing import Any

from fftc.codegen.tvm_api import Analyzer, Schedule, tirx

from .fused import flatten_rows, fuse_rows, is_matmul, tile_count, warps_used

#: the outer plan's stages before the output, in dataflow order (= ``outer.outer_stages``)
OUTER_STAGES = ("x0", "a0", "t0", "c1", "t1", "c2", "p", "c3", "t3", "c4", "t4", "y0")
#: the stages of each kernel, producer first, the anchor matmul last
KERNELS = (
    ("x0", "a0"),
    ("t0", "c1", "t1", "c2", "p", "c3", "t3", "c4"),
    ("t4", "y0"),
)
#: threads per block of the output when it is its own kernel (= ``monarch.ELEMENTWISE_THREADS``)
OUTPUT_THREADS = 256


def schedule_fused_outer(
    sch: Schedule, out_name: str, dtype: str, warps: int, tables: str = "global"
) -> tuple[list[int], str | None]:
    """Schedule the outer plan's function of output block ``out_name`` as three kernels
    (see module doc); returns the warps per block of each kernel and, when the output
    could not join the last kernel (its own, fourth kernel), why."""
    used = [warps_used(_tiles(sch, stages), warps, dtype) for stages in KERNELS]
    out = sch.get_sblock(out_name)
    flatten_rows(sch, out)
    separate = _index_by_chunk(sch, out)
    for stages, kernel_warps in zip(KERNELS[:-1], used, strict=False):
        fuse_rows(sch, stages, None, dtype, kernel_warps, tables)
    fuse_rows(sch, KERNELS[-1], out_name if separate is None else None, dtype, used[-1], tables)
    if separate is not None:
        from .tensorcore import schedule_elementwise

        schedule_elementwise(sch, sch.get_sblock(out_name), OUTPUT_THREADS)
    return used, separate


def _tiles(sch: Schedule, stages: tuple[str, ...]) -> list[int]:
    """Output tiles (16x16) per thread block of each matmul among ``stages``."""
    blocks = [sch.get_sblock(name) for name in stages]
    return [tile_count(sch, b) for b in blocks if is_matmul(sch, b)]


def _index_by_chunk(sch: Schedule, out: Any) -> str | None:
    """Re-index the (flattened) output block by ``y0``'s chunk ``S`` so that it reads
    ``y0[S, j, w]`` (see module doc): None when done, else why the output stays apart
    (then ``sch`` is unchanged: the steps are tried on a copy first)."""
    y0 = sch.get(sch.get_sblock("y0"))
    t0 = sch.get(sch.get_sblock("t0"))
    width = int(y0.iter_vars[2].dom.extent)
    m = int(t0.iter_vars[1].dom.extent) // 2 * int(t0.iter_vars[2].dom.extent)  # n1 * n2
    length = int(sch.get(out).iter_vars[-1].dom.extent)
    if length % m:
        return f"the output's length {length} is not a multiple of the inner length {m}"
    trial = sch.copy()
    try:
        _chunk_steps(trial, trial.get_sblock(sch.get(out).name_hint), m, width)
    except Exception as err:  # TVM: not a bijective affine map
        return f"the output is not indexed by chunks (TVM: {str(err).strip().splitlines()[-1]})"
    if not _reads_own_point(trial.get(trial.get_sblock(sch.get(out).name_hint)), "y0"):
        return "the output does not read y0 at its own point (a strided output)"
    _chunk_steps(sch, out, m, width)
    return None


def _chunk_steps(sch: Schedule, out: Any, m: int, width: int) -> None:
    """``out`` iterated over ``(S, i // M, i % width)``; its reads of ``y0`` simplified
    (TVM substitutes the inverse map unsimplified, and its region-cover check would
    then refuse the later ``compute_at`` steps; ``reindex`` simplifies the copy's
    indices, inlining the copy gives them to ``out``)."""
    chunks = m // width
    dtype = str(sch.get(out).iter_vars[0].dom.extent.ty.dtype)

    def by_chunk(r: Any, i: Any) -> tuple[Any, Any, Any]:
        return r * chunks + (i % m) // width, i // m, i % width

    sch.transform_block_layout(out, tirx.IndexMap.from_func(by_chunk, ndim=2, index_dtype=dtype))
    (index,) = [k for k, r in enumerate(sch.get(out).reads) if str(r.source.name) == "y0"]
    sch.compute_inline(sch.reindex(out, ("read", index)))


def _reads_own_point(block: Any, buffer: str) -> bool:
    """Whether every read of ``buffer`` by ``block`` is the point of its iterators."""
    analyzer = Analyzer()
    for iv in block.iter_vars:
        analyzer.bind(iv.var, iv.dom)
    point = [iv.var for iv in block.iter_vars]
    regions = [r for r in block.reads if str(r.source.name) == buffer]
    for region in regions:
        if len(region.region) != len(point):
            return False
        for rng, var in zip(region.region, point, strict=True):
            if not analyzer.can_prove_equal(rng.min, var) or not analyzer.can_prove_equal(
                rng.extent, 1
            ):
                return False
    return bool(regions)
