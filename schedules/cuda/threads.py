"""The thread-binding CUDA template, for fftc kernel blocks without their own
CUDA template (the FFT stages, the fused FFT convolution, direct convolutions).

Each block's spatial loops are fused and split over ``blockIdx.x`` x
``threadIdx.x``; reduction loops stay serial inside each thread (the init
part of a reduction is split off).  This is always a valid GPU schedule: one
thread per output point, launched once per block.  It is the GPU analogue of
an unscheduled CPU loop nest: correct, not fast.  dlight's ``Fallback`` does
the same after inlining every block it can, which on fftc's FFT kernels
(butterfly expressions read several times by the next stage) grows the
expressions exponentially; here blocks were already inlined by fftc's bounded
inliner (``schedules/inline.py``) before this template runs.
"""

from __future__ import annotations

from typing import Any

from ..base import Knob, KnobSource, template

THREADS = Knob(
    "threads_per_block",
    (64, 128, 256, 512, 1024),
    256,
    "CUDA threads per thread block (one output point each)",
)

#: the kernel kinds this template schedules when no dedicated CUDA template exists
GENERIC = "generic"


def loop_kinds(sch: Any, block: Any) -> list[str]:
    """Per loop around ``block``: ``"R"`` if a reduction iterator depends on it, else ``"S"``."""
    from fftc.codegen.tvm_api import block_realize, loop_vars_used

    stmt = sch.get(block)
    realize = block_realize(sch, block)
    reduce_vars: set[Any] = set()
    for iv, value in zip(stmt.iter_vars, realize.iter_values, strict=True):
        if int(iv.iter_type) != 0:  # 0: data parallel
            reduce_vars |= loop_vars_used(value)
    return ["R" if sch.get(loop).loop_var in reduce_vars else "S" for loop in sch.get_loops(block)]


def is_bound(sch: Any, block: Any) -> bool:
    return any(sch.get(loop).thread_binding is not None for loop in sch.get_loops(block))


@template(GENERIC, "cuda", knobs=[THREADS])
def bind_threads(sch: Any, block: Any, target: Any, knobs: KnobSource) -> None:
    """One thread per output point of ``block`` (see module doc)."""
    limit = int(target.attrs.get("max_threads_per_block", 1024))
    bind_block_threads(sch, block, min(int(knobs.get(THREADS)), limit))


def bind_block_threads(sch: Any, block: Any, threads: int) -> None:
    """Spatial loops fused over ``blockIdx.x`` x ``threads`` threads; reductions serial."""
    if is_bound(sch, block):
        return
    loops = sch.get_loops(block)
    kinds = loop_kinds(sch, block)
    spatial = [loop for loop, kind in zip(loops, kinds, strict=True) if kind == "S"]
    reduction = [loop for loop, kind in zip(loops, kinds, strict=True) if kind == "R"]
    if not spatial:
        spatial = [sch.add_unit_loop(block)]
    if reduction:
        sch.reorder(*spatial, *reduction)
    fused = sch.fuse(*spatial) if len(spatial) > 1 else spatial[0]
    outer, inner = sch.split(fused, factors=[None, threads])
    sch.bind(outer, "blockIdx.x")
    sch.bind(inner, "threadIdx.x")
    if reduction:
        sch.decompose_reduction(block, reduction[0])
