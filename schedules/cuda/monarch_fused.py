"""The fused Monarch template: one CUDA kernel per two-factor Monarch ``fft_conv``,
three per outer-plan one.

This template schedules a whole PrimFunc, not one block: given the output block
of a function whose other blocks are exactly the Monarch stages of a
:class:`~fftc.kernels.cuda.monarch.MonarchPlan` (``x1, c1, t1, c2, p, c3, t3,
c4``, tagged ``monarch.matmul`` / ``monarch.stage``; any epilogue already inlined
into the output block), it fuses every stage into one kernel
(:mod:`fftc.kernels.cuda.fused`: one thread block per row, intermediates in
shared memory, WMMA for fp16/bf16, loops over the block's threads for fp32).
The twelve stages of an :class:`~fftc.kernels.cuda.outer.OuterPlan` (N > 4096:
``x0, a0, t0, ..., c4, t4, y0``) become three such kernels, outer forward,
inner, outer inverse with the output (:mod:`fftc.kernels.cuda.fused_outer`;
four when the output cannot join the last one), each within the same
shared-memory limits.

Knobs:

* ``fused`` (default True): False keeps the staged schedule (one kernel per
  stage, ``schedules/cuda/monarch.py``);
* ``warps`` (default 8: 256 threads): warps per thread block, reduced for
  fp16/bf16 so every warp owns whole 16x16 tiles of every matmul (1 warp at
  N = 256, 4 at 1024, 8 at 4096).  8 warps give each warp 2-4 tiles per matmul
  at N = 4096, and three or four such blocks (<= 48 KiB of shared memory, 48-80
  registers per thread from ptxas) fit an H100 SM; 16 would leave each warp one tile of the last
  matmul with nothing to overlap;
* ``tables`` (default ``global``): fp16/bf16 fragments of the DFT matrices are
  loaded from global memory (L1/L2-resident, shared by every block); ``shared``
  stages each matrix into shared memory per row first (more shared memory:
  N = 2048 would need 16 + 40 KiB, over the 48 KiB a kernel without the opt-in
  may use, and is refused).

``fftc.codegen.cuda_schedule`` calls :func:`apply_fused` first for such a
function; when it raises :class:`FusionRefused` (or any TVM error) the function
gets the staged templates and the reason goes into the ``[schedule]`` line.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from fftc.kernels.cuda.fused import (
    DFT_STAGES,
    STAGES,
    FusionRefused,
    schedule_fused,
    shared_memory_bytes,
)
from fftc.kernels.cuda.fused_outer import OUTER_STAGES, schedule_fused_outer
from fftc.kernels.cuda.monarch import MATMUL_TAG, STAGE_TAG

from ..base import Knob, KnobSource, template

FUSED_TAG = "monarch.fused"  # = fftc.codegen.cuda_schedule.FUSED_TAG

FUSED = Knob(
    "fused",
    (True, False),
    True,
    "Monarch fft_conv as one CUDA kernel (N <= 4096; three for the outer plan, N > 4096; "
    "stages in shared memory); False: one kernel per stage",
)
WARPS = Knob(
    "warps",
    (4, 8, 16),
    8,
    "warps per thread block of the fused Monarch kernel (fp16/bf16: reduced so "
    "each warp owns whole 16x16 tiles)",
)

TABLES = Knob(
    "tables",
    ("global", "shared"),
    "global",
    "where the fused kernel's fp16/bf16 matmuls load DFT-matrix fragments from: global "
    "memory (L1/L2) or a copy the block stages in shared memory per row",
)

#: static shared memory a block may use without the opt-in (TVM's ``shared`` scope), when
#: the target does not say (``max_shared_memory_per_block``: fftc's CUDA targets say 48 KiB)
STATIC_LIMIT = 48 * 1024
#: a test hook: the shared-memory limit per block instead of the arch's
_LIMIT_OVERRIDE: ContextVar[int | None] = ContextVar("fftc_fused_shared_limit", default=None)


@contextmanager
def shared_limit_override(limit: int) -> Iterator[None]:
    """Within the block, refuse fused kernels above ``limit`` bytes of shared memory."""
    token = _LIMIT_OVERRIDE.set(limit)
    try:
        yield
    finally:
        _LIMIT_OVERRIDE.reset(token)


def shared_limit(target: Any) -> int:
    """Shared memory one block of ``target`` may use: the arch's opt-in limit (TVM's
    CUDA runtime sets ``CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES`` for kernels
    asking >= 48 KiB of dynamic shared memory), 227 KiB on sm_90, 163 KiB on sm_80."""
    from fftc.codegen.cuda import arch_info

    override = _LIMIT_OVERRIDE.get()
    if override is not None:
        return override
    arch = str(target.attrs.get("arch", ""))
    try:
        return arch_info(arch).max_shared_bytes
    except Exception:
        return STATIC_LIMIT


def monarch_output_block(sch: Any, blocks: list[Any]) -> Any | None:
    """The output block if ``blocks`` are exactly a two-factor Monarch function's."""
    return _output_block(sch, blocks, STAGES)


def outer_output_block(sch: Any, blocks: list[Any]) -> Any | None:
    """The output block if ``blocks`` are exactly an outer-plan Monarch function's."""
    return _output_block(sch, blocks, OUTER_STAGES)


def dft_output_block(sch: Any, blocks: list[Any]) -> Any | None:
    """The output block if ``blocks`` are exactly a Monarch DFT function's."""
    return _output_block(sch, blocks, DFT_STAGES)


def fusable_output_block(sch: Any, blocks: list[Any]) -> Any | None:
    """The output block of a two-factor, outer-plan or DFT Monarch function, else None."""
    return (
        monarch_output_block(sch, blocks)
        or outer_output_block(sch, blocks)
        or dft_output_block(sch, blocks)
    )


def _output_block(sch: Any, blocks: list[Any], stages: tuple[str, ...]) -> Any | None:
    from fftc.codegen.schedule import block_kernel

    names = {str(sch.get(b).name_hint): b for b in blocks}
    if not set(stages) <= set(names) or len(names) != len(stages) + 1:
        return None
    if any(block_kernel(sch, names[n]) not in (MATMUL_TAG, STAGE_TAG) for n in stages):
        return None
    (out,) = (b for n, b in names.items() if n not in stages)
    return out if block_kernel(sch, out) == STAGE_TAG else None


def operand_dtype(sch: Any) -> str:
    """The compute dtype: that of the first matmul's operands."""
    return str(sch.get(sch.get_sblock("c1")).reads[1].source.dtype)


@template(FUSED_TAG, "cuda", knobs=[FUSED, WARPS, TABLES])
def monarch_fused(sch: Any, block: Any, target: Any, knobs: KnobSource) -> None:
    """Fuse the function of output block ``block`` into one kernel, or three for the
    outer plan (see module doc)."""
    apply_fused(sch, block, target, knobs)


def apply_fused(sch: Any, block: Any, target: Any, knobs: KnobSource) -> str:
    """:func:`monarch_fused`; returns a summary for the schedule report (``one kernel
    (8 warps, 24576 B shared)``, ``3 kernels (8/8/8 warps, 8192/12288/32768 B shared)``:
    per kernel in launch order).  Raises :class:`FusionRefused` when the ``fused``
    knob is off or a kernel would use more shared memory than one block of ``target``
    may."""
    if not knobs.get(FUSED):
        raise FusionRefused("knob fused=False")
    dtype = operand_dtype(sch)
    out_name = str(sch.get(block).name_hint)
    warps, tables = int(knobs.get(WARPS)), str(knobs.get(TABLES))
    blocks = list(sch.get_child_blocks(sch.get_sblock("root")))
    if outer_output_block(sch, blocks):
        return _apply_outer(sch, out_name, dtype, target, warps, tables)
    stages = DFT_STAGES if dft_output_block(sch, blocks) else STAGES
    used = schedule_fused(sch, out_name, dtype, warps, tables, stages)
    ((static, dynamic),) = _shared_use(sch.mod, target, 1).values()
    return f"one kernel ({used} warps, {_check_shared(static, dynamic, target, '')} B shared)"


#: the outer plan's kernels, in launch order (as the refusals name them)
OUTER_KERNELS = ("(outer forward)", "(inner)", "(outer inverse)", "(output)")


def _apply_outer(sch: Any, out_name: str, dtype: str, target: Any, warps: int, tables: str) -> str:
    """The outer plan as three kernels (four with the output apart)."""
    used, apart = schedule_fused_outer(sch, out_name, dtype, warps, tables)
    sizes = _shared_use(sch.mod, target, 3 if apart is None else 4)
    # kernels in launch order: main_kernel, main_kernel_1, ...
    names = sorted(sizes, key=lambda name: (len(name), name))
    totals = [
        _check_shared(*sizes[name], target, f" {label}")
        for name, label in zip(names, OUTER_KERNELS, strict=False)
    ]
    text = f"{len(sizes)} kernels ({'/'.join(map(str, used))} warps, "
    text += f"{'/'.join(map(str, totals))} B shared"
    return text + (")" if apart is None else f"; the output in its own kernel: {apart})")


def _check_shared(static: int, dynamic: int, target: Any, kernel: str) -> int:
    """``static + dynamic`` bytes of shared memory of one kernel (``kernel``: its name,
    with a leading space, for the reason), or :class:`FusionRefused` when over a limit."""
    total, limit = static + dynamic, shared_limit(target)
    static_limit = int(target.attrs.get("max_shared_memory_per_block", STATIC_LIMIT))
    if static > static_limit:
        raise FusionRefused(
            f"the fused kernel{kernel} needs {static} bytes of static shared memory "
            f"(limit {static_limit})"
        )
    if total > limit:
        raise FusionRefused(
            f"the fused kernel{kernel} needs {total} bytes of shared memory per block "
            f"(limit {limit})"
        )
    if total > STATIC_LIMIT and dynamic < STATIC_LIMIT:
        raise FusionRefused(
            f"the fused kernel{kernel} needs {static} + {dynamic} bytes of static + dynamic "
            f"shared memory: over {STATIC_LIMIT} in all, and TVM opts in to more only for "
            f">= {STATIC_LIMIT} bytes of dynamic shared memory"
        )
    return total


def _shared_use(mod: Any, target: Any, kernels: int) -> dict[str, tuple[int, int]]:
    """(static, dynamic) shared bytes of each of the ``kernels`` kernels of ``mod``."""
    sizes = shared_memory_bytes(mod, target)
    if len(sizes) != kernels:
        raise FusionRefused(f"the fused schedule made {len(sizes)} kernels, not {kernels}")
    return sizes
