"""CUDA variants of op lowerings: ``fft_conv`` on the tensor-core Monarch kernel.

``fft_conv`` (``kernels.py``) asks :func:`lower_fft_conv_cuda` first when the
target is CUDA.  It lowers the op to the Monarch FFT convolution
(``fftc.kernels.cuda.fft_conv``: DFT matmuls on tensor cores in the ``--dtype``
precision, fp32 on CUDA cores) when the length fits the kernel (N = n1 x n2 up
to 4096; longer ones with an outer DFT stage, N = n0 x n1 x n2 up to 262144:
``fftc.kernels.cuda.outer``), and otherwise returns None with a note saying
why, and the generic FFT kernel is used.
"""

from __future__ import annotations

from collections.abc import Sequence

from fftc.codegen.lower.registry import Expr, LowerContext
from fftc.errors import UsageError
from fftc.ir import Node
from fftc.ir.ops.spectral import FFTConvAttrs

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
    y = emit_monarch_fft_conv(ctx.bb, x, spectrum, plan=plan, out_length=a.out_length,
                              stride=a.stride, dtype=ctx.compute_dtype)  # fmt: skip
    ctx.monarch_ops.append(node.label)
    size = ctx.input_type(node, 0).shape[-1]
    padded = f"input zero padded {size} -> {a.length}, " if size < a.length else ""
    ctx.notes.append(
        f"{node.label}: Monarch FFT convolution {plan.describe()}, DFT matmuls in "
        f"{_ENGINES[ctx.compute_dtype]}; {padded}full spectrum from the one-sided one by "
        f"Hermitian symmetry; {plan.stage_count} stages (one CUDA kernel each)"
    )
    return [y]
