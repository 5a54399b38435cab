"""The staged WMMA schedule's limits per thread block (``tensorcore.py``), which decide
whether a Monarch plan's matmul stages fit the tensor cores in fp16/bf16.

Each matmul stage runs one thread block per row and one warp per 16x16 output tile,
staging the row's operands in shared memory; a constant matrix too large to stage beside
the row's operand (the outer plan's DFT matrix for n0 > 64) is read from global memory
where a plan allows it (:func:`matmul_refusal`'s ``global_constants``).
"""

from __future__ import annotations

from collections.abc import Mapping

#: tensor-core tile size (WMMA 16x16x16)
TILE = 16
#: static shared memory of one thread block (48 KiB, ``fftc.codegen.cuda``) and warps
#: per block (1024 threads): the WMMA schedule's limits (``tensorcore.py``)
SHARED_BYTES_LIMIT = 48 * 1024
MAX_WARPS = 32


def matmul_refusal(
    shapes: Mapping[str, tuple[int, int, int]],
    plan_text: str,
    dtype: str,
    global_constants: frozenset[str] = frozenset(),
) -> str | None:
    """The first of a plan's matmul stages ``shapes`` over the WMMA schedule's limits in
    ``dtype`` (fp32: none), as a reason naming the plan (``plan_text``), or None.
    ``global_constants``: stages whose constant (left) matrix the schedule may read
    from global memory when both operands do not fit (the outer plan's ``a0``, ``y0``)."""
    if dtype == "float32":
        return None
    for name, shape in shapes.items():
        over = tile_limits(shape, constant_in_shared=name not in global_constants)
        if over:
            return (
                f"Monarch FFT length {plan_text}: its matmul stage {name} would need "
                f"{' and '.join(over)} per thread block"
            )
    return None


def shared_bytes(shape: tuple[int, int, int], constant_in_shared: bool = True) -> int:
    """Shared memory of one thread block of an ``(m, k, n)`` fp16/bf16 matmul stage:
    both operands of its row (2 bytes each), or only the per-row right one (``k x n``)
    when the constant left matrix is read from global memory."""
    m, k, n = shape
    return (m * k + k * n) * 2 if constant_in_shared else k * n * 2


def stages_both(shape: tuple[int, int, int]) -> bool:
    """Whether the staged WMMA schedule stages both operands of an ``(m, k, n)`` matmul in
    shared memory (they fit), else only the per-row one (:func:`matmul_refusal`)."""
    return shared_bytes(shape) <= SHARED_BYTES_LIMIT


def tile_limits(shape: tuple[int, int, int], constant_in_shared: bool = True) -> list[str]:
    """What an ``(m, k, n)`` fp16/bf16 matmul stage exceeds of the WMMA schedule's
    limits per thread block (empty when it fits); ``constant_in_shared=False``: the
    constant left matrix may stay in global memory (:func:`matmul_refusal`)."""
    m, _, n = shape
    shared = shared_bytes(shape, constant_in_shared or stages_both(shape))
    warps = (m // TILE) * (n // TILE)
    over = []
    if shared > SHARED_BYTES_LIMIT:
        over.append(f"{shared} bytes of shared memory (limit {SHARED_BYTES_LIMIT})")
    if warps > MAX_WARPS:
        over.append(f"{warps} warps (limit {MAX_WARPS})")
    return over
