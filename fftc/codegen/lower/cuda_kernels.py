"""CUDA variants of op lowerings: ``fft_conv`` and ``fft_conv2d`` on the tensor-core
Monarch kernel.

``fft_conv`` (``kernels.py``) asks :func:`lower_fft_conv_cuda` first when the
target is CUDA.  It lowers the op to the Monarch FFT convolution
(``fftc.kernels.cuda.fft_conv``: DFT matmuls on tensor cores in the ``--dtype``
precision, fp32 on CUDA cores) when the length fits the kernel (N = n1 x n2 up
to 4096; longer ones with an outer DFT stage, N = n0 x n1 x n2 up to 1048576:
``fftc.kernels.cuda.outer``), and otherwise returns None with a note saying
why, and the generic FFT kernel is used.  ``fft_conv2d`` (:func:`lower_fft_conv2d_cuda`)
runs the two-factor stages with unit twiddles (``fftc.kernels.cuda.fft_conv2d``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from fftc.codegen.lower.registry import Expr, LowerContext
from fftc.codegen.tvm_api import relax
from fftc.errors import UsageError
from fftc.ir import Node
from fftc.ir.ops.dft import DFTAttrs
from fftc.ir.ops.spectral import FFTConv2DAttrs, FFTConvAttrs

if TYPE_CHECKING:
    from fftc.kernels.cuda.monarch import MonarchPlan
    from fftc.kernels.cuda.outer import OuterPlan

#: how each compute dtype runs the DFT matmuls
_ENGINES = {
    "float16": "float16 operands on tensor cores (WMMA), float32 accumulation",
    "bfloat16": "bfloat16 operands on tensor cores (WMMA), float32 accumulation",
    "float32": "float32 on CUDA cores",
}


def monarch_refusal(node: Node, input_dtype: str, compute_dtype: str) -> str | None:
    """Why ``node`` (an ``fft_conv``) cannot use the Monarch kernel, or None."""
    from fftc.kernels.cuda.monarch import DTYPES
    from fftc.kernels.cuda.outer import fft_conv_plan

    a = node.attrs
    assert isinstance(a, FFTConvAttrs)
    if a.bands:
        return "frequency bands (the Monarch kernel computes every bin)"
    if input_dtype != "float32":
        return f"input dtype {input_dtype} (the Monarch lowering reads float32)"
    if compute_dtype not in DTYPES:
        return f"compute dtype {compute_dtype}"
    try:
        fft_conv_plan(a.length, compute_dtype)
    except UsageError as err:
        return str(err)
    return None


#: the most scratch one Monarch ``fft_conv`` call may use: its stages exchange rows through
#: global memory and every intermediate lives for the whole call (at B=64, H=768,
#: N=65536 about 212 GB), so a larger problem is cut into calls over leading rows
SCRATCH_BUDGET = 24 << 30


def chunk_size(xshape: tuple[int, ...], kshape: tuple[int, ...], row_bytes: int) -> int:
    """How many entries of ``x``'s leading axis one call takes (``xshape[0]``: all) so
    that ``row_bytes`` of scratch per row stays under :data:`SCRATCH_BUDGET` (a divisor
    of the axis when one is at least half the most that fits); all when
    the spectrum varies along that axis (it would have to be cut too) or one entry
    is already over the budget."""
    rows = math.prod(xshape[:-1])
    kdims = kshape[:-2]
    if len(xshape) < 2 or rows * row_bytes <= SCRATCH_BUDGET:
        return xshape[0]
    if len(kdims) == len(xshape) - 1 and kdims[0] != 1:
        return xshape[0]
    per_entry = rows // xshape[0] * row_bytes
    most = max(1, min(xshape[0], SCRATCH_BUDGET // per_entry))
    # equal pieces (one PrimFunc for all calls) unless that halves the piece size
    even = next(d for d in range(most, 0, -1) if xshape[0] % d == 0)
    return even if 2 * even > most else most


def _split_leading(ctx: LowerContext, x: Expr, lead: int, size: int) -> list[Expr]:
    """``x`` cut along its leading axis into pieces of ``size`` (the last may be shorter)."""
    cuts = list(range(size, lead, size))
    pieces = ctx.emit(relax.op.split(x, cuts, axis=0))
    return [ctx.emit(relax.TupleGetItem(pieces, i)) for i in range(len(cuts) + 1)]


def lower_fft_conv_cuda(
    ctx: LowerContext, node: Node, args: Sequence[Expr | None]
) -> list[Expr] | None:
    """``fft_conv`` on the Monarch kernel, or None (with a note) when it does not fit."""
    from fftc.kernels.cuda.fft_conv import emit_monarch_fft_conv
    from fftc.kernels.cuda.outer import fft_conv_plan

    a = node.attrs
    assert isinstance(a, FFTConvAttrs)
    x, spectrum = args[0], args[1]
    assert x is not None
    assert spectrum is not None
    # the dtypes of the arguments (``accumulate_in_f32`` widened half-precision inputs)
    why = monarch_refusal(node, str(x.ty.dtype), ctx.compute_dtype)
    if why is None and str(spectrum.ty.dtype) != "float32":
        why = f"spectrum dtype {spectrum.ty.dtype}"
    if why is not None:
        ctx.notes.append(f"{node.label}: not on the tensor-core Monarch kernel: {why}")
        return None
    plan = fft_conv_plan(a.length, ctx.compute_dtype)
    xshape = tuple(int(d) for d in x.ty.shape)
    kshape = tuple(int(d) for d in spectrum.ty.shape)
    size = chunk_size(xshape, kshape, plan.stage_count * plan.n * 8)
    parts = [x] if size >= xshape[0] else _split_leading(ctx, x, xshape[0], size)
    ys = [
        emit_monarch_fft_conv(
            ctx.bb,
            part,
            spectrum,
            plan=plan,
            out_length=a.out_length,
            stride=a.stride,
            dtype=ctx.compute_dtype,
        )
        for part in parts
    ]
    y = ys[0] if len(ys) == 1 else ctx.emit(relax.op.concat(ys, axis=0))
    if len(ys) > 1:
        ctx.notes.append(
            f"{node.label}: rows in {len(ys)} calls of {size} x {math.prod(xshape[1:-1])}: "
            f"each call's stages stay under {SCRATCH_BUDGET >> 30} GiB of scratch"
        )
    ctx.monarch_ops.append(node.label)
    length = ctx.input_type(node, 0).shape[-1]
    padded = f"input zero padded {length} -> {a.length}, " if length < a.length else ""
    ctx.notes.append(
        f"{node.label}: Monarch FFT convolution {plan.describe()}, DFT matmuls in "
        f"{_ENGINES[ctx.compute_dtype]}; {padded}full spectrum from the one-sided one by "
        f"Hermitian symmetry; {plan.stage_count} stages {_kernels_text(plan)}"
    )
    return [y]


def _kernels_text(plan: MonarchPlan | OuterPlan) -> str:
    """How the plan's stages become CUDA kernels (the schedule decides; see its line)."""
    from fftc.kernels.cuda import outer

    if not isinstance(plan, outer.OuterPlan):
        return (
            "fused into one CUDA kernel by the schedule (intermediates in shared memory; "
            "one kernel per stage if the [schedule] line says not fused)"
        )
    return (
        "in three CUDA kernels by the schedule (outer forward, inner fused per outer bin, "
        "outer inverse with the output; one kernel per stage if the [schedule] line says "
        "not fused)"
    )


def _monarch_plan(
    ctx: LowerContext, node: Node, dtypes: Sequence[str], make_plan: Callable[[str], MonarchPlan]
) -> MonarchPlan | None:
    """``make_plan(compute dtype)`` when the op's argument ``dtypes`` are float32 and the
    compute dtype is the kernel's, else None with the ``[lower]`` note saying why."""
    from fftc.kernels.cuda.monarch import DTYPES

    why = None
    if any(d != "float32" for d in dtypes):
        why = f"argument dtypes {'/'.join(dtypes)} (the Monarch lowering reads float32)"
    elif ctx.compute_dtype not in DTYPES:
        why = f"compute dtype {ctx.compute_dtype}"
    else:
        try:
            return make_plan(ctx.compute_dtype)
        except UsageError as err:
            why = str(err)
    ctx.notes.append(f"{node.label}: not on the tensor-core Monarch kernel: {why}")
    return None


def lower_fft_conv2d_cuda(
    ctx: LowerContext, node: Node, args: Sequence[Expr | None]
) -> list[Expr] | None:
    """``fft_conv2d`` on the Monarch kernel's stages with the twiddles set to one (a 2-D
    DFT is a twiddle-free Monarch FFT: ``fftc.kernels.cuda.fft_conv2d``), or None."""
    from fftc.kernels.cuda.fft_conv2d import emit_monarch_fft_conv2d, image_plan

    a = node.attrs
    assert isinstance(a, FFTConv2DAttrs)
    x, spectrum = args[0], args[1]
    assert x is not None
    assert spectrum is not None
    dtypes = (str(x.ty.dtype), str(spectrum.ty.dtype))
    plan = _monarch_plan(ctx, node, dtypes, lambda dtype: image_plan(a.lengths, dtype))
    if plan is None:
        return None
    y = emit_monarch_fft_conv2d(
        ctx.bb, x, spectrum, plan=plan, out_shape=a.out_shape, strides=a.strides, axis=a.axis,
        dtype=ctx.compute_dtype,
    )  # fmt: skip
    ctx.monarch_ops.append(node.label)
    nh, nw = a.lengths
    ctx.notes.append(
        f"{node.label}: Monarch 2-D FFT convolution {nh}x{nw} (a DFT-matmul stage per "
        f"axis, no twiddles), DFT matmuls in {_ENGINES[ctx.compute_dtype]}; full spectrum "
        f"from the one-sided one by Hermitian symmetry; {plan.stage_count} stages "
        f"{_kernels_text(plan)}"
    )
    return [y]


def lower_dft_cuda(ctx: LowerContext, node: Node, args: Sequence[Expr | None]) -> list[Expr] | None:
    """``dft`` on the Monarch kernel's forward stages (``fftc.kernels.cuda.dft``: two DFT
    matmuls and the twiddles between them), or None with a note."""
    from fftc.kernels.cuda.dft import dft_plan, emit_monarch_dft

    a = node.attrs
    assert isinstance(a, DFTAttrs)
    x = args[0]
    assert x is not None
    plan = _monarch_plan(ctx, node, (str(x.ty.dtype),), lambda dtype: dft_plan(a, dtype))
    if plan is None:
        return None
    y = emit_monarch_dft(ctx.bb, x, a, plan, ctx.compute_dtype)
    ctx.monarch_ops.append(node.label)
    kind = ("irfft" if a.onesided else "ifft") if a.inverse else ("rfft" if a.onesided else "fft")
    ctx.notes.append(
        f"{node.label}: Monarch {kind} n={a.length} = {plan.n1} x {plan.n2} (two DFT-matmul "
        f"stages and twiddles), DFT matmuls in {_ENGINES[ctx.compute_dtype]}"
    )
    return [y]
