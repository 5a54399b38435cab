"""The fused Monarch schedule: one CUDA kernel per two-factor Monarch convolution.

The staged schedule (:mod:`.tensorcore`) launches one kernel per stage and the
stages exchange rows through global memory.  Here every stage of a row runs in
one thread block (``blockIdx.x`` = row) of ``warps x 32`` threads
(``threadIdx.y`` x ``threadIdx.x``, the same extents for every stage):

* the last matmul's (``c4``) row loop is the anchor: the output block (several
  row axes flattened into one; any length; a strided output is refused by TVM,
  see ``schedules/cuda/monarch_fused.py``) is ``reverse_compute_at`` it, every earlier
  stage (``t3``, ..., ``x1``) ``compute_at`` it, so each stage computes exactly
  one whole row (anchoring on the output instead would shrink ``c4`` to the
  points a shorter output reads, no longer whole 16x16 tiles);
* every intermediate (``x1, c1, t1, c2, p, c3, t3, c4``) lives in shared
  memory.  The fp16/bf16 ones (and the staged DFT matrices) in ``shared.dyn``:
  TVM merges a kernel's dynamic shared buffers into one allocation and reuses
  space between buffers whose lifetimes do not overlap
  (``MergeSharedMemoryAllocations``); its CUDA runtime sets
  ``CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES`` at a kernel's first launch
  when it asks for >= 48 KiB (``src/runtime/cuda/cuda_module.cc``), so a block
  may then use the arch's opt-in limit (227 KiB on sm_90, 163 KiB on sm_80);
  below that, static + dynamic must fit in 48 KiB.  The
  float32 results of fp16/bf16 matmuls (``c1 .. c4``) live in static
  ``shared`` instead, one buffer reused by all four (``StorageRewrite``): TVM
  0.27's merge of ``shared.dyn`` buffers of mixed dtypes rewrites the WMMA
  load/store ``tvm_access_ptr`` onto a buffer of the wrong element type
  (``LowerIntrin``: "tvm_access_ptr element type must match the source
  buffer").  fp32 kernels keep everything in ``shared.dyn`` (no WMMA);
* fp16/bf16 matmuls: WMMA 16x16x16; fragments of the per-row operand are loaded
  from shared memory, those of the DFT matrix from global memory (``tables=
  "global"``, L1/L2-resident) or from a copy the block stages in shared memory
  (``tables="shared"``); each warp loops over its output
  tiles (tile ``t`` on warp ``t % warps``) and stores its accumulators to the
  stage's shared buffer; fp32 matmuls are loops over the block's threads (one
  output point per thread and step, the reduction serial);
* the elementwise stages are loops over all threads of the block; the output
  stage (with the epilogue Relax fused into it) writes global memory once;
* ``__syncthreads()`` between stages comes from TVM's storage-sync pass
  (``ThreadSync("shared")`` / ``("shared.dyn")``), which sees the shared-memory
  dependencies (the WMMA loads/stores through their ``tvm_access_ptr``).

The outer plan (N > 4096) runs as three such kernels (:mod:`.fused_outer`), built by
the same :func:`fuse_rows` with the last matmul's result left in global memory
where a later kernel reads it.

WMMA warps must own whole tiles: the warps used are the largest divisor of every
matmul's tile count up to ``warps`` (:func:`warps_used`; ``N / 256`` tiles for
``c4``): 1 at N = 256, 4 at 1024, 8 at 4096 with the default ``warps=8``, 3 for a
48 x 48 image (``fft_conv2d``).
"""

from __future__ import annotations

import math
import re
from typing import Any

from fftc.codegen.tvm_api import Schedule, tirx

from .limits import TILE
from .monarch import MATMUL_BLOCKS
from .tensorcore import WARP, global_wmma_load, shared_wmma_intrinsics, tensorize_tiles

#: scope of the intermediates (and staged DFT matrices) of the fused kernel
SCOPE = "shared.dyn"
#: scope of the matmuls' float32 results when their operands are fp16/bf16 (see module doc)
ACC_SCOPE = "shared"
#: the stages before the output, in dataflow order (producer first)
STAGES = ("x1", "c1", "t1", "c2", "p", "c3", "t3", "c4")
#: the stages of a DFT on the Monarch kernel's forward half (``fftc.kernels.cuda.dft``)
DFT_STAGES = ("x1", "c1", "t1", "c2")


class FusionRefused(Exception):
    """The fused schedule does not apply to this function (the reason is the message)."""


def warps_used(tile_counts: list[int], warps: int, dtype: str) -> int:
    """Warps per thread block: the knob, reduced so every WMMA warp owns whole tiles (the
    largest divisor of every tile count up to the knob: 3 for a 48 x 48 image's 9, 18 and
    18 tiles at the default 8; the same as ``gcd(warps, ...)`` for powers of two)."""
    if dtype == "float32":
        return warps
    common = math.gcd(*tile_counts)
    return max(d for d in range(1, min(warps, common) + 1) if common % d == 0)


def _extent(sch: Schedule, loop: Any) -> int:
    return int(sch.get(loop).extent)


def _bind_threads(sch: Schedule, loop: Any, warps: int) -> None:
    """Split ``loop`` over ``warps x 32`` threads, the rest serial outside."""
    _, ty, tx = sch.split(loop, factors=[None, warps, WARP])
    sch.bind(ty, "threadIdx.y")
    sch.bind(tx, "threadIdx.x")


def _thread_loop(sch: Schedule, block: Any) -> Any:
    """The block's own loops (after the row loop) fused and spread over the threads."""
    loops = sch.get_loops(block)[1:]
    return loops[0] if len(loops) == 1 else sch.fuse(*loops)


def schedule_fused(
    sch: Schedule,
    out_name: str,
    dtype: str,
    warps: int,
    tables: str = "global",
    stages: tuple[str, ...] = STAGES,
) -> int:
    """Fuse the Monarch stages of ``sch`` (blocks named as in ``stages``: :data:`STAGES`,
    or :data:`DFT_STAGES`; output block ``out_name``) into one kernel; returns the warps
    per block used.  ``tables``: where fp16/bf16 matmuls load their DFT-matrix fragments
    from (``global``, or ``shared``: staged into shared memory by the block first)."""
    matmuls = [sch.get_sblock(name) for name in stages if name in MATMUL_BLOCKS]
    used = warps_used([tile_count(sch, block) for block in matmuls], warps, dtype)
    flatten_rows(sch, sch.get_sblock(out_name))
    fuse_rows(sch, stages, out_name, dtype, used, tables)
    return used


def fuse_rows(
    sch: Schedule,
    stages: tuple[str, ...],
    out_name: str | None,
    dtype: str,
    warps: int,
    tables: str,
) -> None:
    """Schedule the blocks ``stages`` (producer first; the last, a matmul, is the
    anchor) as one kernel of ``warps`` warps per thread block: one block per iteration
    of the anchor's first (row) loop, every other stage ``compute_at`` it and kept in
    shared memory (see module doc).  ``out_name``: a block ``reverse_compute_at`` the
    row loop (the anchor's result then in shared memory too), or None: the anchor's
    result stays in its global buffer (read by a later kernel)."""
    blocks = {name: sch.get_sblock(name) for name in stages}
    # the anchor's row loop: a consumer follows it (all its points of that row, however
    # few it keeps), the other stages precede it
    row = sch.get_loops(blocks[stages[-1]])[0]
    out = None if out_name is None else sch.get_sblock(out_name)
    if out is not None:
        sch.reverse_compute_at(out, row, preserve_unit_loops=False)
    for name in reversed(stages[:-1]):
        sch.compute_at(blocks[name], row, preserve_unit_loops=False)
    matmuls = [name for name in stages if is_matmul(sch, blocks[name])]
    _require_whole_rows(sch, blocks, matmuls)
    sch.bind(row, "blockIdx.x")
    if out is not None:
        _bind_threads(sch, _thread_loop(sch, out), warps)
    for name in stages:
        in_shared = out is not None or name != stages[-1]
        if name in matmuls:
            _schedule_matmul(sch, blocks[name], dtype, warps, tables, in_shared)
        else:
            sch.set_scope(blocks[name], 0, SCOPE)
            _bind_threads(sch, _thread_loop(sch, blocks[name]), warps)


def is_matmul(sch: Schedule, block: Any) -> bool:
    """Whether ``block`` is a matmul (has a reduction iterator)."""
    return any(int(iv.iter_type) == 2 for iv in sch.get(block).iter_vars)  # 2: CommReduce


#: an output block's annotation: the axes whose points make one row's point index, in
#: order (default: the last axis): a 2-D convolution's two image axes
#: (``fftc.kernels.cuda.fft_conv2d``), a DFT's transformed axis and its [Re, Im] axis
#: (``fftc.kernels.cuda.dft``)
POINT_AXES_ATTR = "fftc.monarch.point_axes"


def flatten_rows(sch: Schedule, block: Any) -> None:
    """Give an output block with several row axes (e.g. ``(B, H, L)``) one row axis, so
    ``reverse_compute_at`` can map it onto the stages' flat row ``r``: ``(row, point)``,
    the row the axes not in :data:`POINT_AXES_ATTR` in order, the point those."""
    node = sch.get(block)
    dims = [iv.dom.extent for iv in node.iter_vars]
    annotated = node.annotations.get(POINT_AXES_ATTR)
    points = (len(dims) - 1,) if annotated is None else tuple(int(a) for a in annotated)
    if len(dims) - len(points) <= 1 and points == tuple(range(len(dims) - len(points), len(dims))):
        return  # already (row, point) or (point,)

    def rows_then_point(*index: Any) -> tuple[Any, Any]:
        row: Any = None
        for axis, (i, extent) in enumerate(zip(index, dims, strict=True)):
            if axis not in points:
                row = i if row is None else row * extent + i
        point = index[points[0]]
        for axis in points[1:]:
            point = point * dims[axis] + index[axis]
        return (point,) if row is None else (row, point)  # type: ignore[return-value]

    dtype = str(dims[0].ty.dtype)
    index_map = tirx.IndexMap.from_func(rows_then_point, ndim=len(dims), index_dtype=dtype)
    sch.transform_block_layout(block, index_map)


def tile_count(sch: Schedule, block: Any) -> int:
    """Output tiles (16x16) of one row of a matmul block, before fusion."""
    _, i, j, _ = sch.get_loops(block)
    return (_extent(sch, i) // TILE) * (_extent(sch, j) // TILE)


def _require_whole_rows(sch: Schedule, blocks: dict[str, Any], matmuls: list[str]) -> None:
    """After compute_at every matmul must still cover its whole row (tile multiples)."""
    for name in matmuls:
        _, i, j, k = sch.get_loops(blocks[name])
        for loop in (i, j, k):
            if _extent(sch, loop) % TILE:
                raise FusionRefused(
                    f"stage {name} computes a partial row ({_extent(sch, loop)} points "
                    f"along one axis, not a multiple of {TILE})"
                )


def _schedule_matmul(
    sch: Schedule, block: Any, dtype: str, warps: int, tables: str, in_shared: bool = True
) -> None:
    """``in_shared``: the result in shared memory, else in its own (global) buffer."""
    if dtype == "float32":
        _matmul_on_cuda_cores(sch, block, warps, in_shared)
    else:
        _matmul_on_tensor_cores(sch, block, dtype, warps, tables, in_shared)


def _matmul_on_cuda_cores(sch: Schedule, block: Any, warps: int, in_shared: bool) -> None:
    """One output point per thread and step, the reduction serial; result in shared
    memory if ``in_shared``."""
    if in_shared:
        sch.set_scope(block, 0, SCOPE)
    _, i, j, k = sch.get_loops(block)
    _bind_threads(sch, sch.fuse(i, j), warps)
    sch.decompose_reduction(block, k)


def _constant_operand(sch: Schedule, block: Any) -> int:
    """Which read of a matmul block is the DFT matrix (the one not in shared memory)."""
    for index, region in enumerate(sch.get(block).reads):
        if str(region.source.scope()) not in (SCOPE, ACC_SCOPE):
            return index
    raise FusionRefused(f"matmul {sch.get(block).name_hint} has no constant operand")


def _matmul_on_tensor_cores(
    sch: Schedule, block: Any, dtype: str, warps: int, tables: str, in_shared: bool
) -> None:
    """WMMA: tiles over warps, the per-row operand's fragments from shared memory, the
    DFT matrix's from ``tables`` memory, accumulators stored to shared memory (or, not
    ``in_shared``, straight to the block's global buffer)."""
    acc_scope = ACC_SCOPE if in_shared else None
    intrin = shared_wmma_intrinsics(dtype, acc_scope or "global")
    row, i, j, k = sch.get_loops(block)
    i0, i1 = sch.split(i, factors=[None, TILE])
    j0, j1 = sch.split(j, factors=[None, TILE])
    k0, k1 = sch.split(k, factors=[None, TILE])
    sch.reorder(i0, j0, k0, i1, j1, k1)
    inner = block
    outer = sch.blockize(i1)
    tile = sch.fuse(i0, j0)
    _, warp = sch.split(tile, factors=[None, warps])
    sch.bind(warp, "threadIdx.y")

    const = _constant_operand(sch, outer)
    if tables == "shared":
        copy = sch.cache_read(outer, const, SCOPE)
        sch.compute_at(copy, row, preserve_unit_loops=False)
        _bind_threads(sch, _thread_loop(sch, copy), warps)
    load = {0: intrin["load_a"], 1: intrin["load_b"]}
    if tables == "global":
        load[const] = global_wmma_load(dtype, is_b=const == 1)
    tensorize_tiles(sch, outer, inner, k0, warp, intrin, (load[0], load[1]), acc_scope)


#: shared allocations as TVMScript prints them after lowering (shape, dtype)
_SHARED_ALLOC = re.compile(
    r'alloc_buffer\(\(([\d, ]+)\),(?: "(\w+)",)? scope="(shared(?:\.dyn)?)"\)'
    r'|alloc_shared\(\(([\d, ]+)\)(?:, "(\w+)")?\)'
)


def shared_memory_bytes(mod: Any, target: Any) -> dict[str, tuple[int, int]]:
    """Shared memory per thread block of each kernel of the scheduled ``mod`` after
    TVM's lowering (``shared.dyn`` merged, ``shared`` reused): ``{function: (static,
    dynamic) bytes}`` (ptxas reports only the static part)."""
    from fftc.codegen.tvm_api import tvm

    # SplitHostDevice splits out kernels only of functions with a global symbol
    named = {g: f.with_attr("global_symbol", g.name_hint) for g, f in mod.functions_items()}
    with target:
        bound = tvm.tirx.transform.BindTarget(target)(tvm.ir.IRModule(named))
        lowered = tvm.s_tir.pipeline.default_s_tir_pipeline()[0](bound)
    sizes: dict[str, tuple[int, int]] = {}
    for gvar, func in lowered.functions_items():
        if "calling_conv" not in func.attrs or int(func.attrs["calling_conv"]) != 2:
            continue  # not a device kernel (2: kDeviceKernelLaunch)
        used = [0, 0]
        for m in _SHARED_ALLOC.finditer(func.script()):
            shape, dtype = m.group(1) or m.group(4), m.group(2) or m.group(5) or "float32"
            elements = math.prod(int(d) for d in shape.replace(" ", "").strip(",").split(","))
            used[m.group(3) == "shared.dyn"] += elements * tvm.runtime.DataType(dtype).bits // 8
        sizes[str(gvar.name_hint)] = (used[0], used[1])
    return sizes


def schedule_module(mod: Any, dtype: str, target: Any, fused: bool = True) -> Any:
    """The standalone kernel's module (``monarch.build_monarch_module``) scheduled: fused
    (the ``monarch.fused`` template, default knobs) unless ``fused`` is False or the
    template refuses it, else staged (one kernel per stage)."""
    from fftc.schedules.base import DefaultKnobs
    from fftc.schedules.cuda.monarch_fused import apply_fused

    if fused:
        sch = Schedule(mod)
        try:
            apply_fused(sch, sch.get_sblock("out"), target, DefaultKnobs())
            return sch.mod
        except Exception:  # refused (FusionRefused) or a TVM primitive failed: staged
            pass
    return schedule_staged(mod, dtype)


def schedule_staged(mod: Any, dtype: str) -> Any:
    """One kernel per stage: the WMMA / thread templates of :mod:`.tensorcore`."""
    from .monarch import ELEMENTWISE_BLOCKS, ELEMENTWISE_THREADS
    from .tensorcore import schedule_elementwise, schedule_matmul

    sch = Schedule(mod)
    for name in MATMUL_BLOCKS:
        schedule_matmul(sch, sch.get_sblock(name), dtype)
    for name in ELEMENTWISE_BLOCKS:
        schedule_elementwise(sch, sch.get_sblock(name), ELEMENTWISE_THREADS)
    return sch.mod
