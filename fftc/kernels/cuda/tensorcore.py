"""Schedules for the Monarch kernel's stages: batched matmuls on tensor cores
(WMMA 16x16x16, fp16/bf16 operands, fp32 accumulators) and elementwise stages.

A matmul block ``C[r, i, j] = sum_k A[.., i, k] * B[.., k, j]`` (one operand
a per-row tensor, the other a constant matrix, both in the compute dtype):

* one thread block per row ``r`` (``blockIdx.x``), one warp per 16x16 output
  tile (``threadIdx.y``), the k loop in 16-wide steps;
* both operands of the row are staged in shared memory by the whole block
  (``threadIdx.y`` x 32 lanes), then loaded into ``wmma.matrix_a/b``
  fragments (when both do not fit in 48 KiB, as the outer plan's DFT matrix for
  n0 > 64, the constant's fragments are loaded straight from global memory);
  the accumulator fragment is filled with zeros, updated with
  ``wmma::mma_sync`` and stored to global memory.

fp32 matmuls get a plain thread-per-output schedule (CUDA cores).
"""

from __future__ import annotations

import threading
from typing import Any

from fftc.codegen.tvm_api import Schedule, cuda_tensor_intrinsics

from .limits import stages_both

TILE = 16
WARP = 32

#: names of the WMMA intrinsics fftc registered in this process
_REGISTERED: set[str] = set()
#: fftc's bf16 WMMA compute intrinsic (TVM 0.27 registers fp16 and int8 ones only)
BF16_SYNC = "fftc_wmma_sync_16x16x16_bf16bf16f32"


def wmma_intrinsics(
    dtype: str, load_scope: str = "shared", store_scope: str = "global"
) -> dict[str, str]:
    """The WMMA intrinsic names for ``dtype`` operands loaded from ``load_scope`` and
    fp32 accumulators stored to ``store_scope``.

    TVM 0.27 registers fp16 (and int8) WMMA intrinsics only; the bf16 ones are
    registered here from TVM's own generators."""
    tc = _tensor_intrinsics()
    if dtype == "float16":
        group: dict[str, str] = tc.get_wmma_intrin_group(
            load_scope=load_scope, store_scope=store_scope, in_dtype="float16",
            out_dtype="float32", trans_b=False,
        )  # fmt: skip
        return group
    if dtype != "bfloat16":
        raise ValueError(f"no WMMA intrinsics for {dtype}")
    if BF16_SYNC not in _REGISTERED:
        sync = tc.get_wmma_sync_intrin(16, 16, 16, "bfloat16", "float32", False)
        tc.TensorIntrin.register(BF16_SYNC, *sync)
        _REGISTERED.add(BF16_SYNC)
    return {
        "load_a": _load(dtype, load_scope, is_b=False),
        "load_b": _load(dtype, load_scope, is_b=True),
        "compute": BF16_SYNC,
        "init": "wmma_fill_16x16x16_f32",
        "store": f"wmma_store_16x16x16_f32_{store_scope.replace('.', '_')}",
    }


def shared_wmma_intrinsics(dtype: str, store_scope: str) -> dict[str, str]:
    """WMMA intrinsics of the fused kernel (``fused.py``): fragments loaded from
    ``shared.dyn``, accumulators stored to ``store_scope``."""
    return wmma_intrinsics(dtype, "shared.dyn", store_scope)


def global_wmma_load(dtype: str, is_b: bool) -> str:
    """A WMMA fragment load straight from global memory (registered here from TVM's
    generator; TVM registers shared-memory loads only)."""
    return _load(dtype, "global", is_b)


def _load(dtype: str, scope: str, is_b: bool) -> str:
    """fftc's WMMA fragment load of ``dtype`` from ``scope``, registered on first use."""
    short = {"float16": "f16", "bfloat16": "bf16"}[dtype]
    name = f"fftc_wmma_load_16x16x16_{short}_{'b' if is_b else 'a'}_{scope.replace('.', '_')}"
    if name not in _REGISTERED:
        tc = _tensor_intrinsics()
        tc.TensorIntrin.register(name, *tc.get_wmma_load_intrin(16, 16, 16, dtype, scope,
                                                                 is_b, False))  # fmt: skip
        _REGISTERED.add(name)
    return name


def register_all() -> None:
    """Register every WMMA intrinsic fftc's CUDA templates may name, so that a logged
    schedule (a trace naming them) replays in a process that has not run the
    templates yet (``fftc compile --tuning-log`` for a CUDA target)."""
    for dtype in ("float16", "bfloat16"):
        wmma_intrinsics(dtype)
        for scope in ("shared", "shared.dyn", "global"):
            shared_wmma_intrinsics(dtype, scope)
        for is_b in (False, True):
            global_wmma_load(dtype, is_b)


def _tensor_intrinsics() -> Any:
    """TVM's CUDA tensor intrinsics module, imported from a fresh thread.

    Importing it parses ~250 TVMScript functions, and TVM's parser calls
    ``inspect.stack()`` for each: its cost grows with the caller's stack depth and
    module count (measured: ~20 s from a shallow stack, 30-160 s from inside the
    CLI or pytest).  A new thread starts with an almost empty stack."""
    loaded: list[Any] = []
    failed: list[BaseException] = []

    def load() -> None:
        try:
            loaded.append(cuda_tensor_intrinsics())
        except BaseException as err:  # re-raised in the caller's thread
            failed.append(err)

    worker = threading.Thread(target=load, name="fftc-tensor-intrinsics")
    worker.start()
    worker.join()
    if failed:
        raise failed[0]
    return loaded[0]


def _extent(sch: Schedule, loop: Any) -> int:
    return int(sch.get(loop).extent)


def _stage_to_shared(sch: Schedule, block: Any, index: int, at: Any, warps: int) -> None:
    """Copy operand ``index`` of ``block`` for the current row into shared memory,
    cooperatively by all ``warps x 32`` threads."""
    copy = sch.cache_read(block, index, "shared")
    sch.compute_at(copy, at)
    loops = sch.get_loops(copy)  # the row loop, then the operand's own loops
    fused = sch.fuse(*loops[1:]) if len(loops) > 2 else loops[-1]
    _, ty, tx = sch.split(fused, factors=[None, warps, WARP])
    sch.bind(ty, "threadIdx.y")
    sch.bind(tx, "threadIdx.x")


def schedule_matmul(sch: Schedule, block: Any, dtype: str) -> None:
    """Schedule one batched matmul block (see module doc)."""
    if dtype == "float32":
        schedule_elementwise(sch, block, 256)
        return
    intrin = wmma_intrinsics(dtype)
    r, i, j, k = sch.get_loops(block)
    const = _constant_operand(sch, block)
    both = stages_both((_extent(sch, i), _extent(sch, k), _extent(sch, j)))
    i0, i1 = sch.split(i, factors=[None, TILE])
    j0, j1 = sch.split(j, factors=[None, TILE])
    k0, k1 = sch.split(k, factors=[None, TILE])
    sch.reorder(r, i0, j0, k0, i1, j1, k1)
    inner = block
    outer = sch.blockize(i1)
    warps = _extent(sch, i0) * _extent(sch, j0)
    sch.bind(r, "blockIdx.x")
    warp_loop = sch.fuse(i0, j0)
    sch.bind(warp_loop, "threadIdx.y")

    # operands: global -> shared (per row, all threads) -> fragments (per warp, per k step);
    # a constant matrix too large to stage beside the row's operand (the outer plan's
    # DFT matrix for n0 > 64) is loaded into fragments straight from global memory
    staged = (0, 1) if const is None or both else (1 - const,)
    for index in staged:
        _stage_to_shared(sch, outer, index, r, warps)
    loads = None
    if len(staged) == 1:
        assert const is not None
        global_load = global_wmma_load(dtype, is_b=const == 1)
        loads = (global_load, intrin["load_b"]) if const == 0 else (intrin["load_a"], global_load)
    tensorize_tiles(sch, outer, inner, k0, warp_loop, intrin, loads)


def _constant_operand(sch: Schedule, block: Any) -> int | None:
    """Which operand of a matmul block is the constant matrix (no row axis), if any."""
    reads = sch.get(block).reads
    ranks = [len(region.source.shape) for region in reads[:2]]
    return ranks.index(2) if ranks.count(2) == 1 else None


def tensorize_tiles(
    sch: Schedule,
    outer: Any,
    inner: Any,
    k0: Any,
    warp: Any,
    intrin: dict[str, str],
    loads: tuple[str, str] | None = None,
    acc_scope: str | None = None,
) -> None:
    """WMMA for a matmul blockized into 16x16x16 tiles (``outer`` over ``inner``, ``k0``
    the loop of k steps, ``warp`` the loop a warp's tiles hang from): fragments of both
    operands per k step (``loads``: their load intrinsics, default ``intrin``'s), the
    accumulator zeroed, updated and stored (to ``acc_scope`` if given, else to the
    output buffer) by ``intrin``'s init, compute and store intrinsics."""
    frag_a = sch.cache_read(outer, 0, "wmma.matrix_a")
    frag_b = sch.cache_read(outer, 1, "wmma.matrix_b")
    sch.compute_at(frag_a, k0)
    sch.compute_at(frag_b, k0)
    acc = sch.cache_write(outer, 0, "wmma.accumulator")
    sch.reverse_compute_at(acc, warp)
    if acc_scope is not None:
        sch.set_scope(acc, 0, acc_scope)

    init = sch.decompose_reduction(outer, k0)
    init_inner = sch.get_child_blocks(init)[0]
    load_a, load_b = loads or (intrin["load_a"], intrin["load_b"])
    sch.tensorize(sch.get_loops(frag_a)[-2], load_a)
    sch.tensorize(sch.get_loops(frag_b)[-2], load_b)
    sch.tensorize(sch.get_loops(init_inner)[-2], intrin["init"])
    sch.tensorize(sch.get_loops(inner)[-3], intrin["compute"])
    store_i, store_j = sch.get_loops(acc)[-2:]
    si0, si1 = sch.split(store_i, factors=[None, TILE])
    sj0, sj1 = sch.split(store_j, factors=[None, TILE])
    sch.reorder(si0, sj0, si1, sj1)
    sch.tensorize(si1, intrin["store"])


def schedule_elementwise(sch: Schedule, block: Any, threads: int) -> None:
    """One thread per output point (reductions serial in the thread)."""
    from fftc.schedules.cuda.threads import bind_block_threads

    bind_block_threads(sch, block, threads)
